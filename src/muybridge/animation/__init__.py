"""Animation: latent paths, semantic directions, frame rendering and export (GIF, MP4, WebP, sprites).

The CLI and the studio describe an :class:`~muybridge.animation.modes.Animation` and its
:class:`~muybridge.animation.options.AnimationOptions`, then call ``animate_to_file``; scripts may also call
:func:`render_animation` with an :class:`AnimationSpec` and :func:`export_frames` directly.
"""

from __future__ import annotations

from muybridge.lazy import lazy_exports

#: Public name → the module that defines it; imported on first use, so the light modules (``options``) can be
#: imported without torch.
_HOMES = {
    "AnimationSpec": "muybridge.animation.render",
    "Character": "muybridge.characters",
    "Direction": "muybridge.animation.directions",
    "LatentPath": "muybridge.animation.paths",
    "character": "muybridge.characters",
    "character_from_latent": "muybridge.characters",
    "compute_directions": "muybridge.animation.directions",
    "export_frames": "muybridge.animation.export",
    "frames_for": "muybridge.animation.render",
    "loop": "muybridge.animation.paths",
    "morph": "muybridge.animation.paths",
    "motion": "muybridge.animation.paths",
    "name_direction": "muybridge.animation.directions",
    "output_format": "muybridge.animation.export",
    "parse_key": "muybridge.characters",
    "read_timeline": "muybridge.animation.timeline",
    "render_animation": "muybridge.animation.render",
    "resolve_direction": "muybridge.animation.directions",
    "timeline_path": "muybridge.animation.timeline",
    "walk": "muybridge.animation.paths",
}
__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)

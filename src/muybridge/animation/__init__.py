"""Animation: latent paths, semantic directions, frame rendering and export (GIF, MP4, WebP, sprites).

The studio and scripts call :func:`render_animation` with an :class:`AnimationSpec`, then
:func:`export_frames`; the ``muybridge animate`` verbs are thin wrappers around the same two calls.
"""

from muybridge.animation.directions import Direction, compute_directions, name_direction, resolve_direction
from muybridge.animation.export import export_frames, output_format
from muybridge.animation.paths import (
    Character,
    LatentPath,
    character,
    character_from_latent,
    loop,
    morph,
    motion,
    parse_key,
    walk,
)
from muybridge.animation.render import AnimationSpec, frames_for, render_animation
from muybridge.animation.timeline import read_timeline, timeline_path

__all__ = [
    "AnimationSpec",
    "Character",
    "Direction",
    "LatentPath",
    "character",
    "character_from_latent",
    "compute_directions",
    "export_frames",
    "frames_for",
    "loop",
    "morph",
    "motion",
    "name_direction",
    "output_format",
    "parse_key",
    "read_timeline",
    "render_animation",
    "resolve_direction",
    "timeline_path",
    "walk",
]

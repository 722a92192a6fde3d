"""Photo → latent ("animate your own pet"): find the face, encode it with E, refine by optimisation, tune the
decoder around it.

- :func:`invert_image` inverts one photo (path, bytes or array) and returns an :class:`InversionResult`.
- :func:`invert_photos` inverts several photo files in one batch.
- :func:`write_latent_file` / :func:`read_latents` store latents tied to their model and read them back as
  animation :class:`~muybridge.characters.Character` values; :func:`generator_for_latents` applies a file's
  tuned decoder.
- :mod:`muybridge.inversion.fidelity` (torch-free) holds each stage's settings and the ``--fidelity`` presets.
"""

from __future__ import annotations

from muybridge.lazy import lazy_exports

#: Public name → the module that defines it; imported on first use, so the CLI can read the torch-free
#: ``fidelity`` module without loading torch.
_HOMES = {
    "InversionResult": "muybridge.inversion.invert",
    "invert_crops": "muybridge.inversion.invert",
    "invert_image": "muybridge.inversion.invert",
    "invert_photos": "muybridge.inversion.invert",
    "generator_for_latents": "muybridge.inversion.latent_file",
    "model_identity": "muybridge.inversion.latent_file",
    "read_latent_file": "muybridge.inversion.latent_file",
    "read_latents": "muybridge.inversion.latent_file",
    "write_latent_file": "muybridge.inversion.latent_file",
    "RefineSettings": "muybridge.inversion.fidelity",
    "TuneSettings": "muybridge.inversion.fidelity",
    "refine_latents": "muybridge.inversion.refine",
    "tune_decoder": "muybridge.inversion.tune",
}
__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)

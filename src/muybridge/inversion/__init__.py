"""Photo → latent ("animate your own pet"): find the face, encode it with E, refine by optimisation.

- :func:`invert_image` inverts one photo (path, bytes or array) and returns an :class:`InversionResult`.
- :func:`invert_photos` inverts several photo files in one batch.
- :func:`write_latent_file` / :func:`read_latents` store latents tied to their model and read them back as
  animation :class:`~muybridge.animation.paths.Character` values.
"""

from muybridge.inversion.invert import InversionResult, invert_crops, invert_image, invert_photos
from muybridge.inversion.latent_file import model_identity, read_latent_file, read_latents, write_latent_file
from muybridge.inversion.refine import RefineSettings, refine_latents

__all__ = ["InversionResult", "RefineSettings", "invert_crops", "invert_image", "invert_photos",
           "model_identity", "read_latent_file", "read_latents", "refine_latents", "write_latent_file"]

"""Photo → latent: crop the face, encode it with the model's encoder E, refine the latent by optimisation, then
(optionally) tune the decoder around it (pivotal tuning, :mod:`muybridge.inversion.tune`).

:func:`invert_image` does one photo (path, bytes or array: what the studio needs); :func:`invert_photos`
crops every photo first (so a bad one fails before any optimisation) and refines them together. How far each
goes is a :data:`FIDELITIES` preset: ``fast`` (encoder + latent refinement), ``balanced`` (the default: + a
tuned decoder, about 20 s per 64-px photo on one core) and ``exact`` (longer on both).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from muybridge.data.decode import ImageSource, UnusableImageError
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator, from_uint8, to_uint8
from muybridge.inversion.fidelity import RefineSettings, TuneSettings
from muybridge.inversion.photo import Box, face_crop, load_photo
from muybridge.inversion.quality import psnr
from muybridge.inversion.refine import refine_latents
from muybridge.inversion.tune import Delta, tune_decoder, tuned_generator
from muybridge.progress import Progress


@dataclass
class InversionResult:
    """One inverted photo: its crop, both latents, each stage's reconstruction and the losses. ``delta`` is the
    tuned decoder (shared by every photo inverted together), None without tuning."""

    class_name: str
    crop: np.ndarray  # (R, R, 3) uint8: what was inverted
    encoder_latent: torch.Tensor  # (D,): E's one-pass guess
    latent: torch.Tensor  # (D,): after refinement
    encoder_reconstruction: np.ndarray  # (R, R, 3) uint8
    refined_reconstruction: np.ndarray  # (R, R, 3) uint8: the refined latent through the base decoder
    reconstruction: np.ndarray  # (R, R, 3) uint8: the final one (tuned decoder where there is one)
    losses: dict[str, float] = field(default_factory=dict)
    source: str | None = None
    box: Box | None = None
    detected: bool = False
    delta: Delta | None = None

    def side_by_side(self) -> np.ndarray:
        """``(R, kR, 3)``: the crop, then each stage's reconstruction (encoder, refined, tuned)."""
        stages = [self.crop, self.encoder_reconstruction, self.refined_reconstruction]
        return np.concatenate(stages + ([self.reconstruction] if self.delta is not None else []), axis=1)

    def stage_names(self) -> list[str]:
        return ["photo", "encoder", "refined"] + (["tuned"] if self.delta is not None else [])


def default_class(generator: Generator) -> str:
    """``cat`` when the model knows it (the cascade finds cat faces), else the model's first class."""
    return "cat" if "cat" in generator.classes else generator.classes[0]


def prepare_crop(generator: Generator, source: ImageSource | np.ndarray, class_name: str, detect: bool = True,
                 name: str | None = None, crop: Box | None = None) -> tuple[np.ndarray, Box, bool]:
    """Decode and crop one photo to the model's resolution (at ``crop`` when given); errors name the photo."""
    label = name or (str(source) if isinstance(source, str | os.PathLike) else "photo")
    try:
        photo = load_photo(source, min_side=max(1, generator.resolution // 2))
    except UnusableImageError as exc:
        raise MuybridgeError(f"{label}: {exc.reason}") from None
    return face_crop(photo, generator.resolution, class_name, detect, label, crop)


def invert_crops(generator: Generator, crops: np.ndarray, class_names: Sequence[str],
                 settings: RefineSettings | None = None, progress: Progress | None = None,
                 start: torch.Tensor | None = None, tune: TuneSettings | None = None) -> list[InversionResult]:
    """Invert ``(N, R, R, 3)`` uint8 crops already framed like the training photos.

    Refinement starts from the encoder's latents, or from ``start`` ``(N, D)`` when given (reported as the
    ``encoder_*`` fields). With ``tune``, the decoder is then tuned around the refined latents (one delta for
    all N photos).
    """
    if crops.ndim != 4 or crops.shape[1:] != (generator.resolution, generator.resolution, 3):
        raise MuybridgeError(f"crops must be (N, {generator.resolution}, {generator.resolution}, 3) uint8, "
                             f"got {crops.shape}")
    weights = generator.class_weights(list(class_names))
    targets = from_uint8(crops)
    encoded = generator.encode(crops) if start is None else start.float()
    refined, terms = refine_latents(generator, targets, weights, encoded, settings, progress)
    encoder_images = to_uint8(generator.decode(encoded, weights))
    refined_images = to_uint8(generator.decode(refined, weights))
    delta = tune_decoder(generator, targets, weights, refined, tune, progress) if tune is not None else None
    final_images = (to_uint8(tuned_generator(generator, delta).decode(refined, weights)) if delta is not None
                    else refined_images)
    encoder_psnr, refined_psnr = psnr(crops, encoder_images), psnr(crops, refined_images)
    final_psnr = psnr(crops, final_images)
    encoder_l1 = (targets - from_uint8(encoder_images)).abs().flatten(1).mean(1)
    results = []
    for i, name in enumerate(class_names):
        losses = {"encoder_l1": float(encoder_l1[i]), "encoder_psnr": float(encoder_psnr[i]),
                  "refined_l1": float(terms["pixel_l1"][i]), "refined_psnr": float(refined_psnr[i]),
                  "perceptual": float(terms["perceptual"][i]), "norm_penalty": float(terms["norm"][i])}
        if delta is not None:
            losses["tuned_psnr"] = float(final_psnr[i])
        results.append(InversionResult(name, crops[i], encoded[i].clone(), refined[i].clone(), encoder_images[i],
                                       refined_images[i], final_images[i],
                                       {k: round(v, 5) for k, v in losses.items()}, delta=delta))
    return results


def invert_photos(generator: Generator, sources: Sequence[str | os.PathLike[str]], class_name: str | None = None,
                  settings: RefineSettings | None = None, detect: bool = True,
                  progress: Progress | None = None, tune: TuneSettings | None = None,
                  crop: Box | None = None) -> list[InversionResult]:
    """Invert photo files: every photo is cropped first (at ``crop``, for a single photo), then all are refined
    (and tuned) in one batch."""
    if not sources:
        raise MuybridgeError("no photos given")
    if crop is not None and len(sources) > 1:
        raise MuybridgeError(f"--crop frames one photo, and {len(sources)} were given: invert them one at a time")
    chosen = class_name or default_class(generator)
    generator.class_index(chosen)
    prepared = [prepare_crop(generator, source, chosen, detect, str(source), crop) for source in sources]
    crops = np.stack([crop for crop, _, _ in prepared])
    results = invert_crops(generator, crops, [chosen] * len(crops), settings, progress, tune=tune)
    for result, source, (_, box, detected) in zip(results, sources, prepared, strict=True):
        result.source, result.box, result.detected = str(Path(source)), box, detected
    return results


def invert_image(generator: Generator, image: ImageSource | np.ndarray, class_name: str | None = None,
                 steps: int = 200, detect: bool = True, progress: Progress | None = None,
                 lr: float | None = None, tune: TuneSettings | None = None, crop: Box | None = None) -> InversionResult:
    """One photo (a path, its bytes, or an ``(H, W, 3)`` uint8 array) → its latent in ``generator``'s space.

    Raises :class:`~muybridge.errors.MuybridgeError` with a one-line reason for a non-image, a photo that is
    too small, or (class cat with ``detect``) a photo without a detectable face.
    """
    chosen = class_name or default_class(generator)
    generator.class_index(chosen)
    settings = RefineSettings(steps=steps) if lr is None else RefineSettings(steps=steps, lr=lr)
    pixels, box, detected = prepare_crop(generator, image, chosen, detect, crop=crop)
    result = invert_crops(generator, pixels[None], [chosen], settings, progress, tune=tune)[0]
    result.source = str(image) if isinstance(image, str | os.PathLike) else None
    result.box, result.detected = box, detected
    return result

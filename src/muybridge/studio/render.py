"""What the studio renders: grids of generated images, animations from a request, and slider previews.

Slider offsets move every character along semantic directions (``{"sefa:0": 1.5, "nod": -2}``): the
offset is added to the latents of whatever path the mode builds, so it works for every mode alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from muybridge.animation.directions import compute_directions, named_directions, resolve_direction
from muybridge.animation.export import Rendered
from muybridge.animation.modes import Animation, LatentSource, animate_to_file
from muybridge.animation.options import DEFAULT_SECONDS, AnimationOptions
from muybridge.animation.paths import LatentPath
from muybridge.animation.timeline import parse_timeline
from muybridge.characters import character
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator, to_uint8
from muybridge.keys import character_key
from muybridge.pictures import resample_filter, resize_images
from muybridge.progress import Progress

FORMAT_SUFFIXES = {"gif": ".gif", "mp4": ".mp4", "webp": ".webp", "sprites": ".png"}
MEDIA_TYPES = {".gif": "image/gif", ".mp4": "video/mp4", ".webp": "image/webp", ".png": "image/png",
               ".json": "application/json", ".jpg": "image/jpeg", ".zip": "application/zip"}
PREVIEW_DIRECTIONS = 6


@dataclass(frozen=True)
class OffsetPath:
    """A path moved by a constant latent offset (the direction sliders)."""

    path: LatentPath
    offset: torch.Tensor

    @property
    def closed(self) -> bool:
        return self.path.closed

    def sample(self, times: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        latents, weights = self.path.sample(times)
        return latents + self.offset, weights


def direction_offset(generator: Generator, offsets: dict[str, float] | None) -> torch.Tensor:
    """The sum of ``amount * direction`` over the slider values (directions by name or ``method:index``)."""
    total = torch.zeros(generator.latent_dim)
    for spec, amount in (offsets or {}).items():
        if not math.isfinite(amount) or abs(amount) > 100:
            raise MuybridgeError(f"direction offset {spec}={amount:g}: must be a number within ±100")
        if amount:
            total += float(amount) * torch.from_numpy(resolve_direction(generator, spec).vector)
    return total


def list_directions(generator: Generator, top: int = PREVIEW_DIRECTIONS) -> list[dict[str, str]]:
    """Named directions first, then the strongest SeFa ones: what the sliders offer."""
    named = [{"id": name, "label": name} for name in sorted(named_directions(generator.path))]
    count = min(top, generator.latent_dim)
    computed = [{"id": d.label, "label": f"direction {d.index + 1}"}
                for d in compute_directions(generator, "sefa", count)]
    return named + computed


def timeline_keyframes(characters: list[str], duration: float, easing: str) -> list[dict[str, Any]]:
    """Characters spread evenly over ``duration``: the UI's simple timeline."""
    if len(characters) < 2:
        raise MuybridgeError("a timeline needs at least two characters (or explicit keyframes)")
    keys = []
    for i, text in enumerate(characters):
        class_spec, seed = character_key(text)
        time = round(duration * i / (len(characters) - 1), 4)
        keys.append({"time": time, "class": class_spec, "seed": seed, "easing": easing})
    return keys


def studio_animation(mode: str, characters: list[str], keyframes: list[dict[str, Any]] | None,
                     options: AnimationOptions, pet: Path | None = None) -> Animation:
    """The studio's request as an :class:`Animation`. A pet's latent takes the place of the first character;
    a timeline without keyframes spreads the characters evenly over the duration."""
    if not characters and mode != "timeline":
        raise MuybridgeError("name at least one character, e.g. cat:7")
    if mode == "timeline":
        if pet is not None:
            raise MuybridgeError("your pet works with loop, walk, morph and motion, not timeline")
        duration = options.duration if options.duration is not None else DEFAULT_SECONDS
        data = keyframes or timeline_keyframes(characters, duration, options.easing)
        timeline = parse_timeline({"keyframes": data, "interpolation": options.interpolation}, Path("keyframes"))
        return Animation(mode, timeline=timeline)
    if pet is None:
        return Animation(mode, tuple(characters))
    return Animation(mode, tuple(characters[1:]), source=LatentSource(pet))


def render_animation_file(generator: Generator, animation: Animation, options: AnimationOptions,
                          offsets: dict[str, float] | None, output: Path,
                          progress: Progress | None = None) -> Rendered:
    build = animation.builder(options)
    generator = animation.generator_for(generator)
    offset = direction_offset(generator, offsets)

    def build_with_offset(model: Generator, cell: int) -> LatentPath:
        return OffsetPath(build(model, cell), offset)

    frames = animation.frame_count(options)
    return animate_to_file(generator, build_with_offset, output, options.replace(frames=frames, duration=None),
                           progress=progress)


def render_preview(generator: Generator, key: str, offsets: dict[str, float] | None, truncation: float,
                   size: int | None = None) -> np.ndarray:
    """One frame: the character moved by the slider offsets, ``(R, R, 3)`` uint8."""
    class_spec, seed = character_key(key)
    start = character(generator, class_spec, seed)
    latent = (start.latent + direction_offset(generator, offsets))[None]
    images = to_uint8(generator.decode(latent, start.class_weights[None], truncation))
    return resize_images(images, size or generator.resolution, resample_filter(generator, None))[0]

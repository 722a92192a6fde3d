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
from muybridge.animation.modes import (
    PathBuilder,
    Rendered,
    animate_to_file,
    character_key,
    latent_picker,
    loop_builder,
    morph_builder,
    motion_builder,
    walk_builder,
)
from muybridge.animation.paths import LatentPath, character
from muybridge.animation.render import resample_filter, resize_images, tile
from muybridge.animation.timeline import parse_timeline, timeline_path
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator, to_uint8
from muybridge.progress import Progress

MODES = ("loop", "walk", "morph", "motion", "timeline")
FORMAT_SUFFIXES = {"gif": ".gif", "mp4": ".mp4", "webp": ".webp", "sprites": ".png"}
MEDIA_TYPES = {".gif": "image/gif", ".mp4": "video/mp4", ".webp": "image/webp", ".png": "image/png",
               ".json": "application/json", ".jpg": "image/jpeg"}
PREVIEW_DIRECTIONS = 6


@dataclass(frozen=True)
class AnimationRequest:
    mode: str
    characters: list[str]
    fps: float = 24.0
    duration: float = 4.0
    output_format: str = "gif"
    size: int | None = None
    truncation: float = 1.0
    grid: str = "1x1"
    direction: str = "0"
    amplitude: float = 3.0
    radius: float = 2.0
    cycles: int = 1
    closed: bool = False
    easing: str = "ease-in-out"
    interpolation: str = "slerp"
    offsets: dict[str, float] | None = None
    keyframes: list[dict[str, Any]] | None = None
    pet: Path | None = None
    """A latent file (an inverted photo) that replaces the first character (not for timelines)."""


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
            total += float(amount) * resolve_direction(generator, spec).vector
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


def path_builder(request: AnimationRequest) -> tuple[PathBuilder, int | None]:
    """The mode's builder, and a frame count when the mode fixes it (timelines include both ends)."""
    keys = request.characters
    if request.mode not in MODES:
        raise MuybridgeError(f"unknown mode {request.mode!r}; known: {', '.join(MODES)}")
    if not keys and request.mode != "timeline":
        raise MuybridgeError("name at least one character, e.g. cat:7")
    if request.pet is not None:
        return pet_builder(request, request.pet), None
    if request.mode == "loop":
        return loop_builder(keys[0], None, request.radius), None
    if request.mode == "walk":
        return walk_builder(keys, request.closed, request.easing, request.interpolation), None
    if request.mode == "morph":
        if len(keys) != 2:
            raise MuybridgeError(f"a morph goes from one character to another: give 2, got {len(keys)}")
        return morph_builder(keys[0], keys[1], request.closed, request.easing, request.interpolation), None
    if request.mode == "motion":
        return motion_builder(keys[0], request.direction, None, request.amplitude, request.cycles), None
    data = request.keyframes or timeline_keyframes(keys, request.duration, request.easing)
    timeline = parse_timeline({"keyframes": data, "interpolation": request.interpolation}, Path("keyframes"))

    def build(generator: Generator, cell: int) -> LatentPath:
        return timeline_path(generator, timeline, lambda name: resolve_direction(generator, name).vector,
                             seed_offset=cell)

    return build, round(timeline.duration * request.fps) + 1


def pet_builder(request: AnimationRequest, pet: Path) -> PathBuilder:
    """The mode's builder with the pet's latent in place of the first character (morph: pet → 2nd key)."""
    source = latent_picker(pet)
    keys = request.characters
    if request.mode == "loop":
        return loop_builder(None, None, request.radius, source)
    if request.mode == "walk":
        return walk_builder(keys[1:], request.closed, request.easing, request.interpolation, source)
    if request.mode == "morph":
        if len(keys) != 2:
            raise MuybridgeError(f"a morph goes from your pet (in place of the first character) to the second: "
                                 f"give 2 characters, got {len(keys)}")
        return morph_builder(None, keys[1], request.closed, request.easing, request.interpolation, source)
    if request.mode == "motion":
        return motion_builder(None, request.direction, None, request.amplitude, request.cycles, source)
    raise MuybridgeError(f"your pet works with loop, walk, morph and motion, not {request.mode}")


def render_animation_file(generator: Generator, request: AnimationRequest, output: Path,
                          progress: Progress | None = None) -> Rendered:
    build, frames = path_builder(request)
    offset = direction_offset(generator, request.offsets)

    def build_with_offset(model: Generator, cell: int) -> LatentPath:
        return OffsetPath(build(model, cell), offset)

    return animate_to_file(generator, build_with_offset, output, fps=request.fps, frames=frames,
                           duration=None if frames else request.duration, size=request.size,
                           truncation=request.truncation, grid=request.grid, progress=progress)


def render_preview(generator: Generator, key: str, offsets: dict[str, float] | None, truncation: float,
                   size: int | None = None) -> np.ndarray:
    """One frame: the character moved by the slider offsets, ``(R, R, 3)`` uint8."""
    class_spec, seed = character_key(key)
    start = character(generator, class_spec, seed)
    latent = (start.latent + direction_offset(generator, offsets))[None]
    images = to_uint8(generator.decode(latent, start.class_weights[None], truncation))
    return resize_images(images, size or generator.resolution, resample_filter(generator, None))[0]


def grid_image(images: np.ndarray, size: int | None, generator: Generator) -> np.ndarray:
    """Images ``(N, R, R, 3)`` → one near-square picture, each cell resized to ``size``."""
    count = images.shape[0]
    side = size or generator.resolution
    cells = resize_images(images, side, resample_filter(generator, None))
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    padding = np.zeros((rows * cols - count, side, side, 3), np.uint8)
    return tile(np.concatenate([cells, padding])[:, None], rows, cols)[0]

"""Render latent paths to frames: sample every path at the frame times, decode in batches, resize, tile.

Nearest-neighbour resizing keeps pixel-art models crisp (``pixel_art: true`` in the model config, or
the caller's choice); every other model is resized with Lanczos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from muybridge.animation.paths import LatentPath
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator, to_uint8
from muybridge.progress import Progress, report

MAX_SIZE = 4096
MAX_FRAMES = 10_000
MAX_FPS = 120.0
MAX_BYTES = 2 * 1024**3  # frames are held in memory before encoding


@dataclass(frozen=True)
class AnimationSpec:
    """What to render. ``paths`` holds one path per grid cell, row by row."""

    paths: Sequence[LatentPath]
    frames: int
    fps: float = 24.0
    size: int | None = None  # side of one cell in pixels; None = the model's resolution
    grid: tuple[int, int] = (1, 1)  # rows, columns
    truncation: float = 1.0
    pixel_art: bool | None = None  # None = the model config's "pixel_art" flag
    batch_size: int = 32


def frames_for(fps: float, duration: float | None, frames: int | None) -> int:
    """The frame count from ``--frames`` or ``--duration`` (4 s when neither is given)."""
    check_fps(fps)
    if frames is not None and duration is not None:
        raise MuybridgeError("give --frames or --duration, not both")
    if frames is not None:
        if not 1 <= frames <= MAX_FRAMES:
            raise MuybridgeError(f"--frames must be between 1 and {MAX_FRAMES}, got {frames}")
        return frames
    seconds = 4.0 if duration is None else duration
    if not (math.isfinite(seconds) and seconds > 0):
        raise MuybridgeError(f"--duration must be a positive number of seconds, got {seconds:g}")
    count = max(1, round(seconds * fps))
    if count > MAX_FRAMES:
        raise MuybridgeError(f"{seconds:g} s at {fps:g} fps is {count} frames; the limit is {MAX_FRAMES}")
    return count


def check_fps(fps: float) -> None:
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise MuybridgeError(f"--fps must be above 0 and at most {MAX_FPS:g}, got {fps:g}")


def check_size(size: int | None) -> None:
    if size is not None and not 1 <= size <= MAX_SIZE:
        raise MuybridgeError(f"--size must be between 1 and {MAX_SIZE} pixels, got {size}")


def parse_grid(text: str) -> tuple[int, int]:
    """``"2x3"`` → (2 rows, 3 columns)."""
    rows, sep, cols = text.lower().partition("x")
    valid = sep and rows.isdigit() and cols.isdigit() and 1 <= int(rows) <= 16 and 1 <= int(cols) <= 16
    if not valid:
        raise MuybridgeError(f"bad --grid '{text}': expected ROWSxCOLUMNS with 1-16 each, e.g. 2x2")
    return int(rows), int(cols)


def frame_times(frames: int, closed: bool) -> np.ndarray:
    """Closed paths: ``i / frames`` (the frame after the last is the first); open: ``i / (frames - 1)``."""
    if closed or frames == 1:
        return np.arange(frames) / frames
    return np.arange(frames) / (frames - 1)


def is_pixel_art(generator: Generator, pixel_art: bool | None = None) -> bool:
    """The caller's choice, else the model config's ``pixel_art`` flag."""
    return bool(generator.config.get("pixel_art", False)) if pixel_art is None else pixel_art


def resample_filter(generator: Generator, pixel_art: bool | None) -> Image.Resampling:
    return Image.Resampling.NEAREST if is_pixel_art(generator, pixel_art) else Image.Resampling.LANCZOS


def resize_images(images: np.ndarray, size: int, resample: Image.Resampling) -> np.ndarray:
    """uint8 ``(N, R, R, 3)`` → ``(N, size, size, 3)``; a no-op when the size already matches."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return np.stack([np.asarray(Image.fromarray(image).resize((size, size), resample)) for image in images])


def tile(cells: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``(rows*cols, F, h, w, 3)`` → ``(F, rows*h, cols*w, 3)``."""
    _, frames, h, w, c = cells.shape
    grid = cells.reshape(rows, cols, frames, h, w, c).transpose(2, 0, 3, 1, 4, 5)
    return grid.reshape(frames, rows * h, cols * w, c)


def check_spec(generator: Generator, spec: AnimationSpec) -> None:
    """Refuse a spec before any work is done; every message is one line."""
    check_fps(spec.fps)
    check_size(spec.size)
    if not 1 <= spec.frames <= MAX_FRAMES:
        raise MuybridgeError(f"frames must be between 1 and {MAX_FRAMES}, got {spec.frames}")
    rows, cols = spec.grid
    if rows * cols != len(spec.paths):
        raise MuybridgeError(f"a {rows}x{cols} grid needs {rows * cols} paths, got {len(spec.paths)}")
    if not 0.0 <= spec.truncation <= 2.0:
        raise MuybridgeError(f"--truncation must be within [0, 2], got {spec.truncation:g}")
    if spec.batch_size < 1:
        raise MuybridgeError(f"batch size must be at least 1, got {spec.batch_size}")
    side = spec.size or generator.resolution
    total = spec.frames * rows * cols * side * side * 3
    if total > MAX_BYTES:
        raise MuybridgeError(f"{spec.frames} frames of {cols * side}x{rows * side} need "
                             f"{total / 1024**3:.1f} GiB; "
                             f"the limit is {MAX_BYTES / 1024**3:.0f} GiB: lower --size, --frames or --grid")


def render_animation(generator: Generator, spec: AnimationSpec,
                     progress: Progress | None = None) -> np.ndarray:
    """Render ``spec`` to uint8 frames ``(F, H, W, 3)``; ``progress(done, total)`` counts decoded images.

    All cells' frames go through :meth:`Generator.decode` together, ``batch_size`` at a time.
    """
    check_spec(generator, spec)
    latent_rows, weight_rows = [], []
    for path in spec.paths:
        latents, weights = path.sample(frame_times(spec.frames, path.closed))
        latent_rows.append(latents)
        weight_rows.append(weights)
    latents, weights = torch.cat(latent_rows), torch.cat(weight_rows)
    side = spec.size or generator.resolution
    resample = resample_filter(generator, spec.pixel_art)
    total = latents.shape[0]
    chunks = []
    for start in range(0, total, spec.batch_size):
        stop = min(start + spec.batch_size, total)
        decoded = generator.decode(latents[start:stop], weights[start:stop], spec.truncation)
        images = to_uint8(decoded)
        chunks.append(resize_images(images, side, resample))
        report(progress, stop, total, stage="render")
    cells = np.concatenate(chunks).reshape(len(spec.paths), spec.frames, side, side, 3)
    return tile(cells, *spec.grid)


def render_grid(generator: Generator, latents: torch.Tensor, class_weights: torch.Tensor,
                size: int | None = None, truncation: float = 1.0, pixel_art: bool | None = None,
                columns: int | None = None) -> np.ndarray:
    """Still images tiled into one picture ``(H, W, 3)``: ``columns`` defaults to a near-square layout."""
    check_size(size)
    count = latents.shape[0]
    cols = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    side = size or generator.resolution
    images = resize_images(to_uint8(generator.decode(latents, class_weights, truncation)), side,
                           resample_filter(generator, pixel_art))
    padding = np.zeros((rows * cols - count, side, side, 3), np.uint8)
    cells = np.concatenate([images, padding])[:, None]
    return tile(cells, rows, cols)[0]

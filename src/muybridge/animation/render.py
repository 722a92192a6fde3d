"""Render latent paths to frames: sample every path at the frame times, decode in batches, resize, tile.

Nearest-neighbour resizing keeps pixel-art models crisp (``pixel_art: true`` in the model config, or
the caller's choice); every other model is resized with Lanczos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from muybridge.animation.options import AnimationOptions, check_frame_bytes, frame_times
from muybridge.animation.paths import LatentPath
from muybridge.errors import MuybridgeError
from muybridge.generator import DECODE_CHUNK, Generator, to_uint8
from muybridge.models.pose import rest_pose
from muybridge.pictures import resample_filter, resize_images, tile, tile_images
from muybridge.progress import Progress, report

#: Images per decoder call while rendering: the decoder's own chunk, so no call pads a chunk it does not fill
#: (the pixels do not depend on it: see ``Generator.decode``).
RENDER_BATCH = DECODE_CHUNK


@dataclass(frozen=True)
class AnimationSpec:
    """What to render, checked: one path per grid cell, row by row (the options are checked already, see
    :class:`~muybridge.animation.options.AnimationOptions`)."""

    paths: Sequence[LatentPath]
    frames: int
    fps: float = AnimationOptions.fps
    size: int | None = None  # side of one cell in pixels; None = the model's resolution
    grid: tuple[int, int] = (1, 1)  # rows, columns
    truncation: float = AnimationOptions.truncation
    pixel_art: bool | None = None  # None = the model config's "pixel_art" flag


def frames_for(fps: float, duration: float | None, frames: int | None) -> int:
    """The frame count from ``--frames`` or ``--duration`` (4 s when neither is given)."""
    return AnimationOptions(fps=fps, duration=duration, frames=frames).check().frame_count()


def parse_grid(text: str) -> tuple[int, int]:
    """``"2x3"`` → (2 rows, 3 columns)."""
    return AnimationOptions(grid=text).grid_shape()


def check_spec(generator: Generator, spec: AnimationSpec) -> None:
    """Refuse a spec before any work is done; every message is one line."""
    rows, cols = spec.grid
    if rows * cols != len(spec.paths):
        raise MuybridgeError(f"a {rows}x{cols} grid needs {rows * cols} paths, got {len(spec.paths)}")
    check_frame_bytes(spec.frames, rows, cols, spec.size or generator.resolution)
    AnimationOptions(fps=spec.fps, frames=spec.frames, size=spec.size, truncation=spec.truncation).check()


def render_animation(generator: Generator, spec: AnimationSpec, progress: Progress | None = None,
                     batch_size: int = RENDER_BATCH) -> np.ndarray:
    """Render ``spec`` to uint8 frames ``(F, H, W, 3)``; ``progress(done, total)`` counts decoded images.

    All cells' frames go through :meth:`Generator.decode` together, ``batch_size`` at a time (the pixels do
    not depend on it).
    """
    check_spec(generator, spec)
    latent_rows, weight_rows, pose_rows = [], [], []
    for path in spec.paths:
        times = frame_times(spec.frames, path.closed)
        latents, weights = path.sample(times)
        latent_rows.append(latents)
        weight_rows.append(weights)
        pose_rows.append(path.poses(times) if hasattr(path, "poses") else rest_pose(len(times)))
    latents, weights, poses = torch.cat(latent_rows), torch.cat(weight_rows), torch.cat(pose_rows)
    side = spec.size or generator.resolution
    resample = resample_filter(generator, spec.pixel_art)
    total = latents.shape[0]
    chunks = []
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        decoded = generator.decode(latents[start:stop], weights[start:stop], spec.truncation, poses[start:stop])
        images = to_uint8(decoded)
        chunks.append(resize_images(images, side, resample))
        report(progress, stop, total, stage="render")
    cells = np.concatenate(chunks).reshape(len(spec.paths), spec.frames, side, side, 3)
    return tile(cells, *spec.grid)


def render_grid(generator: Generator, latents: torch.Tensor, class_weights: torch.Tensor,
                size: int | None = None, truncation: float = 1.0, pixel_art: bool | None = None,
                columns: int | None = None) -> np.ndarray:
    """Still images tiled into one picture ``(H, W, 3)``: ``columns`` defaults to a near-square layout."""
    AnimationOptions(size=size).check()
    images = to_uint8(generator.decode(latents, class_weights, truncation))
    return tile_images(resize_images(images, size or generator.resolution, resample_filter(generator, pixel_art)),
                       columns)

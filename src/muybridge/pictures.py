"""Pictures of many characters: resizing, tiling, and the grid of classes (rows) by seeds (columns).

Nearest-neighbour resizing keeps pixel-art models crisp (``pixel_art: true`` in the model config, or the
caller's choice); every other model is resized with Lanczos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # no torch at import: the CLI's torch-free loop resizes and tiles with these
    from muybridge.generator import Generator


def is_pixel_art(generator: Generator, pixel_art: bool | None = None) -> bool:
    """The caller's choice, else the model config's ``pixel_art`` flag."""
    return pixel_art_choice(generator.config.pixel_art, pixel_art)


def pixel_art_choice(model_flag: bool, requested: bool | None) -> bool:
    return model_flag if requested is None else requested


def resample_filter(generator: Generator, pixel_art: bool | None) -> Image.Resampling:
    return pixel_resample(is_pixel_art(generator, pixel_art))


def pixel_resample(pixel_art: bool) -> Image.Resampling:
    return Image.Resampling.NEAREST if pixel_art else Image.Resampling.LANCZOS


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


def grid_columns(count: int) -> int:
    """Columns of a near-square grid of ``count`` pictures that leaves no cell empty where one exists at most
    three times as wide as tall (8 → 4x2, 12 → 4x3, 3 → 3x1); else the square one, its last row short (7 → 3x3)."""
    square = math.ceil(math.sqrt(count))
    return next((cols for cols in range(square, 3 * square + 1) if count % cols == 0 and cols <= 3 * (count // cols)),
                square)


def tile_images(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Images ``(N, h, w, 3)`` → one picture, ``columns`` wide (default: :func:`grid_columns`), a short last row
    padded black."""
    count = images.shape[0]
    cols = columns or grid_columns(count)
    rows = math.ceil(count / cols)
    padding = np.zeros((rows * cols - count, *images.shape[1:]), np.uint8)
    return tile(np.concatenate([images, padding])[:, None], rows, cols)[0]


def class_grid(generator: Generator, seeds: Sequence[int], classes: Sequence[str] | None = None,
               truncation: float = 1.0, size: int | None = None) -> np.ndarray:
    """One row per class (default: all of the model's), one column per seed: ``(rows*S, cols*S, 3)`` uint8,
    each cell ``size`` pixels (default: the model's resolution)."""
    names = list(generator.classes if classes is None else classes)
    images = generator.generate([name for name in names for _ in seeds], [seed for _ in names for seed in seeds],
                                truncation)
    cells = resize_images(images, size or generator.resolution, resample_filter(generator, None))
    return tile_images(cells, columns=len(seeds))

"""``muybridge animate loop CLASS:SEED`` without torch, from the model's cached ONNX graph
(:mod:`muybridge.engines.runtime`): the same characters (:mod:`muybridge.keys`), the same circle
(:mod:`muybridge.animation.circle`), resized, tiled and written as the torch path does. Where the graph is not
cached, or onnxruntime is missing, :func:`light_loop` says so (None) and torch draws the loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from muybridge.animation.circle import loop_latents, loop_plane
from muybridge.animation.export import Rendered, check_output, export_animation
from muybridge.animation.options import AnimationOptions, check_frame_bytes, frame_times
from muybridge.engines.runtime import RuntimeDecoder, open_runtime
from muybridge.keys import ClassSpec, class_weight_rows, seed_latents
from muybridge.pictures import pixel_art_choice, pixel_resample, resize_images, tile
from muybridge.progress import Progress

Draw = Callable[[Progress | None], Rendered]


def light_loop(model: str | Path | None, key: tuple[ClassSpec, int], output: str | os.PathLike[str],
               options: AnimationOptions) -> Draw | None:
    """How to draw the loop of ``key`` (class, first seed) to ``output`` without torch, or None where torch must.
    Every input is checked first (options, output, classes), in one line each, as the torch path checks them."""
    checked = options.check()
    check_output(output, checked.fps)
    decoder = open_runtime(model)
    if decoder is None:
        return None
    class_weight_rows(decoder.classes, [key[0]])  # an unknown class fails before any drawing
    return lambda progress: draw_loop(decoder, key, output, checked, progress)


def draw_loop(decoder: RuntimeDecoder, key: tuple[ClassSpec, int], output: str | os.PathLike[str],
              options: AnimationOptions, progress: Progress | None = None) -> Rendered:
    """One loop per grid cell (cell ``i`` is seed ``first + i``), decoded, resized, tiled and written."""
    class_spec, first = key
    rows, cols = options.grid_shape()
    frames = options.frame_count()
    side = options.size or decoder.resolution
    check_frame_bytes(frames, rows, cols, side)
    seeds = [first + cell for cell in range(rows * cols)]
    times = frame_times(frames, closed=True)
    latents = np.concatenate([loop_latents(centre, loop_plane(centre, seed), options.radius, times)
                              for centre, seed in zip(seed_latents(seeds, decoder.latent_dim), seeds, strict=True)])
    weights = np.repeat(class_weight_rows(decoder.classes, [class_spec]), len(latents), axis=0)
    images = decoder.decode(latents, weights, options.truncation, progress)
    pixel_art = pixel_art_choice(decoder.pixel_art, options.pixel_art)
    cells = resize_images(images, side, pixel_resample(pixel_art)).reshape(rows * cols, frames, side, side, 3)
    return export_animation(tile(cells, rows, cols), output, options.fps, lossless=pixel_art, progress=progress)

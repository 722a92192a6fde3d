"""``muybridge animate loop``, ``walk``, ``morph``, ``motion``, ``character`` and ``timeline`` of ``CLASS:SEED`` keys
without torch, from the model's cached ONNX graphs (:mod:`muybridge.engines.runtime`): the same characters
(:mod:`muybridge.keys`), the same circle (:mod:`muybridge.animation.circle`), walk (:mod:`muybridge.animation.blend`)
and motion curves (:mod:`muybridge.animation.motions`), resized, tiled and written as the torch path does (a
character pack by :mod:`muybridge.animation.pack`), and the directions of :mod:`muybridge.animation.directions` (named
beside the model, or among the strongest the graph carries). Where the graph is not cached, or onnxruntime is missing,
or a direction is an index beyond those the graph carries (torch finds it), the ``light_*`` functions say so (None)
and torch draws.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from muybridge.animation.blend import check_walk_keys, swing_latents, timeline_latents, walk_latents
from muybridge.animation.circle import loop_latents, loop_plane
from muybridge.animation.directions import stored_direction
from muybridge.animation.export import Rendered, check_output, export_animation
from muybridge.animation.motions import MOTIONS, stored_strengths
from muybridge.animation.options import AnimationOptions, check_frame_bytes, frame_times
from muybridge.animation.pack import Pack, check_one_character, check_pack_folder, pack_facts, write_pack
from muybridge.animation.timeline import Timeline, keyframe_class_weights, keyframe_offsets
from muybridge.engines.runtime import RuntimeDecoder, open_runtime
from muybridge.keys import Key, class_weight_rows, format_key, seed_latents
from muybridge.pictures import pixel_art_choice, pixel_resample, resize_images, tile
from muybridge.progress import Progress

Draw = Callable[[Progress | None], Rendered]


def light_loop(model: str | Path | None, key: Key, output: str | os.PathLike[str],
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


def light_walk(model: str | Path | None, keys: Sequence[Key], output: str | os.PathLike[str],
               options: AnimationOptions) -> Draw | None:
    """How to draw the walk through ``keys`` (a morph is a walk of two) to ``output`` without torch, or None where
    torch must. Every input is checked first, as for :func:`light_loop`."""
    checked = options.check()  # the easing and interpolation among them
    check_walk_keys(len(keys))
    check_output(output, checked.fps)
    decoder = open_runtime(model)
    if decoder is None:
        return None
    class_weight_rows(decoder.classes, [spec for spec, _ in keys])
    return lambda progress: draw_walk(decoder, keys, output, checked, progress)


def light_motion(model: str | Path | None, key: Key, output: str | os.PathLike[str],
                 options: AnimationOptions) -> Draw | None:
    """How to draw ``key`` doing ``options.motion`` (a move of the motion library, from the model's cached pose
    graph) or swinging along ``options.direction`` (from the plain graph) without torch, or None where torch must.
    Inputs are checked first."""
    checked = options.check()
    check_output(output, checked.fps)
    if checked.direction is not None:
        return light_swing(model, key, checked.direction, output, checked)
    decoder = open_runtime(model, pose=True)
    if decoder is None:
        return None
    class_weight_rows(decoder.classes, [key[0]])
    strengths = stored_strengths(decoder.folder)
    return lambda progress: draw_motion(decoder, key, output, checked, strengths, progress)


def light_swing(model: str | Path | None, key: Key, spec: str, output: str | os.PathLike[str],
                options: AnimationOptions) -> Draw | None:
    """How to draw ``key`` swinging along the direction ``spec`` without torch, or None where torch must (no cached
    graph, or an index beyond the directions the graph carries); an unknown direction is refused in one line."""
    decoder = open_runtime(model)
    if decoder is None:
        return None
    class_weight_rows(decoder.classes, [key[0]])
    direction = stored_direction(spec, decoder.folder, decoder.latent_dim, decoder.directions)
    if direction is None:
        return None
    return lambda progress: draw_swing(decoder, key, direction.vector, output, options, progress)


def light_character(model: str | Path | None, key: Key, folder: str | os.PathLike[str], options: AnimationOptions,
                    motions: Sequence[str]) -> Callable[[Progress | None], Pack] | None:
    """How to draw the character pack of ``key`` doing each of ``motions`` into ``folder`` without torch, from the
    model's cached pose graph, or None where torch must. Inputs (the folder too) are checked first."""
    checked = options.check()
    check_one_character(checked)
    check_pack_folder(folder)
    decoder = open_runtime(model, pose=True)
    if decoder is None:
        return None
    class_weight_rows(decoder.classes, [key[0]])
    facts = pack_facts(decoder.name, format_key(*key), checked)
    strengths = stored_strengths(decoder.folder)

    def draw(progress: Progress | None) -> Pack:
        clips = motion_clips(decoder, key, motions, checked, strengths, progress)
        return write_pack(clips, motions, folder, checked.fps, facts, progress)

    return draw


def light_timeline(model: str | Path | None, timeline: Timeline, output: str | os.PathLike[str],
                   options: AnimationOptions) -> Draw | None:
    """How to draw ``timeline`` to ``output`` without torch, or None where torch must (a keyframe without a seed, or
    offset along a direction the graph does not carry). Inputs are checked first; an unknown class or direction names
    the file and the key."""
    checked = options.check()
    checked.frame_count(timeline.duration)  # refuses a timeline too long for the frame limit at --fps
    check_output(output, checked.fps)
    seeds = [key.seed for key in timeline.keyframes if key.seed is not None]
    if len(seeds) < len(timeline.keyframes):
        return None
    decoder = open_runtime(model)
    if decoder is None:
        return None
    weights = keyframe_class_weights(timeline, decoder.classes)

    def vector(name: str) -> np.ndarray:
        direction = stored_direction(name, decoder.folder, decoder.latent_dim, decoder.directions)
        if direction is None:
            raise _TorchFindsIt
        return direction.vector

    try:
        offsets = keyframe_offsets(timeline, decoder.latent_dim, vector)
    except _TorchFindsIt:
        return None
    return lambda progress: draw_timeline(decoder, timeline, seeds, weights, offsets, output, checked, progress)


class _TorchFindsIt(Exception):
    """A direction's index is beyond those the graph carries."""


def draw_loop(decoder: RuntimeDecoder, key: Key, output: str | os.PathLike[str], options: AnimationOptions,
              progress: Progress | None = None) -> Rendered:
    """One loop per grid cell (cell ``i`` is seed ``first + i``)."""
    class_spec, first = key
    rows, cols = options.grid_shape()
    frames = options.frame_count()
    seeds = [first + cell for cell in range(rows * cols)]
    times = frame_times(frames, closed=True)
    latents = np.concatenate([loop_latents(centre, loop_plane(centre, seed), options.radius, times)
                              for centre, seed in zip(seed_latents(seeds, decoder.latent_dim), seeds, strict=True)])
    weights = np.repeat(class_weight_rows(decoder.classes, [class_spec]), len(latents), axis=0)
    return draw_cells(decoder, latents, weights, frames, output, options, progress)


def draw_walk(decoder: RuntimeDecoder, keys: Sequence[Key], output: str | os.PathLike[str],
              options: AnimationOptions, progress: Progress | None = None) -> Rendered:
    """One walk per grid cell (cell ``i`` adds ``i`` to every key's seed); ``--loop`` walks back to the first."""
    rows, cols = options.grid_shape()
    frames = options.frame_count()
    times = frame_times(frames, closed=options.loop)
    key_weights = class_weight_rows(decoder.classes, [spec for spec, _ in keys])
    cells = [walk_latents(seed_latents([seed + cell for _, seed in keys], decoder.latent_dim), key_weights, times,
                          options.interpolation, options.easing, options.loop) for cell in range(rows * cols)]
    return draw_cells(decoder, np.concatenate([latents for latents, _ in cells]),
                      np.concatenate([weights for _, weights in cells]), frames, output, options, progress)


def draw_timeline(decoder: RuntimeDecoder, timeline: Timeline, seeds: list[int], key_weights: np.ndarray,
                  key_offsets: np.ndarray, output: str | os.PathLike[str], options: AnimationOptions,
                  progress: Progress | None = None) -> Rendered:
    """One timeline per grid cell (cell ``i`` adds ``i`` to every keyframe's seed; ``key_offsets`` along directions
    are added to the keyframes' latents), from 0 s to the last key."""
    rows, cols = options.grid_shape()
    frames = options.frame_count(timeline.duration)
    times = frame_times(frames, closed=False)
    key_times = np.array([key.time for key in timeline.keyframes], np.float32)
    easings = [key.easing for key in timeline.keyframes]
    key_latents = [seed_latents([seed + cell for seed in seeds], decoder.latent_dim) + key_offsets
                   for cell in range(rows * cols)]
    cells = [timeline_latents(key_times, latents, key_weights, easings, times, timeline.interpolation)
             for latents in key_latents]
    return draw_cells(decoder, np.concatenate([latents for latents, _ in cells]),
                      np.concatenate([weights for _, weights in cells]), frames, output, options, progress)


def draw_motion(decoder: RuntimeDecoder, key: Key, output: str | os.PathLike[str], options: AnimationOptions,
                strengths: dict[str, float], progress: Progress | None = None) -> Rendered:
    """One character per grid cell (cell ``i`` is seed ``first + i``), each doing the move: the latent stays, the
    head pose follows the curve."""
    class_spec, first = key
    rows, cols = options.grid_shape()
    frames = options.frame_count()
    poses = motion_poses(options.motion, options, strengths)
    latents = np.repeat(seed_latents([first + cell for cell in range(rows * cols)], decoder.latent_dim), frames, 0)
    weights = np.repeat(class_weight_rows(decoder.classes, [class_spec]), len(latents), axis=0)
    return draw_cells(decoder, latents, weights, frames, output, options, progress, np.tile(poses, (rows * cols, 1)))


def draw_swing(decoder: RuntimeDecoder, key: Key, direction: np.ndarray, output: str | os.PathLike[str],
               options: AnimationOptions, progress: Progress | None = None) -> Rendered:
    """One character per grid cell (cell ``i`` is seed ``first + i``), each swinging along ``direction``."""
    class_spec, first = key
    rows, cols = options.grid_shape()
    frames = options.frame_count()
    times = frame_times(frames, closed=True)
    latents = np.concatenate([swing_latents(centre, direction, options.amplitude, options.cycles, times)
                              for centre in seed_latents([first + cell for cell in range(rows * cols)],
                                                         decoder.latent_dim)])
    weights = np.repeat(class_weight_rows(decoder.classes, [class_spec]), len(latents), axis=0)
    return draw_cells(decoder, latents, weights, frames, output, options, progress)


def motion_clips(decoder: RuntimeDecoder, key: Key, motions: Sequence[str], options: AnimationOptions,
                 strengths: dict[str, float], progress: Progress | None = None) -> np.ndarray:
    """``key``'s character doing each of ``motions``: uint8 ``(motions, F, S, S, 3)``, as
    :func:`muybridge.animation.pack.render_motions` draws them."""
    class_spec, seed = key
    poses = np.concatenate([motion_poses(name, options, strengths) for name in motions])
    latents = np.repeat(seed_latents([seed], decoder.latent_dim), len(poses), 0)
    weights = np.repeat(class_weight_rows(decoder.classes, [class_spec]), len(poses), axis=0)
    return decode_cells(decoder, latents, weights, options.frame_count(), (len(motions), 1), options, progress,
                        poses)


def motion_poses(motion: str, options: AnimationOptions, strengths: dict[str, float]) -> np.ndarray:
    """The head poses of one closed cycle of ``motion`` at the option's strength times the model's own
    (``strengths``, from its ``motions.json``), as torch's motion path computes them."""
    strength = options.strength * strengths.get(motion, 1.0)
    return MOTIONS[motion].poses(frame_times(options.frame_count(), closed=True), strength).astype(np.float32)


def draw_cells(decoder: RuntimeDecoder, latents: np.ndarray, weights: np.ndarray, frames: int,
               output: str | os.PathLike[str], options: AnimationOptions, progress: Progress | None,
               poses: np.ndarray | None = None) -> Rendered:
    """The grid's cells, ``frames`` latents (and poses) each in order, decoded, resized, tiled and written; refused
    in one line, before any decoding, where the frames would not fit the size limit."""
    rows, cols = options.grid_shape()
    cells = decode_cells(decoder, latents, weights, frames, (rows, cols), options, progress, poses)
    pixel_art = pixel_art_choice(decoder.pixel_art, options.pixel_art)
    return export_animation(tile(cells, rows, cols), output, options.fps, lossless=pixel_art, progress=progress)


def decode_cells(decoder: RuntimeDecoder, latents: np.ndarray, weights: np.ndarray, frames: int,
                 shape: tuple[int, int], options: AnimationOptions, progress: Progress | None,
                 poses: np.ndarray | None = None) -> np.ndarray:
    """The ``shape`` (rows, columns) cells of ``frames`` latents (and poses) each, decoded and resized: uint8
    ``(cells, frames, S, S, 3)``; refused in one line, before any decoding, where they would not fit the size
    limit."""
    side = options.size or decoder.resolution
    check_frame_bytes(frames, *shape, side)
    images = decoder.decode(latents, weights, options.truncation, progress, poses)
    resample = pixel_resample(pixel_art_choice(decoder.pixel_art, options.pixel_art))
    return resize_images(images, side, resample).reshape(shape[0] * shape[1], frames, side, side, 3)

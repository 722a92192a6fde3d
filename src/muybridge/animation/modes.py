"""The animation modes as path builders, and one call that renders a mode to a file.

A builder is ``build(generator, cell) -> LatentPath``: the path of grid cell ``cell`` (cell ``i`` adds ``i``
to every seed, so a 2x2 grid shows four characters doing the same thing). Builders parse and check their
arguments when made, before any model is loaded, so bad input fails fast and nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from muybridge.animation.blend import check_interpolation, check_walk_keys, easing_function
from muybridge.animation.directions import resolve_direction
from muybridge.animation.export import Rendered, check_output, export_animation
from muybridge.animation.motions import MOTIONS, stored_strengths
from muybridge.animation.options import AnimationOptions
from muybridge.animation.paths import (
    LatentPath,
    loop,
    morph,
    motion,
    pose_motion,
    walk,
)
from muybridge.animation.render import AnimationSpec, render_animation
from muybridge.animation.timeline import Timeline, timeline_path
from muybridge.characters import Character, character, character_from_latent, parse_key
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.keys import ClassSpec, character_key
from muybridge.pictures import is_pixel_art
from muybridge.progress import Progress

PathBuilder = Callable[[Generator, int], LatentPath]
CharacterPicker = Callable[[Generator, int], Character]
"""``pick(generator, cell) -> Character``: where a character comes from other than a (class, seed) key."""


def latent_picker(path: str | os.PathLike[str], index: int = 0, class_key: str | None = None) -> CharacterPicker:
    """Characters from a latent file (``muybridge invert``): grid cell ``i`` takes entry ``index + i``, cycling.

    ``class_key`` (a class or mix, no seed) renders the latents as another class. The file's structure is
    checked now; that it belongs to the model is checked when the model is loaded.
    """
    from muybridge.inversion.latent_file import read_latent_file, read_latents

    count = len(read_latent_file(path)["latents"])
    if not 0 <= index < count:
        raise MuybridgeError(f"{path}: --index {index} is out of range; the file holds {count} latent"
                             f"{'s' * (count > 1)} (0..{count - 1})")
    class_spec: ClassSpec | None = None
    if class_key is not None:
        class_spec, seed = parse_key(class_key)
        if seed is not None:
            raise MuybridgeError(f"'{class_key}': --from-latent gives the character, so it takes no seed; "
                                 "name only a class")
    loaded: dict[int, list[Character]] = {}

    def pick(generator: Generator, cell: int) -> Character:
        if id(generator) not in loaded:
            loaded[id(generator)] = read_latents(path, generator, class_spec)
        return loaded[id(generator)][(index + cell) % count]

    return pick


def _key_picker(key: str | None, seed: int | None = None, default_seed: int = 0) -> CharacterPicker:
    if key is None:
        raise MuybridgeError("name a character as CLASS[:SEED], or give --from-latent FILE")
    class_spec, first = character_key(key, seed, default_seed)
    return lambda generator, cell: character(generator, class_spec, first + cell)


def _after_picker(key: str, source: CharacterPicker) -> CharacterPicker:
    """A key following a latent-file character: ``CLASS`` alone is that character's latent in CLASS."""
    class_spec, seed = parse_key(key)
    if seed is not None:
        return _key_picker(key)
    return lambda generator, cell: character_from_latent(generator, class_spec, source(generator, cell).latent)


def _centre_picker(key: str | None, seed: int | None, source: CharacterPicker | None) -> CharacterPicker:
    if source is None:
        return _key_picker(key, seed)
    if key is not None or seed is not None:
        raise MuybridgeError("--from-latent gives the character: it takes no seed (a CLASS alone renders "
                             "the latent in that class)")
    return source


def loop_builder(key: str | None, seed: int | None = None, radius: float = 2.0,
                 source: CharacterPicker | None = None) -> PathBuilder:
    """``source`` (e.g. :func:`latent_picker`) replaces the (class, seed) key."""
    pick = _centre_picker(key, seed, source)

    def build(generator: Generator, cell: int) -> LatentPath:
        centre = pick(generator, cell)
        return loop(centre, radius, plane_seed=None if source is None else cell)

    return build


def walk_builder(keys: Sequence[str], closed: bool = False, easing: str = "ease-in-out",
                 interpolation: str = "slerp", source: CharacterPicker | None = None) -> PathBuilder:
    """With ``source``, the walk starts at that character; a later key without a seed is its latent in
    that key's class."""
    stops = [_after_picker(text, source) for text in keys] if source else [_key_picker(text) for text in keys]
    stops = [source, *stops] if source else stops
    check_walk_keys(len(stops))
    easing_function(easing)
    check_interpolation(interpolation)

    def build(generator: Generator, cell: int) -> LatentPath:
        characters = [pick(generator, cell) for pick in stops]
        return walk(characters, interpolation, easing, closed)

    return build


def morph_builder(start: str | None, end: str, closed: bool = False, easing: str = "ease-in-out",
                  interpolation: str = "slerp", source: CharacterPicker | None = None) -> PathBuilder:
    """``end`` without a seed keeps ``start``'s seed: the same identity noise, another class.

    With ``source`` instead of ``start``, ``end`` without a seed keeps the source's latent (your cat as a
    dog); ``end`` with a seed morphs into that character.
    """
    if source is not None:
        begin = _centre_picker(start, None, source)
        finish = _after_picker(end, source)
    else:
        begin = _key_picker(start)
        start_seed = character_key(start)[1] if start is not None else 0
        finish = _key_picker(end, default_seed=start_seed)
    easing_function(easing)
    check_interpolation(interpolation)

    def build(generator: Generator, cell: int) -> LatentPath:
        return morph(begin(generator, cell), finish(generator, cell), interpolation, easing, closed)

    return build


def motion_builder(key: str | None, direction: str, seed: int | None = None, amplitude: float = 3.0,
                   cycles: int = 1, source: CharacterPicker | None = None) -> PathBuilder:
    pick = _centre_picker(key, seed, source)
    resolved: dict[int, np.ndarray] = {}

    def build(generator: Generator, cell: int) -> LatentPath:
        if id(generator) not in resolved:  # computed once, shared by every grid cell
            resolved[id(generator)] = resolve_direction(generator, direction).vector
        return motion(pick(generator, cell), resolved[id(generator)], amplitude, cycles)

    return build


def pose_builder(key: str | None, name: str, strength: float = 1.0, source: CharacterPicker | None = None,
                 seed: int | None = None) -> PathBuilder:
    """One character doing a move of the motion library (its identity kept: only the pose changes)."""
    pick = _centre_picker(key, seed, source)
    if name not in MOTIONS:
        raise MuybridgeError(f"unknown motion '{name}'; known: {', '.join(MOTIONS)}")

    stored: dict[int, float] = {}  # the model's own strength for this motion, read once per model

    def build(generator: Generator, cell: int) -> LatentPath:
        if not generator.takes_pose:
            raise MuybridgeError(f"model {generator.name} ({generator.config.architecture}) has no pose input: "
                                 f"the motion '{name}' needs a gallop model (or use --direction)")
        if id(generator) not in stored:
            stored[id(generator)] = stored_strengths(generator.path).get(name, 1.0)
        return pose_motion(pick(generator, cell), name, strength * stored[id(generator)])

    return build


def timeline_builder(timeline: Timeline, source: CharacterPicker | None = None) -> PathBuilder:
    """Keyframes without a seed take ``source``'s character."""

    def build(generator: Generator, cell: int) -> LatentPath:
        given = source(generator, cell).latent if source is not None else None
        return timeline_path(generator, timeline, lambda name: resolve_direction(generator, name).vector,
                             seed_offset=cell, given_latent=given)

    return build


@dataclass(frozen=True)
class LatentSource:
    """Characters read from a latent file (``muybridge invert``) instead of (class, seed) keys: grid cell ``i``
    takes entry ``index + i``; ``class_key`` (a class or mix, no seed) renders them as another class."""

    path: Path
    index: int = 0
    class_key: str | None = None

    def picker(self) -> CharacterPicker:
        return latent_picker(self.path, self.index, self.class_key)


@dataclass(frozen=True)
class Animation:
    """What to animate, as the CLI and the studio both describe it: a mode, its character keys, optionally a
    latent file's character (your pet) and, for timelines, the keyframes. How (timing, size, each mode's own
    settings) is an :class:`~muybridge.animation.options.AnimationOptions`.

    ``characters`` per mode: loop and motion one key (none with ``source``); walk two or more (with ``source``
    the walk starts at the pet); morph FROM and TO (with ``source`` only TO); timeline none.
    """

    mode: str
    characters: tuple[str, ...] = ()
    source: LatentSource | None = None
    timeline: Timeline | None = None

    def builder(self, options: AnimationOptions) -> PathBuilder:
        """The path builder, checking the keys now (before any model is loaded)."""
        try:
            make = MODE_BUILDERS[self.mode]
        except KeyError:
            raise MuybridgeError(f"unknown mode {self.mode!r}; known: {', '.join(MODE_BUILDERS)}") from None
        return make(self, options)

    def frame_count(self, options: AnimationOptions) -> int:
        return options.frame_count(self.timeline.duration if self.timeline is not None else None)

    def generator_for(self, generator: Generator) -> Generator:
        """The generator that draws this animation: ``generator``, or with the latent file's tuned decoder
        (pivotal tuning) when the file has one, so the pet looks like its photo in every mode and motion."""
        if self.source is None:
            return generator
        from muybridge.inversion.latent_file import generator_for_latents

        return generator_for_latents(self.source.path, generator)

    def first_key(self) -> str | None:
        if len(self.characters) > 1:
            raise MuybridgeError(f"{self.mode} animates one character, got {len(self.characters)}: "
                                 f"{' '.join(self.characters)}")
        return self.characters[0] if self.characters else None


def _picker(animation: Animation) -> CharacterPicker | None:
    return animation.source.picker() if animation.source is not None else None


def _loop(animation: Animation, options: AnimationOptions) -> PathBuilder:
    source = _picker(animation)
    return loop_builder(None if source else animation.first_key(), None, options.radius, source)


def _motion(animation: Animation, options: AnimationOptions) -> PathBuilder:
    source = _picker(animation)
    key = None if source else animation.first_key()
    if options.direction is not None:
        return motion_builder(key, options.direction, None, options.amplitude, options.cycles, source)
    return pose_builder(key, options.motion, options.strength, source)


def _walk(animation: Animation, options: AnimationOptions) -> PathBuilder:
    return walk_builder(animation.characters, options.loop, options.easing, options.interpolation,
                        _picker(animation))


def _morph(animation: Animation, options: AnimationOptions) -> PathBuilder:
    keys, source = animation.characters, _picker(animation)
    if source is not None:
        if len(keys) != 1:
            raise MuybridgeError(f"a morph from your pet goes to one character: give 1 (TO), got {len(keys)}")
        return morph_builder(None, keys[0], options.loop, options.easing, options.interpolation, source)
    if len(keys) != 2:
        raise MuybridgeError(f"a morph goes from one character to another: give 2 (FROM TO), got {len(keys)}")
    return morph_builder(keys[0], keys[1], options.loop, options.easing, options.interpolation)


def _timeline(animation: Animation, options: AnimationOptions) -> PathBuilder:
    if animation.timeline is None:
        raise MuybridgeError("a timeline needs keyframes")
    return timeline_builder(animation.timeline, _picker(animation))


#: The modes: name → how its path builder is made from an :class:`Animation` and its options.
MODE_BUILDERS: dict[str, Callable[[Animation, AnimationOptions], PathBuilder]] = {
    "loop": _loop, "walk": _walk, "morph": _morph, "motion": _motion, "timeline": _timeline,
}


def animate_to_file(generator: Generator | str | Path | None, what: Animation | PathBuilder,
                    output: str | os.PathLike[str], options: AnimationOptions | None = None, *,
                    progress: Progress | None = None, **values: Any) -> Rendered:
    """Check every option, load the model, render one path per grid cell and export to ``output``.

    ``values`` override fields of ``options`` (``fps=8, frames=6``). The duration is 4 s when neither it nor
    ``frames`` is given; open paths include both ends, so a timeline of ``d`` seconds has ``d * fps + 1``
    frames. ``progress`` sees the render, then the encoding.
    """
    chosen = (options or AnimationOptions()).replace(**values).check()
    check_output(output, chosen.fps)
    rows, cols = chosen.grid_shape()
    if isinstance(what, Animation):
        build, count = what.builder(chosen), what.frame_count(chosen)
    else:
        build, count = what, chosen.frame_count()
    if not isinstance(generator, Generator):
        generator = Generator.load(generator)
    if isinstance(what, Animation):
        generator = what.generator_for(generator)
    paths = [build(generator, cell) for cell in range(rows * cols)]
    spec = AnimationSpec(paths, count, chosen.fps, chosen.size, (rows, cols), chosen.truncation, chosen.pixel_art)
    pixels: np.ndarray = render_animation(generator, spec, progress)
    return export_animation(pixels, output, chosen.fps, lossless=is_pixel_art(generator, chosen.pixel_art),
                            progress=progress)

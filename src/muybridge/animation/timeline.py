"""Keyframe files (YAML or JSON) → a :class:`~muybridge.animation.paths.TimelinePath`.

The file is either a list of keyframes or a mapping ``{keyframes: [...], interpolation: slerp|lerp}``.
A keyframe::

    - time: 1.5            # seconds, increasing; the animation lasts until the last key
      class: cat           # or a mix {cat: 0.5, dog: 0.5}
      seed: 7              # names the character's latent; leave it out to take the latent file's
                           # character (``animate timeline --from-latent pet.json``)
      directions: {nod: 2} # optional offsets along named (or numbered: 0, sefa:3) directions
      easing: ease-in-out  # optional; shapes the segment from this key to the next

Every problem is reported in one line naming the file and the key, e.g. ``keys.yaml: keyframes[2].seed: ...``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from muybridge.animation.options import EASING_NAMES, INTERPOLATION_NAMES
from muybridge.errors import MuybridgeError
from muybridge.keys import ClassSpec, class_weight_rows

if TYPE_CHECKING:  # reading a timeline needs no torch: the CLI draws timelines of seeds without it
    import torch

    from muybridge.animation.paths import TimelinePath
    from muybridge.generator import Generator

KEYFRAME_FIELDS = ("time", "class", "seed", "directions", "easing")
MAX_SECONDS = 600.0


@dataclass(frozen=True)
class Keyframe:
    time: float
    class_spec: ClassSpec
    seed: int | None  # None: the character of the latent file given with the timeline
    directions: dict[str, float] = field(default_factory=dict)
    easing: str = "ease-in-out"


@dataclass(frozen=True)
class Timeline:
    source: Path
    keyframes: tuple[Keyframe, ...]
    interpolation: str = "slerp"

    @property
    def duration(self) -> float:
        return self.keyframes[-1].time


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_timeline(path: str | Path) -> Timeline:
    """Read and validate the file's structure (classes and directions are checked against a model later)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MuybridgeError(f"{path}: cannot read the timeline ({reason})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise MuybridgeError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise MuybridgeError(f"{path}: not valid YAML ({where}{problem})") from None
    return parse_timeline(data, path)


def parse_timeline(data: Any, source: Path) -> Timeline:
    def fail(where: str, problem: str) -> MuybridgeError:
        return MuybridgeError(f"{source}: {where}: {problem}")

    interpolation = "slerp"
    if isinstance(data, Mapping):
        unknown = sorted(set(map(str, data)) - {"keyframes", "interpolation"})
        if unknown:
            raise fail(unknown[0], "unknown key (expected keyframes, interpolation)")
        interpolation = data.get("interpolation", "slerp")
        if interpolation not in INTERPOLATION_NAMES:
            raise fail("interpolation", f"must be one of {', '.join(INTERPOLATION_NAMES)}, got {interpolation!r}")
        data = data.get("keyframes")
    if not isinstance(data, list) or len(data) < 2:
        raise fail("keyframes", "expected a list of at least two keyframes")
    keyframes: list[Keyframe] = []
    for i, entry in enumerate(data):
        where = f"keyframes[{i}]"
        if not isinstance(entry, Mapping):
            raise fail(where, "expected a mapping with time, class, seed")
        unknown = sorted(set(map(str, entry)) - set(KEYFRAME_FIELDS))
        if unknown:
            raise fail(f"{where}.{unknown[0]}", f"unknown key (expected {', '.join(KEYFRAME_FIELDS)})")
        for required in ("time", "class"):
            if required not in entry:
                raise fail(f"{where}.{required}", "missing")
        time = entry["time"]
        if not _number(time) or not 0 <= time <= MAX_SECONDS:
            raise fail(f"{where}.time", f"must be a number of seconds in [0, {MAX_SECONDS:g}], got {time!r}")
        if keyframes and time <= keyframes[-1].time:
            previous = keyframes[-1].time
            raise fail(f"{where}.time", f"must be later than the previous key ({previous:g} s), got {time}")
        seed = entry.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise fail(f"{where}.seed", f"must be a whole number >= 0, got {seed!r}")
        class_spec = _class_spec(entry["class"], source, f"{where}.class")
        directions = entry.get("directions") or {}
        if not isinstance(directions, Mapping) or not all(_number(v) for v in directions.values()):
            raise fail(f"{where}.directions", "expected a mapping of direction name → offset, e.g. {nod: 2}")
        easing = entry.get("easing", "ease-in-out")
        if easing not in EASING_NAMES:
            raise fail(f"{where}.easing", f"must be one of {', '.join(EASING_NAMES)}, got {easing!r}")
        offsets = {str(k): float(v) for k, v in directions.items()}
        keyframes.append(Keyframe(float(time), class_spec, seed, offsets, easing))
    return Timeline(source, tuple(keyframes), interpolation)


def _class_spec(value: Any, source: Path, where: str) -> ClassSpec:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and value and all(_number(w) and w >= 0 for w in value.values()):
        return {str(k): float(w) for k, w in value.items()}
    raise MuybridgeError(f"{source}: {where}: expected a class name or a mix such as "
                         f"{{cat: 0.5, dog: 0.5}}, got {value!r}")


def keyframe_class_weights(timeline: Timeline, classes: list[str]) -> np.ndarray:
    """One row of class weights per keyframe (float32 ``(K, C)``); an unknown class names the file and the key."""
    rows = []
    for i, key in enumerate(timeline.keyframes):
        try:
            rows.append(class_weight_rows(classes, [key.class_spec])[0])
        except MuybridgeError as exc:
            raise MuybridgeError(f"{timeline.source}: keyframes[{i}].class: {exc}") from None
    return np.stack(rows)


def keyframe_offsets(timeline: Timeline, latent_dim: int,
                     direction_vector: Callable[[str], np.ndarray]) -> np.ndarray:
    """Each keyframe's sum of ``offset * direction`` (float32 ``(K, latent_dim)``), added to its latent; an unknown
    direction names the file and the key."""
    offsets = np.zeros((len(timeline.keyframes), latent_dim), np.float32)
    for i, key in enumerate(timeline.keyframes):
        for name, offset in key.directions.items():
            try:
                offsets[i] += offset * direction_vector(name)
            except MuybridgeError as exc:
                raise MuybridgeError(f"{timeline.source}: keyframes[{i}].directions.{name}: {exc}") from None
    return offsets


def timeline_path(generator: Generator, timeline: Timeline,
                  direction_vector: Callable[[str], np.ndarray], seed_offset: int = 0,
                  given_latent: torch.Tensor | None = None) -> TimelinePath:
    """Resolve classes and directions against ``generator``; errors name the file and the key.

    Keyframes without a seed take ``given_latent`` (e.g. an inverted photo's)."""
    import torch

    from muybridge.animation.paths import TimedKey, TimelinePath

    class_weights = torch.from_numpy(keyframe_class_weights(timeline, generator.classes))
    offsets = torch.from_numpy(keyframe_offsets(timeline, generator.latent_dim, direction_vector))
    keys = []
    for i, (key, weights) in enumerate(zip(timeline.keyframes, class_weights, strict=True)):
        if key.seed is not None:
            latent = generator.latents([key.seed + seed_offset])[0]
        elif given_latent is not None:
            latent = given_latent
        else:
            raise MuybridgeError(f"{timeline.source}: keyframes[{i}].seed: missing (or give a latent file with "
                                 "--from-latent)")
        keys.append(TimedKey(key.time, latent + offsets[i], weights, key.easing))
    return TimelinePath(tuple(keys), timeline.interpolation)

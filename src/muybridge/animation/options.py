"""Every animation option, declared once: its type, default, limits, help text and the modes that use it.

:class:`AnimationOptions` is the one home of these facts. The ``muybridge animate`` verbs build their
``--options`` from it (:func:`muybridge.cli.options.with_animation_options`), the studio's request body is made
from it (:func:`pydantic_fields`), and :meth:`AnimationOptions.check` is the one validation both paths run
before any work is accepted. A new option (a motion's strength, say) is one field here; it then appears in the
CLI, the API and its docs with the same limits and messages.

Nothing here imports torch or numpy: the CLI builds its options from this module at start-up.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_type_hints

from muybridge.animation.motions import MOTION_NAMES
from muybridge.errors import MuybridgeError

if TYPE_CHECKING:
    import numpy as np

MODES = ("loop", "walk", "morph", "motion", "timeline")
EASING_NAMES = ("linear", "ease-in-out", "cubic")
INTERPOLATION_NAMES = ("slerp", "lerp")

MIN_FPS = 0.1  # a GIF's frame delay must fit its 16-bit field of centiseconds
MAX_FPS = 60.0
MAX_SECONDS = 60.0
MAX_GRID_SIDE = 16
MAX_SIZE = 4096
#: A timeline of MAX_SECONDS at 24 fps includes both ends.
MAX_FRAMES = int(MAX_SECONDS * 24) + 1
#: Frames are held in memory before encoding; this caps the pixels of one request (CLI and studio alike).
MAX_BYTES = 1024**3
DEFAULT_SECONDS = 4.0
#: How many directions of a method (SeFa, GANSpace), strongest first, ``muybridge directions`` previews by default
#: and a model's ONNX graph carries (:mod:`muybridge.animation.directions`).
TOP_DIRECTIONS = 8


class OptionError(MuybridgeError):
    """A bad option value: ``field`` names it (``fps``), ``problem`` says what is wrong.

    Shown as ``--fps must be ...`` (the CLI's and the library's wording); the studio answers
    ``{"error": "fps: must be ...", "field": "fps"}``.
    """

    def __init__(self, field_name: str, problem: str, message: str | None = None) -> None:
        self.field = field_name
        self.problem = problem
        super().__init__(message or f"{flag_name(field_name)} {problem}")


def flag_name(field_name: str) -> str:
    return "--" + OPTION_FLAGS.get(field_name, field_name.replace("_", "-"))


@dataclass(frozen=True)
class Spec:
    """The limits and help of one option (stored in the dataclass field's metadata)."""

    help: str
    modes: tuple[str, ...] = MODES
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # an exclusive minimum
    choices: tuple[str, ...] = ()
    nonzero: bool = False  # zero refused inside the range (a swing of no size)
    unit: str = ""  # "seconds": "a positive number of seconds"

    def limits_text(self) -> str:
        """``between 1 and 16``, ``above 0 and at most 60``, ``a positive number of seconds up to the limit of 60``."""
        if self.above is not None and self.minimum is not None and self.maximum is not None:
            return f"above {self.above:g}, at least {self.minimum:g}, and at most {self.maximum:g}"
        if self.minimum is not None and self.maximum is not None:
            return f"between {self.minimum:g} and {self.maximum:g}"
        if self.above == 0 and self.unit:
            low = f"a positive number of {self.unit}"
            return low + (f" up to the limit of {self.maximum:g}" if self.maximum is not None else "")
        low = f"above {self.above:g}" if self.above is not None else (
            f"at least {self.minimum:g}" if self.minimum is not None else "")
        high = f"at most {self.maximum:g}" if self.maximum is not None else ""
        return " and ".join(part for part in (low, high) if part)


def option(default: Any, help: str, **limits: Any) -> Any:
    return field(default=default, metadata={"spec": Spec(help, **limits)})


@dataclass(frozen=True)
class AnimationOptions:
    """How to animate: timing, size, layout and each mode's own settings."""

    fps: float = option(24.0, "Frames per second.", above=0, minimum=MIN_FPS, maximum=MAX_FPS)
    duration: float | None = option(None, f"Length in seconds (default: {DEFAULT_SECONDS:g}).", above=0,
                                    maximum=MAX_SECONDS, unit="seconds", modes=("loop", "walk", "morph", "motion"))
    frames: int | None = option(None, "Number of frames, instead of --duration.", minimum=1, maximum=MAX_FRAMES,
                                modes=("loop", "walk", "morph", "motion"))
    size: int | None = option(None, f"Side of each character in pixels, up to {MAX_SIZE} (default: the model's "
                              "resolution).", minimum=1, maximum=MAX_SIZE)
    truncation: float = option(1.0, "0-2: below 1 trades variety for typical faces.", minimum=0, maximum=2)
    grid: str = option("1x1", "ROWSxCOLS characters side by side; cell i adds i to seeds.")
    pixel_art: bool | None = option(None, "Resize with nearest neighbour (crisp pixels) or Lanczos "
                                    "(default: the model's pixel_art setting).")
    radius: float = option(2.0, "How far the loop strays from the character (latent units).", above=0,
                           maximum=10, modes=("loop",))
    motion: str = option("idle", "A move of the motion library: the character stays the same animal.",
                         choices=MOTION_NAMES, modes=("motion",))
    strength: float = option(1.0, "How far the move goes (1 = the library's measured amplitude).", above=0,
                             maximum=3, modes=("motion",))
    direction: str | None = option(None, "Instead of --motion: swing along a latent direction (named, an index "
                                   "(SeFa) or METHOD:INDEX, e.g. ganspace:2); this changes who the animal is.",
                                   modes=("motion",))
    amplitude: float = option(3.0, "With --direction: how far to swing (latent units, non-zero).",
                              minimum=-100, maximum=100, nonzero=True, modes=("motion",))
    cycles: int = option(1, "With --direction: swings per animation.", minimum=1, maximum=16, modes=("motion",))
    loop: bool = option(False, "Come back to the start (seamless).", modes=("walk", "morph"))
    easing: str = option("ease-in-out", "How each segment speeds up and slows down.", choices=EASING_NAMES,
                         modes=("walk", "morph"))
    interpolation: str = option("slerp", "slerp (keeps latents typical) or lerp.", choices=INTERPOLATION_NAMES,
                                modes=("walk", "morph", "timeline"))

    def check(self) -> AnimationOptions:
        """Refuse any value out of its limits, in one line naming the option; returns ``self``."""
        for item in option_fields():
            check_value(item.name, getattr(self, item.name))
        if self.frames is not None and self.duration is not None:
            raise OptionError("frames", "and --duration: give one, not both")
        self.grid_shape()
        return self

    def grid_shape(self) -> tuple[int, int]:
        """``"2x3"`` → (2 rows, 3 columns)."""
        rows, sep, cols = self.grid.lower().partition("x")
        valid = (sep and rows.isdigit() and cols.isdigit() and 1 <= int(rows) <= MAX_GRID_SIDE
                 and 1 <= int(cols) <= MAX_GRID_SIDE)
        if not valid:
            expected = f"ROWSxCOLUMNS with 1-{MAX_GRID_SIDE} each, e.g. 2x2"
            raise OptionError("grid", f"'{self.grid}' is not {expected}",
                              f"bad --grid '{self.grid}': expected {expected}")
        return int(rows), int(cols)

    def frame_count(self, seconds: float | None = None) -> int:
        """The number of frames: ``--frames``, else ``seconds`` (a timeline's length, both ends included), else
        ``--duration`` (4 s by default) at ``--fps``."""
        if seconds is not None:
            count = round(seconds * self.fps) + 1
            what = f"a {seconds:g} s timeline at {self.fps:g} fps"
        elif self.frames is not None:
            return self.frames
        else:
            length = DEFAULT_SECONDS if self.duration is None else self.duration
            count = max(1, round(length * self.fps))
            what = f"{length:g} s at {self.fps:g} fps"
        if count > MAX_FRAMES:
            raise OptionError("frames", f"limit is {MAX_FRAMES}: {what} is {count} frames")
        return count

    def replace(self, **changes: Any) -> AnimationOptions:
        return dataclasses.replace(self, **changes)


def frame_times(frames: int, closed: bool) -> np.ndarray:
    """Where a path is sampled: closed paths at ``i / frames`` (the frame after the last is the first), open ones
    at ``i / (frames - 1)``, so that they end exactly on their last key."""
    import numpy as np  # here, not at the top: the CLI reads this module at start-up, before it needs numpy

    if closed or frames == 1:
        return np.arange(frames) / frames
    return np.arange(frames) / (frames - 1)


def check_frame_bytes(frames: int, rows: int, cols: int, side: int) -> None:
    """Refuse, in one line, frames that would not fit :data:`MAX_BYTES`."""
    total = frames * rows * cols * side * side * 3
    if total > MAX_BYTES:
        raise MuybridgeError(f"{frames} frames of {cols * side}x{rows * side} need {total / 1024**3:.1f} GiB; "
                             f"the limit is {MAX_BYTES / 1024**3:.0f} GiB: lower --size, --frames or --grid")


#: CLI flags whose name is not the field's (a field named ``loop`` reads ``--loop``, the default rule).
OPTION_FLAGS: dict[str, str] = {}


def option_fields(mode: str | None = None) -> list[dataclasses.Field[Any]]:
    """The options, in declaration order; with ``mode``, only those that mode uses."""
    return [item for item in dataclasses.fields(AnimationOptions) if mode is None or mode in spec_of(item).modes]


def spec_of(item: dataclasses.Field[Any]) -> Spec:
    spec: Spec = item.metadata["spec"]
    return spec


def option_types() -> dict[str, Any]:
    """Field name → its type (``float | None``...), resolved from the annotations."""
    return get_type_hints(AnimationOptions)


def check_value(name: str, value: Any) -> None:
    """Check one option's value against its declared limits."""
    spec = spec_of(next(item for item in option_fields() if item.name == name))
    if value is None or isinstance(value, bool):
        return
    if spec.choices and value not in spec.choices:
        known = ", ".join(spec.choices)
        raise OptionError(name, f"'{value}' is unknown; known: {known}", f"unknown {name} '{value}'; known: {known}")
    if isinstance(value, numbers.Real):  # numpy's scalars too
        number = float(value)
        in_range = (math.isfinite(number) and (spec.above is None or number > spec.above)
                    and (spec.minimum is None or number >= spec.minimum)
                    and (spec.maximum is None or number <= spec.maximum))
        if not in_range:
            raise OptionError(name, f"must be {spec.limits_text()}, got {number:g}")
        if spec.nonzero and number == 0:
            raise OptionError(name, "must be non-zero")


def pydantic_fields(exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{name: (type, pydantic.Field)}`` for :func:`pydantic.create_model`: the studio's request body, with
    the same defaults and descriptions. The limits are in its JSON schema for the docs, but enforced by
    :meth:`AnimationOptions.check` alone, so the API and the CLI refuse a value with the same words."""
    from pydantic import Field

    types = option_types()
    made: dict[str, Any] = {}
    for item in option_fields():
        if item.name in exclude:
            continue
        spec = spec_of(item)
        schema: dict[str, Any] = {"minimum": spec.minimum, "maximum": spec.maximum, "exclusiveMinimum": spec.above,
                                  "enum": list(spec.choices) or None}
        modes = "" if spec.modes == MODES else f" ({', '.join(spec.modes)})"
        made[item.name] = (types[item.name], Field(item.default, description=spec.help + modes, json_schema_extra={
            key: value for key, value in schema.items() if value is not None}))
    return made

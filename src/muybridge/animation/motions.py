"""The motion library: named moves of one character (look left, nod, tilt, breathe...) as pose curves.

A motion is a sum of terms, each one pose field (:data:`muybridge.pose_fields.POSE_FIELDS`) following a curve
over the clip's time ``t`` in [0, 1]: ``swing`` is ``sin(2 pi c t)`` (out one way, back, out the other way),
``there-and-back`` is ``sin(pi c t)^2`` (out and back, easing at both ends). Every curve returns to its start at
t = 1, so every motion loops seamlessly. The latent is never touched: the character stays the same animal.

Amplitudes come from the measurements in docs/motion.md (the smallest that move the face by >= 1.5 px on
average at 64 px); ``strength`` scales them all.
This module imports neither torch nor numpy at load: the CLI reads the names at start-up.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from muybridge.errors import MuybridgeError

if TYPE_CHECKING:
    import numpy as np

CURVES = ("swing", "there-and-back")


@dataclass(frozen=True)
class Term:
    field: str
    amplitude: float
    curve: str = "there-and-back"
    cycles: int = 1

    def values(self, times: np.ndarray) -> np.ndarray:
        import numpy as np

        phase = math.pi * self.cycles * np.asarray(times, dtype=np.float64)
        shape = np.sin(2 * phase) if self.curve == "swing" else np.sin(phase) ** 2
        return self.amplitude * shape


@dataclass(frozen=True)
class Motion:
    name: str
    description: str
    terms: tuple[Term, ...]

    def poses(self, times: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """``(F, 6)`` poses at ``times`` (columns in ``POSE_FIELDS`` order)."""
        import numpy as np

        from muybridge.pose_fields import POSE_FIELDS

        poses = np.zeros((len(times), len(POSE_FIELDS)))
        for term in self.terms:
            poses[:, POSE_FIELDS.index(term.field)] += strength * term.values(times)
        return poses


DEGREE = math.pi / 180

MOTIONS: dict[str, Motion] = {motion.name: motion for motion in (
    Motion("idle", "sways from side to side, turning a little, and breathes: a seamless standing loop",
           (Term("shift_x", 0.07, "swing"), Term("yaw", 0.08, "swing"), Term("scale", math.log(1.02), cycles=2))),
    Motion("look-left", "turns its head towards the left of the picture and back",
           (Term("yaw", -0.18), Term("shift_x", -0.07))),
    Motion("look-right", "turns its head towards the right of the picture and back",
           (Term("yaw", 0.18), Term("shift_x", 0.07))),
    Motion("nod", "nods twice", (Term("pitch", 0.15, cycles=2), Term("shift_y", 0.08, cycles=2))),
    Motion("tilt", "tilts its head one way, then the other", (Term("tilt", 12 * DEGREE, "swing"),)),
    Motion("breathe", "breathes in and out twice", (Term("scale", math.log(1.05), cycles=2),
                                                    Term("shift_y", -0.02, cycles=2))),
    Motion("lean-in", "leans towards you and back", (Term("scale", math.log(1.10)), Term("shift_y", 0.04))),
)}
MOTION_NAMES = tuple(MOTIONS)

#: A model folder's motions file (``muybridge motions MODEL``): each motion's measured behaviour and strength.
MOTIONS_FILE = "motions.json"


def stored_strengths(model_folder: Path | None) -> dict[str, float]:
    """The strengths a model folder's ``motions.json`` sets (none: every motion at 1)."""
    path = model_folder / MOTIONS_FILE if model_folder else None
    if path is None or not path.is_file():
        return {}
    try:
        motions = json.loads(path.read_text(encoding="utf-8"))["motions"]
        return {name: float(entry["strength"]) for name, entry in motions.items() if name in MOTIONS}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MuybridgeError(f"{path}: not a readable motions file ({exc})") from None

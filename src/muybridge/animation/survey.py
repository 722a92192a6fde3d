"""Motions found and named by what they do: every move of the library measured with optical flow on a model's own
characters, checked against what its name promises (look-left moves the face left, nod down, tilt turns it,
lean-in grows it), and stored with its strength in the model folder (``motions.json``), which the motion verbs,
character packs and the studio then read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from muybridge.animation.modes import pose_builder
from muybridge.animation.motions import MOTIONS, MOTIONS_FILE
from muybridge.animation.render import AnimationSpec, render_animation
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_json
from muybridge.generator import Generator
from muybridge.metrics.motion import flow_signature, mean_metrics
from muybridge.progress import Progress, report

#: What each name promises: the flow component that must dominate, and its sign (0: either sign).
PROMISES: dict[str, tuple[str, int]] = {
    "look-left": ("dx", -1), "look-right": ("dx", 1), "nod": ("dy", 1), "tilt": ("curl", 0),
    "breathe": ("divergence", 1), "lean-in": ("divergence", 1),
}
WORDS = {"dx": "mean flow {:+.2f} px to the right", "dy": "mean flow {:+.2f} px down",
         "curl": "rotation {:+.2f}", "divergence": "growth {:+.2f}"}


#: The component a promised one is weighed against (same units: pixels for shifts, per pixel for curl and growth).
RIVALS = {"dx": "dy", "dy": "dx", "curl": "divergence", "divergence": "curl"}


def keeps_promise(name: str, signature: dict[str, float]) -> bool:
    """The promised component has the promised sign and outweighs its rival (a shift the other shift, a
    rotation the growth and the growth the rotation)."""
    if name not in PROMISES:
        return True
    component, sign = PROMISES[name]
    value = signature[component]
    right_sign = value * sign > 0 if sign else value != 0
    return right_sign and abs(value) > abs(signature[RIVALS[component]])


def peak_frame(name: str, frames: int) -> int:
    """The frame where the move is furthest out in its first half (a swing's first extreme, not its mirror)."""
    poses = MOTIONS[name].poses(np.arange(frames) / frames)
    return 1 + int(np.abs(poses[1 : frames // 2 + 1]).sum(axis=1).argmax())


def survey(generator: Generator, per_class: int = 8, frames: int = 48,
           progress: Progress | None = None) -> dict[str, dict[str, Any]]:
    """Each motion on ``per_class`` characters of every class: the flow-explained share, mean flow, peak residual,
    the flow signature (mean over characters) and whether it does what its name says."""
    side = generator.resolution
    keys = [f"{name}:{seed}" for name in generator.classes for seed in range(per_class)]
    found: dict[str, dict[str, Any]] = {}
    for done, name in enumerate(MOTIONS, start=1):
        paths = [pose_builder(key, name)(generator, 0) for key in keys]
        tiled = render_animation(generator, AnimationSpec(paths, frames, grid=(1, len(paths))))
        clips = [tiled[:, :, side * i : side * (i + 1)] for i in range(len(paths))]
        signatures = [flow_signature(clip, peak_frame(name, frames)) for clip in clips]
        signature = {key: float(np.mean([s[key] for s in signatures])) for key in signatures[0]}
        metrics = mean_metrics(clips)
        found[name] = {
            "explained": round(metrics["explained"], 3), "flow_px": round(metrics["flow_px"], 3),
            "peak_residual": round(metrics["peak_residual"], 2),
            "signature": {key: round(value, 4) for key, value in signature.items()},
            "does_what_it_says": keeps_promise(name, signature),
        }
        report(progress, done, len(MOTIONS), stage=name)
    return found


def write_motions(folder: Path, found: dict[str, dict[str, Any]], characters: int) -> Path:
    """``motions.json``: every motion's description, strength (1: the library's amplitude) and measurements."""
    target = folder / MOTIONS_FILE
    data = {"format": "muybridge-motions", "format_version": 1, "characters_per_class": characters,
            "motions": {name: {"description": MOTIONS[name].description, "strength": 1.0, **found[name]}
                        for name in found}}
    try:
        atomic_write_json(target, data)
    except OSError as exc:
        raise MuybridgeError(f"{target}: could not write ({exc.strerror or exc})") from None
    return target


def describe(name: str, entry: dict[str, Any]) -> str:
    """One line: what the measurement says the motion does."""
    component = PROMISES.get(name, ("dx", 0))[0]
    said = WORDS[component].format(entry["signature"][component])
    verdict = "as named" if entry["does_what_it_says"] else "NOT as named"
    return (f"{name:11s} explained {entry['explained']:.2f}, flow {entry['flow_px']:.2f} px, peak residual "
            f"{entry['peak_residual']:.1f}; {said} ({verdict})")

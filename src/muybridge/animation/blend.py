"""Walking from character to character, in numpy: easing curves, slerp and lerp, the walk through a list of keys and
through a timeline's keyframes, and the swing along a direction. The torch paths
(:class:`~muybridge.animation.paths.WalkPath`, ``TimelinePath``, ``MotionPath``) and the CLI's torch-free walk, morph,
timeline and motion along a direction (:mod:`muybridge.animation.light`) draw the same latents from these functions.

The easing and interpolation names are declared with the options (:mod:`muybridge.animation.options`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from muybridge.animation.options import EASING_NAMES, check_value
from muybridge.errors import MuybridgeError

Easing = Callable[[np.ndarray], np.ndarray]


def _linear(u: np.ndarray) -> np.ndarray:
    return u


def _ease_in_out(u: np.ndarray) -> np.ndarray:
    return np.float32(0.5) - np.float32(0.5) * np.cos(np.float32(math.pi) * u)


def _cubic(u: np.ndarray) -> np.ndarray:
    return np.where(u < 0.5, 4 * u**3, 1 - (2 - 2 * u) ** 3 / 2).astype(u.dtype)


EASINGS: dict[str, Easing] = {"linear": _linear, "ease-in-out": _ease_in_out, "cubic": _cubic}
assert tuple(EASINGS) == EASING_NAMES, "an easing named by the options has no curve here, or the reverse"


def easing_function(name: str) -> Easing:
    """The named curve; an unknown name is refused as ``--easing`` refuses it."""
    check_value("easing", name)
    return EASINGS[name]


def check_interpolation(name: str) -> str:
    check_value("interpolation", name)
    return name


def clamped_times(times: np.ndarray) -> np.ndarray:
    """float32 times in [0, 1]."""
    return np.clip(np.asarray(times, np.float64), 0.0, 1.0).astype(np.float32)


def swing_latents(centre: np.ndarray, direction: np.ndarray, amplitude: float, cycles: int,
                  times: np.ndarray) -> np.ndarray:
    """``centre + amplitude · sin(2π cycles t) · d`` at ``times`` (float32 ``(F, latent_dim)``), ``d`` the unit
    vector of ``direction``: a closed swing back and forth."""
    unit = direction / max(float(np.linalg.norm(direction)), 1e-8)
    phase = np.sin(np.float32(2 * math.pi * cycles) * clamped_times(times))
    return (centre + np.float32(amplitude) * phase[:, None] * unit).astype(np.float32)


def check_walk_keys(count: int) -> None:
    if count < 2:
        raise MuybridgeError(f"a walk needs at least two keys, got {count}")


def lerp(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Rows ``a + u (b - a)`` for ``a, b`` of shape (F, D) and ``u`` of shape (F,)."""
    return a + u[:, None] * (b - a)


def slerp(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical interpolation row by row: follows the great circle, so the latent keeps a typical norm.

    Falls back to lerp where the two rows are (nearly) parallel.
    """
    norms = np.maximum(np.linalg.norm(a, axis=1), 1e-8) * np.maximum(np.linalg.norm(b, axis=1), 1e-8)
    angle = np.arccos(np.clip((a * b).sum(axis=1) / norms, -1.0, 1.0))
    sin_angle = np.sin(angle)
    near = sin_angle < 1e-4
    safe = np.where(near, 1, sin_angle)
    wa = np.where(near, 1 - u, np.sin((1 - u) * angle) / safe)
    wb = np.where(near, u, np.sin(u * angle) / safe)
    return (wa[:, None] * a + wb[:, None] * b).astype(a.dtype)


def blend(interpolation: str, a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    return slerp(a, b, u) if check_interpolation(interpolation) == "slerp" else lerp(a, b, u)


def walk_latents(latents: np.ndarray, weights: np.ndarray, times: np.ndarray, interpolation: str = "slerp",
                 easing: str = "ease-in-out", closed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """float32 latents ``(F, latent_dim)`` and class weights ``(F, C)`` at ``times`` in [0, 1] on the walk through
    the keys' ``latents`` ``(K, latent_dim)`` and ``weights`` ``(K, C)``, key to key (``closed``: back to the first).
    Latents and weights move by the same eased fraction, so a walk across classes is a morph."""
    latents, weights = np.asarray(latents, np.float32), np.asarray(weights, np.float32)
    if closed:
        latents, weights = np.concatenate([latents, latents[:1]]), np.concatenate([weights, weights[:1]])
    segments = len(latents) - 1
    position = clamped_times(times) * np.float32(segments)
    index = np.clip(np.floor(position).astype(np.int64), 0, segments - 1)
    fraction = easing_function(easing)(position - index.astype(np.float32))
    return (blend(interpolation, latents[index], latents[index + 1], fraction),
            lerp(weights[index], weights[index + 1], fraction))


def timeline_latents(key_times: np.ndarray, latents: np.ndarray, weights: np.ndarray, easings: list[str],
                     times: np.ndarray, interpolation: str = "slerp") -> tuple[np.ndarray, np.ndarray]:
    """float32 latents and class weights at ``times`` in [0, 1], which span 0 s to the last of ``key_times``
    (seconds, increasing), through the keys' ``latents`` ``(K, latent_dim)`` and ``weights`` ``(K, C)``. Each key's
    easing (``easings``) shapes the segment that starts at it; before the first key the first one is held."""
    key_times = np.asarray(key_times, np.float32)
    latents, weights = np.asarray(latents, np.float32), np.asarray(weights, np.float32)
    seconds = clamped_times(times) * key_times[-1]
    index = np.clip(np.searchsorted(key_times, seconds, side="right") - 1, 0, len(key_times) - 2)
    span = np.maximum(key_times[index + 1] - key_times[index], np.float32(1e-9))
    raw = np.clip((seconds - key_times[index]) / span, 0.0, 1.0).astype(np.float32)
    fraction = np.empty_like(raw)
    for segment, easing in enumerate(easings[:-1]):
        mask = index == segment
        fraction[mask] = easing_function(easing)(raw[mask])
    return (blend(interpolation, latents[index], latents[index + 1], fraction),
            lerp(weights[index], weights[index + 1], fraction))

"""Latent paths: functions of time t ∈ [0, 1] → (latents, class weights), sampled many times at once.

A path is a small frozen dataclass with ``sample(times) -> (latents (F, latent_dim), class_weights (F, C))``
and a ``closed`` flag. A closed path returns at t = 1 to where it was at t = 0, so a looping animation
samples it at ``t = i / frames`` (the frame after the last is the first); an open path is sampled at
``t = i / (frames - 1)`` so that it ends exactly on its last key.

Paths hold :class:`Character` values — a latent plus class weights — so they work the same whether the
latent came from a seed (``character(generator, "cat", 7)``) or from a file of latents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from muybridge.animation.blend import (
    check_interpolation,
    check_walk_keys,
    easing_function,
    swing_latents,
    timeline_latents,
    walk_latents,
)
from muybridge.animation.circle import loop_latents, loop_plane
from muybridge.animation.motions import MOTIONS, Motion
from muybridge.animation.options import check_value
from muybridge.characters import Character
from muybridge.characters import character as character  # re-exported: paths are built from characters
from muybridge.characters import character_from_latent as character_from_latent
from muybridge.characters import parse_key as parse_key
from muybridge.errors import MuybridgeError


class LatentPath(Protocol):
    @property
    def closed(self) -> bool:
        """True when t = 1 comes back to t = 0 (a seamless loop)."""
        ...

    def sample(self, times: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Times ``(F,)`` in [0, 1] → latents ``(F, latent_dim)`` and class weights ``(F, C)``."""
        ...


@dataclass(frozen=True)
class LoopPath:
    """A seamless loop around one character: a circle in a random 2-plane orthogonal to its latent
    (:mod:`muybridge.animation.circle`)."""

    center: Character
    plane: np.ndarray  # (2, latent_dim), orthonormal, orthogonal to center.latent
    radius: float
    closed: bool = True

    def sample(self, times: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        latents = loop_latents(self.center.latent.detach().numpy(), self.plane, self.radius, times)
        return torch.from_numpy(latents), self.center.class_weights.expand(len(latents), -1).clone()


def loop(center: Character, radius: float = 2.0, plane_seed: int | None = None) -> LoopPath:
    """A loop of radius ``radius`` (latent units) in a plane drawn from ``plane_seed`` (default: the seed)."""
    check_value("radius", float(radius))  # the limits of --radius (animation/options.py)
    seed = plane_seed if plane_seed is not None else (center.seed or 0)
    return LoopPath(center, loop_plane(center.latent.detach().numpy(), seed), float(radius))


@dataclass(frozen=True)
class WalkPath:
    """Through a list of characters, key to key; ``closed`` walks back from the last to the first.

    Latents and class weights are interpolated with the same eased fraction, so a walk between two
    classes is a morph, and a walk between two seeds of one class holds the class fixed.
    """

    keys: tuple[Character, ...]
    interpolation: str = "slerp"
    easing: str = "ease-in-out"
    closed: bool = False

    def sample(self, times: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        latents, weights = walk_latents(np.stack([k.latent.detach().numpy() for k in self.keys]),
                                        np.stack([k.class_weights.numpy() for k in self.keys]),
                                        times, self.interpolation, self.easing, self.closed)
        return torch.from_numpy(latents), torch.from_numpy(weights)


def walk(keys: Sequence[Character], interpolation: str = "slerp", easing: str = "ease-in-out",
         closed: bool = False) -> WalkPath:
    check_walk_keys(len(keys))
    easing_function(easing)
    return WalkPath(tuple(keys), check_interpolation(interpolation), easing, closed)


def morph(start: Character, end: Character, interpolation: str = "slerp", easing: str = "ease-in-out",
          closed: bool = False) -> WalkPath:
    """One character into another, e.g. cat:3 → dog:3: the class weights blend, the shared latent stays put.

    With different seeds the latent travels too; ``closed`` morphs back again (a seamless ping-pong).
    """
    return walk([start, end], interpolation, easing, closed)


@dataclass(frozen=True)
class MotionPath:
    """Oscillation along one semantic direction: ``z + amplitude · sin(2π cycles t) · d``; always closed."""

    center: Character
    direction: np.ndarray  # (latent_dim,): its unit vector is swung along
    amplitude: float
    cycles: int = 1
    closed: bool = True

    def sample(self, times: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        latents = swing_latents(self.center.latent.detach().numpy(), self.direction, self.amplitude, self.cycles,
                                times)
        return torch.from_numpy(latents), self.center.class_weights.expand(len(latents), -1).clone()


def motion(center: Character, direction: np.ndarray, amplitude: float = 3.0, cycles: int = 1) -> MotionPath:
    check_value("amplitude", float(amplitude))  # the limits of --amplitude and --cycles (animation/options.py)
    check_value("cycles", cycles)
    if direction.shape != tuple(center.latent.shape):
        raise MuybridgeError(f"direction has shape {tuple(direction.shape)}, "
                             f"latents {tuple(center.latent.shape)}")
    return MotionPath(center, np.asarray(direction, np.float32), float(amplitude), int(cycles))


@dataclass(frozen=True)
class PosePath:
    """One character doing a move of the motion library: the latent stays, the head moves (``poses``)."""

    center: Character
    move: Motion
    strength: float = 1.0
    closed: bool = True

    def sample(self, times: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        count = len(times)
        return self.center.latent.expand(count, -1).clone(), self.center.class_weights.expand(count, -1).clone()

    def poses(self, times: np.ndarray) -> torch.Tensor:
        """``(F, 6)`` head poses (models/pose.py) at ``times``."""
        return torch.from_numpy(self.move.poses(np.asarray(times), self.strength)).float()


def pose_motion(center: Character, name: str, strength: float = 1.0) -> PosePath:
    """``center`` doing the named move (``idle``, ``look-left``, ...: animation/motions.py)."""
    if name not in MOTIONS:
        raise MuybridgeError(f"unknown motion '{name}'; known: {', '.join(MOTIONS)}")
    return PosePath(center, MOTIONS[name], float(strength))


@dataclass(frozen=True)
class TimedKey:
    """A keyframe of a timeline: the latent already includes its direction offsets."""

    time: float
    latent: torch.Tensor
    class_weights: torch.Tensor
    easing: str = "ease-in-out"


@dataclass(frozen=True)
class TimelinePath:
    """Keyframes at times in seconds; t ∈ [0, 1] spans 0 s to the last key. Each key's easing shapes
    the segment that starts at it; before the first key the first one is held."""

    keys: tuple[TimedKey, ...]
    interpolation: str = "slerp"
    closed: bool = False

    @property
    def duration(self) -> float:
        return self.keys[-1].time

    def sample(self, times: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        latents, weights = timeline_latents(
            np.array([k.time for k in self.keys], np.float32), np.stack([k.latent.detach().numpy() for k in self.keys]),
            np.stack([k.class_weights.numpy() for k in self.keys]), [k.easing for k in self.keys], times,
            self.interpolation)
        return torch.from_numpy(latents), torch.from_numpy(weights)

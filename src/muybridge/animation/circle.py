"""The loop's circle in latent space, in numpy: the torch path (:class:`~muybridge.animation.paths.LoopPath`) and
the CLI's torch-free loop (:mod:`muybridge.animation.light`) draw the same frames from these two functions."""

from __future__ import annotations

import math

import numpy as np

from muybridge.keys import normal_draws

#: Added to the character's seed to draw its loop's plane (so the plane is not the latent's own draw).
PLANE_SEED_OFFSET = 1_000_003


def loop_plane(center: np.ndarray, seed: int) -> np.ndarray:
    """float32 ``(2, latent_dim)``: an orthonormal pair, orthogonal to ``center``, drawn from ``seed``."""
    center = np.asarray(center, np.float32)
    draws = normal_draws(seed + PLANE_SEED_OFFSET, 2 * center.size).reshape(2, center.size)
    basis = [center / max(float(np.linalg.norm(center)), 1e-8)]
    for row in draws:  # Gram-Schmidt against the centre and each other
        for b in basis:
            row = row - (row @ b) * b
        basis.append(row / np.linalg.norm(row))
    return np.stack(basis[1:]).astype(np.float32)


def loop_latents(center: np.ndarray, plane: np.ndarray, radius: float, times: np.ndarray) -> np.ndarray:
    """float32 ``(F, latent_dim)``: the circle of ``radius`` around ``center`` in ``plane`` at ``times`` in [0, 1],
    scaled back to the centre's norm (the plane is orthogonal to it, so every point has the same norm): the latents
    stay in the shell the decoder was trained on."""
    angle = np.float32(2 * math.pi) * np.clip(np.asarray(times, np.float64), 0.0, 1.0).astype(np.float32)
    offsets = np.cos(angle)[:, None] * plane[0] + np.sin(angle)[:, None] * plane[1]
    norm = float(np.linalg.norm(center))
    latents = (center + np.float32(radius) * offsets) * np.float32(norm / math.sqrt(norm**2 + radius**2))
    return latents.astype(np.float32)

"""Pose: where a character's head is, separate from who it is.

A pose is six numbers per sample, in the order of :data:`muybridge.pose_fields.POSE_FIELDS` (declared there,
torch-free): a tilt (radians, clockwise on screen), a shift (``shift_x`` right, ``shift_y`` down, in normalised units
where 1 is half the image), a log scale, and a head-turn (``yaw``) and nod (``pitch``) that move the middle of the
face more than its outline (a displacement ``cos(pi x / 2) cos(pi y / 2)`` that is zero at the border). The decoder
applies it by warping its feature maps after the block at ``pose_resolution`` (``warp_features``), then renders the
rest as usual: the latent, and so the animal, stays the same while it moves. Zero is the rest pose and changes
nothing.

Measured on the bundled 64-px model (docs/motion.md): warping 8- or 16-px features smears the face, as the
later layers were never trained to refine warped features; at 32 px the face keeps its identity and the
motion is explained by optical flow (share 0.6-0.7 for look, nod and tilt).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from muybridge.pose_fields import POSE_DIM

#: Training-time pose warps (``pose_p`` in the training config) draw each field uniformly in ``±`` this range
#: (``POSE_FIELDS`` order), scaled by ``pose_strength``: a little beyond the motion library's amplitudes.
TRAINING_RANGES = (15 * math.pi / 180, 0.1, 0.1, math.log(1.08), 0.2, 0.2)


def rest_pose(count: int) -> torch.Tensor:
    return torch.zeros(count, POSE_DIM)


def random_poses(count: int, p: float, strength: float, generator: torch.Generator) -> torch.Tensor:
    """``(count, 6)`` poses uniform in ``±strength * TRAINING_RANGES``, each row kept with probability ``p`` (the
    rest zero: the rest pose). Every draw comes from ``generator``, the same number whatever ``p``."""
    ranges = torch.tensor(TRAINING_RANGES) * strength
    poses = (torch.rand(count, POSE_DIM, generator=generator) * 2 - 1) * ranges
    keep = torch.rand(count, 1, generator=generator) < p
    return poses * keep


def sampling_grid(pose: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Where each output pixel reads its input, ``(N, H, W, 2)`` in ``grid_sample`` coordinates: the inverse of
    the similarity (tilt, scale, shift), then a first-order inverse of the head-turn and nod bump."""
    dtype = pose.dtype
    ys = (torch.arange(height, dtype=dtype) * 2 + 1) / height - 1  # pixel centres (align_corners=False)
    xs = (torch.arange(width, dtype=dtype) * 2 + 1) / width - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    bump = torch.cos(math.pi * gx / 2) * torch.cos(math.pi * gy / 2)
    tilt, shift_x, shift_y, log_scale, yaw, pitch = (column[:, None, None] for column in pose.unbind(1))
    px, py = gx[None] - shift_x, gy[None] - shift_y
    cos, sin, shrink = torch.cos(tilt), torch.sin(tilt), torch.exp(-log_scale)
    qx = shrink * (cos * px + sin * py) - yaw * bump
    qy = shrink * (-sin * px + cos * py) - pitch * bump
    return torch.stack([qx, qy], dim=-1)


def warp_features(x: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """Move the content of ``x`` ``(N, C, H, W)`` by ``pose`` ``(N, 6)``; rows of zeros are left untouched.

    Bicubic sampling (sharper than bilinear: +0.03-0.05 flow-explained share measured), borders replicated. An
    exported graph (ONNX) always warps: the rest pose samples every pixel at its own centre, which bicubic
    interpolation returns unchanged."""
    if not torch.compiler.is_exporting() and not bool(pose.any()):
        return x
    grid = sampling_grid(pose.to(torch.float32), x.shape[2], x.shape[3]).to(x.dtype)
    return F.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=False)

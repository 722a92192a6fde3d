"""Differentiable augmentation (DiffAugment, Zhao et al. 2020), applied to real and fake images alike.

Each augmentation is registered by name and takes ``(images, generator)``: every random draw comes from
the explicit ``torch.Generator``, so a resumed run replays the same augmentations. Add one with
``@register_augmentation("name")``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from muybridge.errors import MuybridgeError

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
AUGMENTATIONS: dict[str, Augmentation] = {}


def register_augmentation(name: str) -> Callable[[Augmentation], Augmentation]:
    def wrap(fn: Augmentation) -> Augmentation:
        AUGMENTATIONS[name] = fn
        return fn

    return wrap


def check_augmentations(names: Sequence[str]) -> None:
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise MuybridgeError(
            f"unknown augmentation {', '.join(unknown)}; known: {', '.join(sorted(AUGMENTATIONS))}"
        )


def augment(images: torch.Tensor, names: Sequence[str], generator: torch.Generator) -> torch.Tensor:
    for name in names:
        images = AUGMENTATIONS[name](images, generator)
    return images


def _uniform(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=generator).to(device)


@register_augmentation("color")
def color(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random brightness (±0.5), saturation (×0..2) and contrast (×0.5..1.5)."""
    n, device = images.shape[0], images.device
    images = images + (_uniform(n, generator, device) - 0.5)
    mean = images.mean(dim=1, keepdim=True)
    images = (images - mean) * (_uniform(n, generator, device) * 2) + mean
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * (_uniform(n, generator, device) + 0.5) + mean


@register_augmentation("translation")
def translation(images: torch.Tensor, generator: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift by up to ``ratio`` of the size in each direction, filling with zeros."""
    n, _, h, w = images.shape
    shift_y, shift_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-shift_y, shift_y + 1, (n, 1, 1), generator=generator).to(images.device)
    tx = torch.randint(-shift_x, shift_x + 1, (n, 1, 1), generator=generator).to(images.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=images.device), torch.arange(w, device=images.device),
                            indexing="ij")
    rows = torch.clamp(gy[None] + ty + 1, 0, h + 1)
    cols = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(images, [1, 1, 1, 1])
    flat = padded.permute(0, 2, 3, 1)  # (n, h+2, w+2, c)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return flat[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


@register_augmentation("cutout")
def cutout(images: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ``ratio`` of the size at a random position."""
    n, _, h, w = images.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    off_y = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), generator=generator).to(images.device)
    off_x = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), generator=generator).to(images.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=images.device), torch.arange(w, device=images.device),
                            indexing="ij")
    top, left = off_y - size_y // 2, off_x - size_x // 2
    inside = (gy[None] >= top) & (gy[None] < top + size_y) & (gx[None] >= left) & (gx[None] < left + size_x)
    return images * (~inside)[:, None].to(images.dtype)

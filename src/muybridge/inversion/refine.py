"""Refine latents by gradient descent so the decoder reproduces target images.

The encoder E gives a good first guess in one pass; refinement then optimises each latent with Adam
(cosine-decayed step size) on ``L1(pixels) + w_p · perceptual + w_n · (‖z‖/√D − 1)²``. The last term keeps
the latent on the shell where the standard-normal prior puts its mass (‖z‖ ≈ √D), so the result animates
like any sampled character instead of drifting to where the decoder was never trained.

Every sample's loss depends on its own latent only (the decoder renders each sample on its own and Adam
works element-wise), so a batch of photos refines exactly as each would alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from muybridge.generator import Generator
from muybridge.inversion.fidelity import RefineSettings
from muybridge.inversion.quality import PerceptualDistance
from muybridge.progress import Progress, report


def cosine_step_size(optimizer: torch.optim.Optimizer, lr: float, step: int, steps: int) -> None:
    """Set ``optimizer``'s step size for ``step`` of ``steps``: ``lr`` decayed to 0 along a half cosine."""
    for group in optimizer.param_groups:
        group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))


def norm_penalty(latents: torch.Tensor) -> torch.Tensor:
    """Per-latent ``(‖z‖/√D − 1)²``: zero on the prior's typical shell."""
    return (latents.norm(dim=1) / math.sqrt(latents.shape[1]) - 1.0) ** 2


def refine_latents(generator: Generator, targets: torch.Tensor, class_weights: torch.Tensor,
                   start: torch.Tensor, settings: RefineSettings | None = None,
                   progress: Progress | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Targets ``(N, 3, R, R)`` in [-1, 1], class weights ``(N, C)``, first latents ``(N, D)`` → refined
    latents ``(N, D)`` and the final per-sample loss terms (``pixel_l1``, ``perceptual``, ``norm``)."""
    settings = (settings or RefineSettings()).check()
    perceptual = PerceptualDistance(settings.perceptual_upsample) if settings.perceptual_weight > 0 else None
    latents = start.detach().clone().float()
    with torch.enable_grad():
        target_features = perceptual.features(targets) if perceptual is not None else []
        latents.requires_grad_(True)
        optimizer = torch.optim.Adam([latents], lr=settings.lr, betas=(0.9, 0.999))
        for step in range(settings.steps):
            cosine_step_size(optimizer, settings.lr, step, settings.steps)
            terms = _loss_terms(generator, latents, targets, class_weights, perceptual, target_features)
            total = terms["pixel_l1"] + settings.perceptual_weight * terms["perceptual"] \
                + settings.norm_weight * terms["norm"]
            optimizer.zero_grad(set_to_none=True)
            total.sum().backward()
            optimizer.step()
            report(progress, step + 1, settings.steps, loss=float(total.detach().mean()))
    with torch.no_grad():
        final = _loss_terms(generator, latents, targets, class_weights, perceptual, target_features)
    return latents.detach(), {name: value.detach() for name, value in final.items()}


def _loss_terms(generator: Generator, latents: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor,
                perceptual: PerceptualDistance | None,
                target_features: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    images = generator.decoder(latents, class_weights)
    pixel = F.l1_loss(images, targets, reduction="none").flatten(1).mean(1)
    distance = perceptual(images, target_features) if perceptual is not None else torch.zeros_like(pixel)
    return {"pixel_l1": pixel, "perceptual": distance, "norm": norm_penalty(latents)}

"""Pivotal tuning (PTI, Roich et al. 2021): once refinement has found the latent (the pivot), fine-tune the
decoder briefly so that it draws the photo at that pivot.

A latent alone cannot hold a particular pet's fur pattern, ears and background: the decoder's range is narrower
than the photos people have. Tuning moves the decoder a little towards the photo, around the pivot only: a
locality term keeps the tuned decoder drawing other latents (random characters of the prior, and the pivot's own
neighbours) as the base decoder does, so the pet keeps animating like any sampled character. The pose input is
untouched, so every motion works on the tuned decoder.

The result is a *delta*: tuned minus base decoder tensors, stored beside the latent file and applied with
:func:`tuned_generator`.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.inversion.fidelity import TuneSettings
from muybridge.inversion.quality import PerceptualDistance
from muybridge.inversion.refine import cosine_step_size
from muybridge.progress import Progress, report

Delta = dict[str, torch.Tensor]


def _locality_latents(pivots: torch.Tensor, count: int, rng: torch.Generator) -> torch.Tensor:
    """Half random prior latents, half points between a pivot and a random latent (its neighbourhood)."""
    prior = torch.randn(count, pivots.shape[1], generator=rng)
    which = torch.randint(0, pivots.shape[0], (count,), generator=rng)
    mix = torch.rand(count, 1, generator=rng) * (torch.arange(count)[:, None] % 2)  # 0 for even rows
    return pivots[which] + (prior - pivots[which]) * (1 - mix * 0.7)


def tune_decoder(generator: Generator, targets: torch.Tensor, class_weights: torch.Tensor, pivots: torch.Tensor,
                 settings: TuneSettings | None = None, progress: Progress | None = None) -> Delta:
    """Targets ``(N, 3, R, R)`` in [-1, 1] drawn at ``pivots`` ``(N, D)`` → the decoder delta (tuned − base,
    every parameter) that reproduces them. All N photos share one tuned decoder."""
    settings = (settings or TuneSettings()).check()
    base = generator.decoder
    tuned = copy.deepcopy(base).requires_grad_(True)
    perceptual = PerceptualDistance() if settings.perceptual_weight > 0 else None
    rng = torch.Generator().manual_seed(settings.seed)
    pivots = pivots.detach().float()
    with torch.enable_grad():
        target_features = perceptual.features(targets) if perceptual is not None else []
        optimizer = torch.optim.Adam(tuned.parameters(), lr=settings.lr, betas=(0.9, 0.999))
        for step in range(settings.steps):
            cosine_step_size(optimizer, settings.lr, step, settings.steps)
            images = tuned(pivots, class_weights)
            loss = F.l1_loss(images, targets)
            if perceptual is not None:
                loss = loss + settings.perceptual_weight * perceptual(images, target_features).mean()
            if settings.locality_weight > 0 and settings.locality_samples > 0:
                others = _locality_latents(pivots, settings.locality_samples, rng)
                weights = class_weights[torch.randint(0, len(class_weights), (len(others),), generator=rng)]
                with torch.no_grad():
                    expected = base(others, weights)
                loss = loss + settings.locality_weight * F.l1_loss(tuned(others, weights), expected)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            report(progress, step + 1, settings.steps, stage="tune", loss=float(loss.detach()))
    base_state = base.state_dict()
    return {name: (value.detach() - base_state[name]).contiguous() for name, value in tuned.state_dict().items()
            if value.is_floating_point()}


def tuned_generator(generator: Generator, delta: Delta, label: str = "delta") -> Generator:
    """``generator`` with ``delta`` added to its decoder (a copy: ``generator`` itself is unchanged). A delta
    whose names or shapes are not this decoder's is refused in one line naming ``label``."""
    state = generator.decoder.state_dict()
    for name, change in delta.items():
        if name not in state or state[name].shape != change.shape:
            found = tuple(state[name].shape) if name in state else "absent"
            raise MuybridgeError(f"{label}: tensor {name} {tuple(change.shape)} does not fit this decoder "
                                 f"({found}); invert the photo again with this model")
    decoder = copy.deepcopy(generator.decoder)
    decoder.load_state_dict({name: value + delta[name] if name in delta else value for name, value in state.items()})
    return Generator(generator.config, decoder, generator.encoder, generator.path, generator.requested_precision)

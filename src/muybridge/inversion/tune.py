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


#: Latents the locality term draws from, with the base decoder's images of them computed once: a fresh draw every
#: step cost a base-decoder pass per step (13 % of a step), and 128 keep the term varied over 300 steps of 4.
LOCALITY_POOL = 128


def _locality_latents(pivots: torch.Tensor, count: int, rng: torch.Generator) -> torch.Tensor:
    """Half random prior latents, half points between a pivot and a random latent (its neighbourhood)."""
    prior = torch.randn(count, pivots.shape[1], generator=rng)
    which = torch.randint(0, pivots.shape[0], (count,), generator=rng)
    mix = torch.rand(count, 1, generator=rng) * (torch.arange(count)[:, None] % 2)  # 0 for even rows
    return pivots[which] + (prior - pivots[which]) * (1 - mix * 0.7)


def tune_decoder(generator: Generator, targets: torch.Tensor, class_weights: torch.Tensor, pivots: torch.Tensor,
                 settings: TuneSettings | None = None, progress: Progress | None = None) -> Delta:
    """Targets ``(N, 3, R, R)`` in [-1, 1] drawn at ``pivots`` ``(N, D)`` → the decoder delta (tuned − base,
    every parameter) that reproduces them. All N photos share one tuned decoder.

    Each step decodes the pivots and the step's locality latents in one batch (the decoder draws every sample on
    its own, so this is the same loss as two passes, in fewer and larger operations)."""
    settings = (settings or TuneSettings()).check()
    base = generator.decoder
    tuned = copy.deepcopy(base).requires_grad_(True)
    perceptual = PerceptualDistance() if settings.perceptual_weight > 0 else None
    rng = torch.Generator().manual_seed(settings.seed)
    pivots = pivots.detach().float()
    count = len(pivots)
    local = settings.locality_samples if settings.locality_weight > 0 else 0
    pool = _locality_latents(pivots, LOCALITY_POOL, rng) if local else pivots[:0]
    pool_weights = class_weights[torch.randint(0, len(class_weights), (len(pool),), generator=rng)]
    with torch.no_grad():
        pool_images = base(pool, pool_weights) if local else targets[:0]
    with torch.enable_grad():
        target_features = perceptual.features(targets) if perceptual is not None else []
        optimizer = torch.optim.Adam(tuned.parameters(), lr=settings.lr, betas=(0.9, 0.999))
        for step in range(settings.steps):
            cosine_step_size(optimizer, settings.lr, step, settings.steps)
            picks = torch.randint(0, max(len(pool), 1), (local,), generator=rng)
            images = tuned(torch.cat([pivots, pool[picks]]), torch.cat([class_weights, pool_weights[picks]]))
            loss = F.l1_loss(images[:count], targets)
            if perceptual is not None:
                loss = loss + settings.perceptual_weight * perceptual(images[:count], target_features).mean()
            if local:
                loss = loss + settings.locality_weight * F.l1_loss(images[count:], pool_images[picks])
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

"""Adversarial losses, registered by name. A loss turns discriminator logits into the two objectives.

Add one with ``@register_loss("name")`` on a subclass of :class:`GANLoss` and name it in the config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F

from muybridge.errors import MuybridgeError


class GANLoss:
    """``real_logits[i]`` and ``fake_logits[i]`` are D's logits of the step's i-th real and i-th fake (same class)."""

    name: ClassVar[str] = ""

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator(self, fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
        """``real_logits`` are detached: the generator moves only its fakes (a relativistic loss compares the two)."""
        raise NotImplementedError


LOSSES: dict[str, type[GANLoss]] = {}


def register_loss(name: str) -> Callable[[type[GANLoss]], type[GANLoss]]:
    def wrap(cls: type[GANLoss]) -> type[GANLoss]:
        cls.name = name
        LOSSES[name] = cls
        return cls

    return wrap


def get_loss(name: str) -> GANLoss:
    try:
        return LOSSES[name]()
    except KeyError:
        raise MuybridgeError(f"unknown loss '{name}'; known: {', '.join(sorted(LOSSES))}") from None


@register_loss("nonsaturating")
class NonSaturatingLoss(GANLoss):
    """The logistic loss of Goodfellow et al. with the non-saturating generator objective."""

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def generator(self, fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()


@register_loss("hinge")
class HingeLoss(GANLoss):
    """The hinge loss of Lim & Ye / Miyato et al. (SNGAN, BigGAN)."""

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def generator(self, fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


@register_loss("relativistic")
class RelativisticPairingLoss(GANLoss):
    """The relativistic pairing loss (RpGAN, Sun et al. 2020) that R3GAN (Huang et al. 2024) pairs with R1 and R2
    (``r1_gamma`` and ``r2_gamma``): D scores how much more real each real looks than its paired fake, so its
    landscape has no flat regions where a collapsed generator could rest."""

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(fake_logits - real_logits).mean()

    def generator(self, fake_logits: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(real_logits - fake_logits).mean()


def gradient_penalty(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The squared gradient norm of D at ``images`` (which need grad): R1 (Mescheder et al. 2018) on reals, R2 on
    fakes."""
    (grad,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()

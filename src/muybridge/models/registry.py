"""Architectures are registered by name; a model config names one and holds its parameters.

An architecture builds three networks from ``(resolution, classes, latent_dim, params)``:

* decoder ``G(latents, class_weights) -> images``: latents ``(N, latent_dim)``, class weights ``(N, C)``
  (one-hot for a class, a convex mix for morphs), images ``(N, 3, R, R)`` in ``[-1, 1]``.
  It must treat every sample independently (no batch statistics at inference), so that a
  ``(class, seed)`` pair renders the same pixels whatever the batch.
* encoder ``E(images) -> latents``: the inverse map, trained alongside.
* discriminator ``D(images, class_index) -> logits (N,)``.

Add one by subclassing :class:`Architecture` and decorating it with ``@register_architecture("name")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from muybridge.errors import MuybridgeError


class Decoder(nn.Module):
    """Base for decoders: holds the sizes and exposes the linear map that first reads the latents."""

    #: Whether ``forward`` takes ``pose`` (N, 6): motions that keep the character (models/pose.py).
    takes_pose = False

    def __init__(self, resolution: int, num_classes: int, latent_dim: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.num_classes = num_classes
        self.latent_dim = latent_dim

    def latent_projection(self) -> torch.Tensor:
        """Weight ``(out_features, latent_dim)`` of the first layer applied to the latents.

        Closed-form factorization (SeFa) takes its top right-singular vectors as semantic directions.
        """
        raise NotImplementedError


@dataclass
class Networks:
    decoder: Decoder
    encoder: nn.Module
    discriminator: nn.Module


class Architecture:
    """A named recipe for the three networks. ``defaults`` lists every parameter it accepts."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    #: Training settings this architecture is tuned for; a run's config overrides them.
    training_defaults: ClassVar[dict[str, Any]] = {}
    #: The values of its parameters (keys of ``defaults``) that ``muybridge tune`` tries, its default among them;
    #: empty: tuning searches the training settings (learning rates, betas, R1, augmentations) only.
    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init__(self, resolution: int, num_classes: int, latent_dim: int, params: dict[str, Any]) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise MuybridgeError(
                f"architecture '{self.name}' has no parameter {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(self.defaults)) or 'none'}"
            )
        for key, value in params.items():
            check_param(self.name, key, value, self.defaults[key])
        self.resolution = resolution
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self.params: dict[str, Any] = {**self.defaults_for(resolution), **params}

    @classmethod
    def defaults_for(cls, resolution: int) -> dict[str, Any]:
        """The parameters a model of this ``resolution`` gets where its config is silent (``defaults``, unless
        the architecture sizes some to the picture)."""
        return dict(cls.defaults)

    def build_decoder(self) -> Decoder:
        raise NotImplementedError

    def build_encoder(self) -> nn.Module:
        raise NotImplementedError

    def build_discriminator(self) -> nn.Module:
        raise NotImplementedError

    def build(self) -> Networks:
        return Networks(self.build_decoder(), self.build_encoder(), self.build_discriminator())

    def grown_state(self, part: str, state: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor],
                    source_resolution: int) -> dict[str, torch.Tensor] | None:
        """Progressive growing: the weights of ``part`` (a :class:`Networks` field) trained at the lower
        ``source_resolution``, laid out as this architecture's ``fresh`` (newly initialised) state of the same
        part: the layers both resolutions share keep what they learned, the new ones start from ``fresh``.
        ``None``: this architecture cannot grow a model (the default)."""
        return None

    def widened_state(self, part: str, state: dict[str, torch.Tensor],
                      fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """The weights of ``part`` trained at this resolution with other widths, laid out as this architecture's
        ``fresh`` state (called where the tensors are the same but some shapes differ), so that the networks compute
        what they did. ``None``: this architecture cannot widen a model (the default)."""
        return None


ARCHITECTURES: dict[str, type[Architecture]] = {}


def register_architecture(name: str) -> Callable[[type[Architecture]], type[Architecture]]:
    """Class decorator: ``@register_architecture("mine")`` makes ``architecture: mine`` usable in configs."""

    def wrap(cls: type[Architecture]) -> type[Architecture]:
        unknown = sorted(set(cls.search_space) - set(cls.defaults))
        if unknown:
            raise MuybridgeError(f"architecture '{name}': search_space names {', '.join(unknown)}, "
                                 "which are not among its defaults")
        cls.name = name
        ARCHITECTURES[name] = cls
        return cls

    return wrap


def get_architecture(name: str) -> type[Architecture]:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise MuybridgeError(
            f"unknown architecture '{name}'; known: {', '.join(sorted(ARCHITECTURES))}"
        ) from None


#: How far a size-like parameter may go beyond its default.
MAX_PARAM_FACTOR = 16


def check_param(architecture: str, key: str, value: Any, default: Any) -> None:
    """A parameter has its default's type (an int where a float is expected is fine), and a size-like one (whose
    default is a positive number) is positive and at most :data:`MAX_PARAM_FACTOR` times its default: a bad
    config.json is refused in one line, not by torch or by running out of memory."""
    expected = float if isinstance(default, float) else type(default)
    fits = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
    if expected is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not fits:
        raise MuybridgeError(f"architecture '{architecture}': parameter {key} must be {expected.__name__}, "
                             f"got {value!r}")
    if isinstance(default, int | float) and not isinstance(default, bool) and default > 0 and \
            not 0 < value <= MAX_PARAM_FACTOR * default:
        raise MuybridgeError(f"architecture '{architecture}': parameter {key} must be positive and at most "
                             f"{MAX_PARAM_FACTOR * default:g} ({MAX_PARAM_FACTOR}x its default), got {value!r}")

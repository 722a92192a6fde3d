"""Characters: who is drawn. A (class, seed) key such as ``cat:7`` or a latent plus class weights.

The core idea that animation, inversion and the studio share: paths move characters, latent files store them
(an inverted photo is a character without a seed), the CLI and the API parse their keys. Pixels and latents
come from :mod:`muybridge.generator`; keys, class weights and the seed → latent rule from :mod:`muybridge.keys`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.keys import MAX_MIX_TERMS as MAX_MIX_TERMS  # re-exported: keys are parsed in muybridge.keys
from muybridge.keys import MAX_SEED as MAX_SEED
from muybridge.keys import ClassSpec, format_key
from muybridge.keys import parse_key as parse_key


@dataclass(frozen=True)
class Character:
    """One character: where it sits in latent space and which class (or class mix) it is."""

    latent: torch.Tensor  # (latent_dim,)
    class_weights: torch.Tensor  # (C,)
    label: str
    seed: int | None = None


def character(generator: Generator, class_spec: ClassSpec, seed: int) -> Character:
    """The character a (class, seed) key names."""
    return character_from_latent(generator, class_spec, generator.latents([seed])[0], seed=seed)


def character_from_latent(generator: Generator, class_spec: ClassSpec, latent: torch.Tensor,
                          seed: int | None = None) -> Character:
    """A character from a given latent (e.g. read from a file or returned by ``Generator.encode``)."""
    if latent.shape != (generator.latent_dim,):
        raise MuybridgeError(f"a latent must have {generator.latent_dim} values, "
                             f"got shape {tuple(latent.shape)}")
    weights = generator.class_weights([class_spec])[0]
    return Character(latent.float(), weights, format_key(class_spec, seed), seed)

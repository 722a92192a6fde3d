"""Characters: who is drawn. A (class, seed) key such as ``cat:7`` or a latent plus class weights.

The core idea that animation, inversion and the studio share: paths move characters, latent files store them
(an inverted photo is a character without a seed), the CLI and the API parse their keys. Pixels and latents
come from :mod:`muybridge.generator` (a seed names one latent forever: :func:`~muybridge.generator.seeds_to_latents`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from muybridge.errors import MuybridgeError
from muybridge.generator import ClassSpec, Generator


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


MAX_SEED = 2**31 - 1
"""Seeds are 0..2**31-1 everywhere (CLI, API, keys)."""
MAX_MIX_TERMS = 64
"""Terms in one class mix (``cat*0.7+dog*0.3`` has two)."""
MAX_KEY_CHARS = 2048

_KEY = re.compile(r"^(?P<classes>[^:]+?)(?::(?P<seed>\d+))?$")
_MIX_TERM = re.compile(r"^(?P<name>[^*+]+?)(?:\*(?P<weight>\d+(?:\.\d*)?|\.\d+))?$")


def parse_key(text: str) -> tuple[ClassSpec, int | None]:
    """``CLASS[:SEED]`` → (class spec, seed or None). CLASS is a name or a mix ``cat*0.7+dog*0.3``.

    Limits: a seed is 0..:data:`MAX_SEED`, a mix has at most :data:`MAX_MIX_TERMS` terms with finite weights,
    a key at most :data:`MAX_KEY_CHARS` characters.
    """
    if text.count("+") >= MAX_MIX_TERMS:
        raise MuybridgeError(f"class mix of {text.count('+') + 1} terms: at most {MAX_MIX_TERMS} are allowed")
    if len(text) > MAX_KEY_CHARS:
        raise MuybridgeError(f"character key of {len(text)} characters: at most {MAX_KEY_CHARS} are allowed")
    match = _KEY.match(text.strip())
    if not match:
        raise MuybridgeError(f"bad character key '{text}': expected CLASS[:SEED], "
                             "e.g. cat:7 or cat*0.5+dog*0.5:7")
    seed = None
    if match["seed"] is not None:
        digits = match["seed"]
        if len(digits) > len(str(MAX_SEED)) or not digits.isascii() or int(digits) > MAX_SEED:
            shown = digits if len(digits) <= 20 else digits[:17] + "..."
            raise MuybridgeError(f"seed {shown} in character key '{match['classes'][:40]}:...': "
                                 f"seeds are 0..{MAX_SEED}")
        seed = int(digits)
    terms = match["classes"].split("+")
    if len(terms) == 1 and "*" not in terms[0]:
        return terms[0].strip(), seed
    mix: dict[str, float] = {}
    for term in terms:
        part = _MIX_TERM.match(term.strip())
        if not part:
            raise MuybridgeError(f"bad class mix in '{text}': expected NAME*WEIGHT+NAME*WEIGHT, "
                                 "e.g. cat*0.7+dog*0.3")
        weight = float(part["weight"] or 1.0)
        if not math.isfinite(weight):
            raise MuybridgeError(f"class weight {part['weight'][:20]} in '{term.strip()[:40]}' is too large")
        mix[part["name"].strip()] = mix.get(part["name"].strip(), 0.0) + weight
    return mix, seed


def format_key(class_spec: ClassSpec, seed: int | None) -> str:
    names = class_spec if isinstance(class_spec, str) else "+".join(f"{k}*{v:g}" for k, v in class_spec.items())
    return names if seed is None else f"{names}:{seed}"

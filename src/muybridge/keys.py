"""Who a key names, in plain numpy: ``CLASS[:SEED]`` keys, class weights, and the latent a seed names.

No torch here, so that the CLI's torch-free loop (:mod:`muybridge.animation.light`) and the torch code draw
the very same characters from one rule.

The seed rule: ``z`` of a seed is what ``torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed))``
draws, computed without torch (equal to within 3e-7; torch's own vectorised logarithm and sine differ from
numpy's in the last bit). It is reproducible in any language: an MT19937 seeded with ``seed`` (``init_genrand``),
each 32-bit output ``x`` gives the uniform ``(x & 0xFFFFFF) / 2**24``, and every block of 16 uniforms ``u``
becomes 16 normals by Box-Muller: for ``j < 8``, ``r = sqrt(-2 ln(1 - u[j]))``, ``t = 2 pi u[j + 8]``,
``z[j] = r cos t``, ``z[j + 8] = r sin t``. When the count is not a multiple of 16, the last 16 values are
redrawn from uniforms ``count .. count + 15`` (the ones between the last whole block and ``count`` are skipped; a
count under 16 takes the first values of one block).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from muybridge.errors import MuybridgeError

ClassSpec = str | Mapping[str, float]
#: A character named by a key: its class (or mix) and seed.
Key = tuple[ClassSpec, int]

MAX_SEED = 2**31 - 1
"""Seeds are 0..2**31-1 everywhere (CLI, API, keys)."""
MAX_MIX_TERMS = 64
"""Terms in one class mix (``cat*0.7+dog*0.3`` has two)."""
MAX_KEY_CHARS = 2048

_KEY = re.compile(r"^(?P<classes>[^:]+?)(?::(?P<seed>\d+))?$")
_MIX_TERM = re.compile(r"^(?P<name>[^*+]+?)(?:\*(?P<weight>\d+(?:\.\d*)?|\.\d+))?$")
_BLOCK = 16


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


def character_key(text: str, seed_option: int | None = None, default_seed: int = 0) -> Key:
    """``cat:7`` → ("cat", 7); the seed may come from ``--seed`` instead, but not from both."""
    class_spec, seed = parse_key(text)
    if seed is not None and seed_option is not None:
        raise MuybridgeError(f"'{text}' already names seed {seed}; drop --seed {seed_option}")
    if seed is not None:
        return class_spec, seed
    return class_spec, seed_option if seed_option is not None else default_seed


def class_index(classes: Sequence[str], name: str) -> int:
    """Where ``name`` is in a model's ``classes``; an unknown name is refused in one line, with the nearest one."""
    try:
        return list(classes).index(name)
    except ValueError:
        lowered = {known.lower(): known for known in classes}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        hint = f"did you mean '{lowered[close[0]]}'? " if close else ""
        raise MuybridgeError(f"unknown class '{name}'; {hint}this model knows: {', '.join(classes)}") from None


def class_weight_rows(classes: Sequence[str], specs: Sequence[ClassSpec]) -> np.ndarray:
    """float32 ``(len(specs), len(classes))``: a class name is one-hot, a ``{name: weight}`` mix sums to 1."""
    weights = np.zeros((len(specs), len(classes)), np.float32)
    for row, spec in enumerate(specs):
        if isinstance(spec, str):
            weights[row, class_index(classes, spec)] = 1.0
            continue
        for name, weight in spec.items():
            weights[row, class_index(classes, name)] += float(weight)
        total = float(weights[row].sum())
        if total <= 0:
            raise MuybridgeError(f"class mix {dict(spec)} has no positive weight")
        weights[row] /= total
    return weights


def normal_draws(seed: int, count: int) -> np.ndarray:
    """``count`` standard normal float32 values of ``seed``, by the rule in this module's docstring."""
    stream = np.random.RandomState(seed & 0xFFFFFFFF)  # MT19937 seeded by init_genrand, as torch's CPU generator
    size = max(count, _BLOCK)
    tail = size % _BLOCK
    raw = stream.randint(0, 2**32, size=size + (_BLOCK if tail else 0), dtype=np.uint64)
    uniforms = (raw & 0xFFFFFF).astype(np.float32) * np.float32(2.0**-24)
    values = _box_muller(uniforms[: size - tail])
    if tail:  # the last 16 values again, from the 16 uniforms after the first ``size``
        values = np.concatenate([values[: size - _BLOCK], _box_muller(uniforms[size:])])
    return values[:count]


def _box_muller(uniforms: np.ndarray) -> np.ndarray:
    """Blocks of 16 uniforms → 16 normals each: the first 8 pair with the last 8."""
    blocks = uniforms.reshape(-1, 2, _BLOCK // 2)
    radius = np.sqrt(np.float32(-2.0) * np.log(np.float32(1.0) - blocks[:, 0]))
    angle = np.float32(2.0 * math.pi) * blocks[:, 1]
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).reshape(-1).astype(np.float32)


def seed_latents(seeds: Sequence[int], latent_dim: int) -> np.ndarray:
    """float32 ``(len(seeds), latent_dim)``: the latent each seed names, independent of batch and order."""
    rows = [normal_draws(int(seed), latent_dim) for seed in seeds]
    return np.stack(rows) if rows else np.zeros((0, latent_dim), np.float32)

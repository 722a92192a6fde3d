"""Semantic directions in latent space, found without labels, and the names users give them.

* SeFa (Shen & Zhou 2021, closed-form factorization): the top eigenvectors of ``WᵀW`` where ``W`` is the
  weight that first reads the latents (``decoder.latent_projection()``), rows normalised as in the paper.
  Moving along them changes the first layer's output the most.
* GANSpace (Härkönen et al. 2020): PCA of first-layer features ``W z`` over many sampled ``z``; each
  principal axis is mapped back to latent space by least-squares regression of ``z`` on the PCA
  coordinates. For a linear first layer this is the SVD of ``W`` without SeFa's row normalisation,
  estimated from samples.

A direction is a unit vector in latent space (float32 numpy, like the seeds' latents: :mod:`muybridge.keys`), stored
with its method and index. Names live beside the model in ``directions.json`` so ``animate motion --direction nod``
finds them; the strongest :data:`TOP_DIRECTIONS` of each method travel in the model's ONNX graph
(:mod:`muybridge.engines.onnx`), so the torch-free verbs (:mod:`muybridge.animation.light`) swing along them too.
Finding directions needs torch; naming, reading and resolving them does not (torch is imported where it is used).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from muybridge.animation.export import save_image
from muybridge.animation.options import TOP_DIRECTIONS
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_json, json_floats
from muybridge.progress import Progress, report

if TYPE_CHECKING:
    import torch

    from muybridge.generator import Generator

METHODS = ("sefa", "ganspace")
DIRECTIONS_NAME = "directions.json"
DIRECTIONS_FORMAT = "muybridge-directions"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Direction:
    vector: np.ndarray  # (latent_dim,) float32, unit length
    method: str
    index: int
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.method}:{self.index}"


def latent_projection(generator: Generator) -> torch.Tensor:
    """``W`` ``(out_features, latent_dim)`` in float64: the decoder's first weights applied to the latents."""
    from muybridge.models import Decoder

    decoder = generator.decoder
    if not isinstance(decoder, Decoder):
        raise MuybridgeError(f"{generator.name}: its decoder does not expose latent_projection()")
    return decoder.latent_projection().detach().double()


def _fix_sign(vectors: torch.Tensor) -> torch.Tensor:
    """Eigenvectors have no sign: make each row's largest-magnitude entry positive, so indices are stable."""
    peaks = vectors.gather(1, vectors.abs().argmax(dim=1, keepdim=True))
    return vectors * peaks.sign()


def _unit_directions(vectors: torch.Tensor, method: str) -> list[Direction]:
    rows = vectors.float().numpy()
    return [Direction(row / np.linalg.norm(row), method, i) for i, row in enumerate(rows)]


def sefa(generator: Generator, top: int = TOP_DIRECTIONS) -> list[Direction]:
    """The ``top`` closed-form directions, strongest first."""
    import torch

    weight = latent_projection(generator)
    weight = weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
    _, eigenvectors = torch.linalg.eigh(weight.T @ weight)  # ascending eigenvalues
    return _unit_directions(_fix_sign(eigenvectors.flip(1).T[: _check_top(generator, top)]), "sefa")


def ganspace(generator: Generator, top: int = TOP_DIRECTIONS, samples: int = 4096, seed: int = 0) -> list[Direction]:
    """The ``top`` principal directions of first-layer features, mapped back to latent space."""
    import torch

    top = _check_top(generator, top)
    draws = torch.Generator().manual_seed(seed)
    latents = torch.randn(samples, generator.latent_dim, generator=draws).double()
    features = latents @ latent_projection(generator).T
    centred = features - features.mean(dim=0)
    _, _, components = torch.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ components[:top].T  # (samples, top)
    regression = torch.linalg.lstsq(coordinates, latents - latents.mean(dim=0)).solution  # (top, latent_dim)
    return _unit_directions(_fix_sign(regression / regression.norm(dim=1, keepdim=True)), "ganspace")


def _check_top(generator: Generator, top: int) -> int:
    if not 1 <= top <= generator.latent_dim:
        raise MuybridgeError(f"--top must be between 1 and the latent size {generator.latent_dim}, got {top}")
    return top


def compute_directions(generator: Generator, method: str = "sefa", top: int = TOP_DIRECTIONS) -> list[Direction]:
    if method == "sefa":
        return sefa(generator, top)
    if method == "ganspace":
        return ganspace(generator, top)
    raise MuybridgeError(f"unknown direction method '{method}'; known: {', '.join(METHODS)}")


def strongest_directions(generator: Generator) -> dict[str, list[list[float]]]:
    """The strongest :data:`TOP_DIRECTIONS` of each method (fewer where the latents are shorter), rounded as
    ``directions.json`` stores them: what a model's ONNX graph carries."""
    top = min(TOP_DIRECTIONS, generator.latent_dim)
    return {method: [json_floats(direction.vector) for direction in compute_directions(generator, method, top)]
            for method in METHODS}


def directions_file(model_path: Path) -> Path:
    return Path(model_path) / DIRECTIONS_NAME


def named_directions(model_path: Path | None) -> dict[str, Direction]:
    """The directions named in ``directions.json`` beside the model (empty when there is none)."""
    if model_path is None or not directions_file(model_path).is_file():
        return {}
    path = directions_file(model_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["directions"]
        return {name: Direction(np.asarray(entry["vector"], dtype=np.float32), str(entry["method"]),
                                int(entry["index"]), name) for name, entry in entries.items()}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MuybridgeError(f"{path}: not a valid directions file ({type(exc).__name__}: {exc})") from None


def _parse_index_spec(spec: str) -> tuple[str, int] | None:
    """``"3"`` → ("sefa", 3); ``"ganspace:2"`` → ("ganspace", 2); anything else → None (maybe a name)."""
    method, _, index = spec.rpartition(":")
    if index.isdigit() and method in ("", *METHODS):
        return method or "sefa", int(index)
    return None


def find_direction(spec: str, model_path: Path | None, latent_dim: int,
                   computed: Callable[[str, int], Direction | None]) -> Direction | None:
    """A direction by name (from ``directions.json`` beside the model), by index (SeFa) or by ``method:index``; an
    index is looked up by ``computed(method, index)``, which may answer None (then so does this). Unknown names and
    indices out of range are refused in one line."""
    named = named_directions(model_path)
    if spec in named:
        direction = named[spec]
        if direction.vector.shape != (latent_dim,):
            raise MuybridgeError(f"{directions_file(model_path or Path('.'))}: direction '{spec}' has "
                                 f"{direction.vector.size} values, the model's latents {latent_dim}")
        return direction
    parsed = _parse_index_spec(spec)
    if parsed is None:
        known = ", ".join(sorted(named)) or "none named yet"
        raise MuybridgeError(f"unknown direction '{spec}'; known: {known} (or an index such as 0, sefa:3, "
                             f"ganspace:1; name one with 'muybridge directions name')")
    method, index = parsed
    if index >= latent_dim:
        raise MuybridgeError(f"direction index {index} is out of range: this model has {latent_dim}")
    return computed(method, index)


def resolve_direction(generator: Generator, spec: str) -> Direction:
    """A direction of ``generator`` by name, by index (SeFa) or by ``method:index`` (computed here)."""
    def computed(method: str, index: int) -> Direction:
        return compute_directions(generator, method, index + 1)[index]

    direction = find_direction(spec, generator.path, generator.latent_dim, computed)
    assert direction is not None  # computed always answers
    return direction


def stored_direction(spec: str, model_path: Path, latent_dim: int,
                     stored: Mapping[str, Sequence[Sequence[float]]]) -> Direction | None:
    """A direction by name, or by index among ``stored`` (a graph's strongest directions of each method); None for
    an index beyond them (torch computes it)."""
    def computed(method: str, index: int) -> Direction | None:
        rows = stored.get(method, ())
        return Direction(np.asarray(rows[index], np.float32), method, index) if index < len(rows) else None

    return find_direction(spec, model_path, latent_dim, computed)


def name_direction(generator: Generator, spec: str, name: str) -> Path:
    """Save ``spec`` (an index or ``method:index``) under ``name`` in the model's ``directions.json``."""
    if not _NAME.match(name) or name in METHODS:
        raise MuybridgeError(f"bad direction name '{name}': use a letter then letters, digits, '-' or '_' "
                             f"(up to 40), and not {' or '.join(METHODS)}")
    parsed = _parse_index_spec(spec)
    if parsed is None:
        raise MuybridgeError(f"bad direction index '{spec}': expected a number or METHOD:NUMBER, "
                             "e.g. 3 or ganspace:3")
    if generator.path is None:
        raise MuybridgeError("this generator was not loaded from a model folder: "
                             "there is nowhere to save names")
    folder = generator.path
    if not os.access(folder, os.W_OK):
        raise MuybridgeError(f"{folder}: model folder is read-only; copy it (cp -r {folder} my-model) "
                             "and name directions in the copy: "
                             f"muybridge directions name my-model {spec} {name}")
    direction = resolve_direction(generator, spec)
    path = directions_file(folder)
    existing = {}
    if path.is_file():
        named_directions(folder)  # refuses a corrupt file rather than overwriting it
        existing = json.loads(path.read_text(encoding="utf-8"))["directions"]
    existing[name] = {"method": direction.method, "index": direction.index, "vector": json_floats(direction.vector)}
    atomic_write_json(path, {"format": DIRECTIONS_FORMAT, "version": 1, "directions": existing})
    return path


def preview_strip(generator: Generator, direction: Direction, characters: Sequence[tuple[str, int]],
                  offsets: Sequence[float], truncation: float = 1.0) -> np.ndarray:
    """A grid image: one row per (class, seed), one column per offset along ``direction``. uint8 (H, W, 3)."""
    import torch

    from muybridge.generator import to_uint8

    classes = [c for c, _ in characters]
    base = generator.latents([s for _, s in characters])  # (rows, D)
    steps = torch.tensor(list(offsets), dtype=torch.float32)
    vector = torch.from_numpy(direction.vector)
    latents = (base[:, None, :] + steps[None, :, None] * vector).reshape(-1, generator.latent_dim)
    weights = generator.class_weights([c for c in classes for _ in offsets])
    images = to_uint8(generator.decode(latents, weights, truncation))
    rows, cols = len(characters), len(offsets)
    res = generator.resolution
    return images.reshape(rows, cols, res, res, 3).transpose(0, 2, 1, 3, 4).reshape(rows * res, cols * res, 3)


def write_previews(generator: Generator, folder: str | os.PathLike[str], method: str = "sefa",
                   top: int = TOP_DIRECTIONS, amplitude: float = 3.0, truncation: float = 1.0,
                   progress: Progress | None = None) -> list[Path]:
    """``METHOD_II.png`` per direction in ``folder``: up to 6 characters (rows) × 7 offsets in ±amplitude.

    Small models are upscaled (nearest neighbour) so a cell is at least ~96 px and faces can be judged.
    """
    if not 0 < amplitude <= 100:
        raise MuybridgeError(f"--amplitude must be above 0 and at most 100, got {amplitude:g}")
    found = compute_directions(generator, method, top)
    classes = generator.classes
    rows = [(classes[i % len(classes)], i) for i in range(min(6, 2 * len(classes)))]
    offsets = np.linspace(-amplitude, amplitude, 7).tolist()
    scale = max(1, 96 // generator.resolution)
    files = []
    for done, direction in enumerate(found, start=1):
        strip = preview_strip(generator, direction, rows, offsets, truncation)
        strip = strip.repeat(scale, axis=0).repeat(scale, axis=1)
        files.append(save_image(strip, Path(folder) / f"{method}_{direction.index:02d}.png"))
        report(progress, done, len(found))
    return files

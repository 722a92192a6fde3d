"""Inception features of image arrays, and the on-disk cache of a dataset's reference features.

A reference-feature file is keyed by everything its numbers depend on: the dataset's ``content_hash``, the
split, the class, which images were selected, and the feature protocol (network sha256, resize rule,
precision). The same key is never computed twice: the second call reads the file, and a subset of a split whose
whole is cached (5,000 of the training photos after the published protocol scored all of them) is read from it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path, cache_dir
from muybridge.metrics.inception import FEATURE_DIM, load_inception, prepare_input, protocol
from muybridge.progress import Progress, report

PRECISIONS = ("fp32", "bf16")
DEFAULT_BATCH_SIZE = 32
SELECTION_SEED = 0


class ImageDataset(Protocol):
    """What metrics need from a dataset (``muybridge.data.PreparedDataset`` has it)."""

    classes: list[str]
    resolution: int
    content_hash: str

    def images(self, split: str | None = None, class_name: str | None = None) -> np.ndarray: ...

    def labels(self, split: str | None = None, class_name: str | None = None) -> np.ndarray: ...


@dataclass
class PassStats:
    """Images pushed through Inception and the seconds it took, summed over calls."""

    images: int = 0
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


@dataclass
class ReferenceFeatures:
    features: np.ndarray  # (N, 2048) float64
    labels: np.ndarray  # (N,) int64 class indices into the dataset's classes
    key: str
    selection: dict[str, Any] = field(default_factory=dict)
    from_cache: bool = False


def feature_protocol(precision: str = "fp32",
                     network_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    if precision not in PRECISIONS:
        raise MuybridgeError(f"unknown feature precision {precision!r} (choose {', '.join(PRECISIONS)})")
    return {**protocol(load_inception(network_path)), "precision": precision}


def extract_features(images: np.ndarray, progress: Progress | None = None,
                     batch_size: int = DEFAULT_BATCH_SIZE, precision: str = "fp32",
                     stats: PassStats | None = None,
                     network_path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` images → ``(N, 2048)`` float64 Inception pool3 features.

    ``precision="bf16"`` runs the network under bfloat16 autocast (faster on CPUs with AVX512-BF16; the
    benchmark reports how far its FID moves from the fp32 default).
    """
    if precision not in PRECISIONS:
        raise MuybridgeError(f"unknown feature precision {precision!r} (choose {', '.join(PRECISIONS)})")
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise MuybridgeError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    network = load_inception(network_path)
    total = len(images)
    out = np.empty((total, FEATURE_DIM), dtype=np.float64)
    started = time.perf_counter()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        for start in range(0, total, batch_size):
            batch = prepare_input(images[start:start + batch_size])
            out[start:start + len(batch)] = network(batch).float().numpy()
            done = start + len(batch)
            report(progress, done, total, images_per_s=done / (time.perf_counter() - started))
    if stats is not None:
        stats.images += total
        stats.seconds += time.perf_counter() - started
    return out


def select_indices(count: int, n: int | None) -> tuple[np.ndarray, dict[str, Any]]:
    """All ``count`` images when ``n`` covers them, else a fixed random subset of ``n`` (in dataset order)."""
    if n is None or n >= count:
        return np.arange(count), {"rule": "all", "n": count, "of": count}
    if n < 1:
        raise MuybridgeError(f"need at least 1 reference image, asked for {n}")
    chosen = np.sort(np.random.default_rng(SELECTION_SEED).choice(count, size=n, replace=False))
    return chosen, {"rule": f"numpy default_rng({SELECTION_SEED}).choice without replacement, sorted",
                    "n": n, "of": count}


def cache_key(content_hash: str, split: str | None, class_name: str | None, selection: dict[str, Any],
              feature_proto: dict[str, Any]) -> str:
    """Hash of what the features depend on (the network file's location is not among them, its hash is)."""
    identity = {"content_hash": content_hash, "split": split, "class": class_name, "selection": selection,
                "protocol": {k: v for k, v in feature_proto.items() if k != "network_file"}}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def reference_features(dataset: ImageDataset, split: str | None = "heldout", class_name: str | None = None,
                       n: int | None = None, progress: Progress | None = None,
                       batch_size: int = DEFAULT_BATCH_SIZE, precision: str = "fp32",
                       stats: PassStats | None = None, folder: Path | None = None) -> ReferenceFeatures:
    """Features of (up to ``n`` of) a dataset split's images, read from the cache or computed and cached."""
    labels = np.asarray(dataset.labels(split, class_name), dtype=np.int64)
    if len(labels) == 0:
        raise MuybridgeError(f"{getattr(dataset, 'path', 'dataset')}: no images in split {split!r}"
                             + (f" of class {class_name!r}" if class_name else ""))
    indices, selection = select_indices(len(labels), n)
    proto = feature_protocol(precision)
    key = cache_key(dataset.content_hash, split, class_name, selection, proto)
    path = (folder or cache_dir("features")) / f"{key}.npz"
    cached = _read_cache(path, len(indices))
    if cached is None and selection["rule"] != "all":
        _, whole = select_indices(len(labels), None)
        cached = _read_cache(path.with_name(f"{cache_key(dataset.content_hash, split, class_name, whole, proto)}.npz"),
                             len(labels))
        cached = None if cached is None else cached[indices]
    if cached is not None:
        return ReferenceFeatures(cached, labels[indices], key, selection, from_cache=True)
    images = np.asarray(dataset.images(split, class_name))[indices]
    features = extract_features(images, progress, batch_size, precision, stats)
    meta = {"content_hash": dataset.content_hash, "split": split, "class": class_name, "selection": selection,
            "protocol": proto}
    _write_cache(path, features, meta)
    return ReferenceFeatures(features, labels[indices], key, selection, from_cache=False)


def _read_cache(path: Path, expected_rows: int) -> np.ndarray | None:
    """The cached features, or None when absent or unreadable (a damaged cache file is recomputed)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            features = archive["features"].astype(np.float64)
    except (OSError, ValueError, KeyError):
        return None
    return features if features.shape == (expected_rows, FEATURE_DIM) else None


def _write_cache(path: Path, features: np.ndarray, meta: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, features=features.astype(np.float32), meta=np.array(json.dumps(meta)))
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())

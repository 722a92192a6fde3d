"""Evaluate a Generator against a dataset split: FID / KID / precision-recall, overall and per class.

Every result carries its protocol (network file and hash, resize rule, sample counts, seeds, ...) so two
numbers can be compared only when their protocols match. Reference features come from the on-disk cache.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from muybridge import __version__
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.metrics.features import (
    DEFAULT_BATCH_SIZE,
    ImageDataset,
    PassStats,
    ReferenceFeatures,
    extract_features,
    feature_protocol,
    reference_features,
)
from muybridge.metrics.protocols import check_eval_n
from muybridge.metrics.scores import KID_SUBSET_SIZE, KID_SUBSETS, compare, frechet_distance, gaussian_stats, kid
from muybridge.progress import Progress, report

METRICS = ("fid", "kid", "pr")
GENERATE_CHUNK = 64


def check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    unknown = [name for name in metrics if name not in METRICS]
    if unknown or not metrics:
        named = ", ".join(unknown) or "(none given)"
        raise MuybridgeError(f"unknown metrics {named}; choose from {', '.join(METRICS)}")
    return tuple(metrics)


def allocate(counts: dict[str, int], n: int) -> dict[str, int]:
    """Split ``n`` samples over classes in proportion to ``counts`` (largest remainder; sums to ``n``)."""
    total = sum(counts.values())
    if total <= 0:
        raise MuybridgeError("the reference split holds no images")
    exact = {name: n * count / total for name, count in counts.items()}
    shares = {name: int(value) for name, value in exact.items()}
    by_remainder = sorted(exact, key=lambda name: (shares[name] - exact[name], name))
    for name in by_remainder[: n - sum(shares.values())]:
        shares[name] += 1
    return {name: share for name, share in shares.items() if share > 0}


def _stage(progress: Progress | None, stage: str) -> Progress | None:
    if progress is None:
        return None

    def update(done: int, total: int | None, /, **info: float | str) -> None:
        progress(done, total, stage=stage, **info)

    return update


def _resize(images: np.ndarray, resolution: int) -> np.ndarray:
    """Generated images at another resolution → the dataset's, with antialiased bilinear filtering."""
    if images.shape[1] == resolution:
        return images
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    resized = F.interpolate(tensor, size=(resolution, resolution), mode="bilinear", antialias=True,
                            align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def generated_features(generator: Generator, plan: dict[str, int], seed: int, truncation: float,
                       resolution: int, progress: Progress | None = None, stats: PassStats | None = None,
                       precision: str = "fp32") -> tuple[np.ndarray, list[str], list[int]]:
    """Features of ``sum(plan)`` generated images: classes in ``plan`` order, seeds ``seed, seed+1, ...``."""
    classes = [name for name, count in plan.items() for _ in range(count)]
    seeds = list(range(seed, seed + len(classes)))
    parts = []
    for start in range(0, len(classes), GENERATE_CHUNK):
        stop = start + GENERATE_CHUNK
        images = _resize(generator.generate(classes[start:stop], seeds[start:stop], truncation), resolution)
        parts.append(extract_features(images, batch_size=DEFAULT_BATCH_SIZE, precision=precision,
                                      stats=stats))
        speed = stats.images_per_s if stats else 0.0
        report(progress, min(stop, len(classes)), len(classes), images_per_s=speed)
    return np.concatenate(parts) if parts else np.empty((0, 2048)), classes, seeds


def _check_classes(generator: Generator, dataset: ImageDataset, class_name: str | None) -> list[str]:
    """The dataset classes to evaluate: all the generator knows, or the one asked for."""
    missing = [name for name in dataset.classes if name not in generator.classes]
    if class_name is not None:
        if class_name not in dataset.classes or class_name not in generator.classes:
            raise MuybridgeError(f"class {class_name!r} is not in both the model "
                                 f"({', '.join(generator.classes)}) and the dataset "
                                 f"({', '.join(dataset.classes)})")
        return [class_name]
    if missing:
        raise MuybridgeError(f"the model ({generator.name}) does not know the dataset classes "
                             f"{', '.join(missing)}; evaluate one class with --class")
    return list(dataset.classes)


def _class_counts(reference: ReferenceFeatures, dataset_classes: list[str],
                  classes: list[str]) -> dict[str, int]:
    return {name: int(np.count_nonzero(reference.labels == dataset_classes.index(name))) for name in classes}


def _scores(pairs: dict[str, tuple[np.ndarray, np.ndarray]], metrics: tuple[str, ...], seed: int,
            progress: Progress | None) -> dict[str, dict[str, Any]]:
    """``compare`` for each named (real, fake) pair, reporting after each: with many classes and precision/recall
    this stage takes minutes, and a bar that stood still at the end of the Inception pass looked hung."""
    scores = {}
    for done, (name, (real, fake)) in enumerate(pairs.items(), start=1):
        scores[name] = compare(real, fake, metrics, seed)
        report(progress, done, len(pairs), set=name)
    return scores


def _per_class_pairs(reference: ReferenceFeatures, fake: np.ndarray, fake_classes: list[str],
                     dataset_classes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    labels = np.array(fake_classes)
    return {name: (reference.features[reference.labels == dataset_classes.index(name)], fake[labels == name])
            for name in dict.fromkeys(fake_classes)}


def class_separation(reference: ReferenceFeatures, fake: np.ndarray, fake_classes: list[str],
                     dataset_classes: list[str], progress: Progress | None = None) -> dict[str, Any]:
    """Whether the model draws its classes apart: the FID of each class's samples against each class's photos.

    ``fid[drawn][photos]``; ``closest[drawn]`` is the class whose photos its samples are nearest; ``separated``
    holds when every class's samples are nearest their own photos. A model that ignores its class input draws
    the same animals for every class, and each row then has its minimum in the same column."""
    drawn = list(dict.fromkeys(fake_classes))
    labels = np.array(fake_classes)
    fake_stats = {name: gaussian_stats(fake[labels == name]) for name in drawn}
    real_stats = {name: gaussian_stats(reference.features[reference.labels == dataset_classes.index(name)])
                  for name in drawn}
    table: dict[str, dict[str, float]] = {}
    for done, name in enumerate(drawn, start=1):
        table[name] = {other: round(frechet_distance(*fake_stats[name], *real_stats[other]), 3) for other in drawn}
        report(progress, done, len(drawn), set=name)
    closest = {name: min(row, key=row.__getitem__) for name, row in table.items()}
    return {"fid": table, "closest": closest, "separated": all(closest[name] == name for name in drawn)}


def evaluate(generator: Generator, dataset: ImageDataset, split: str = "heldout",
             metrics: Sequence[str] = ("fid", "kid"), n: int = 5000, class_name: str | None = None,
             seed: int = 0, truncation: float = 1.0, progress: Progress | None = None,
             precision: str = "fp32", whole_reference: bool = False) -> dict[str, Any]:
    """Score ``n`` generated images against the dataset's ``split`` (all of it, or ``n`` of it when larger;
    all of it always with ``whole_reference``, as the ``published`` protocol asks: metrics/protocols.py).

    Generated classes follow the reference split's class proportions (or are all ``class_name``); seeds are
    ``seed .. seed+n-1``. Returns ``{"overall": scores, "per_class": {class: scores}, "protocol": {...}}`` and,
    with two classes or more, ``"separation"`` (:func:`class_separation`).
    """
    started = time.perf_counter()
    chosen = check_metrics(metrics)
    check_eval_n(n)
    classes = _check_classes(generator, dataset, class_name)
    stats = PassStats()
    reference = reference_features(dataset, split, class_name, None if whole_reference else n,
                                   _stage(progress, "reference"), precision=precision, stats=stats)
    counts = _class_counts(reference, dataset.classes, classes)
    plan = allocate(counts, n)
    fake, fake_classes, seeds = generated_features(generator, plan, seed, truncation, dataset.resolution,
                                                   _stage(progress, "generated"), stats, precision)
    pairs = {"overall": (reference.features, fake),
             **(_per_class_pairs(reference, fake, fake_classes, dataset.classes) if len(plan) > 1 else {})}
    scores = _scores(pairs, chosen, seed, _stage(progress, "scores"))
    overall = scores.pop("overall")
    separation = (class_separation(reference, fake, fake_classes, dataset.classes, _stage(progress, "separation"))
                  if len(plan) > 1 else None)
    proto = _protocol(dataset, split, reference, precision, started, stats, chosen)
    proto.update({"model": generator.name, "model_path": str(generator.path) if generator.path else None,
                  "generated_per_class": plan, "reference_per_class": counts, "seeds": [seeds[0], seeds[-1]],
                  "truncation": truncation, "generated_resolution": generator.resolution})
    return {"overall": overall, "per_class": scores, "protocol": proto,
            **({"separation": separation} if separation else {})}


def evaluate_real(dataset: ImageDataset, split_a: str = "train", split_b: str = "heldout", n: int = 2000,
                  class_name: str | None = None, metrics: Sequence[str] = ("fid", "kid"),
                  progress: Progress | None = None, precision: str = "fp32") -> dict[str, Any]:
    """The real-data floor: ``split_a`` against ``split_b`` (up to ``n`` images each), overall, by class."""
    started = time.perf_counter()
    chosen = check_metrics(metrics)
    stats = PassStats()
    first, second = (reference_features(dataset, split, class_name, n, _stage(progress, split),
                                        precision=precision, stats=stats) for split in (split_a, split_b))
    present = [i for i in range(len(dataset.classes))
               if (first.labels == i).any() and (second.labels == i).any()]
    pairs = {"overall": (second.features, first.features)}
    if len(present) > 1:
        pairs.update({dataset.classes[i]: (second.features[second.labels == i], first.features[first.labels == i])
                      for i in present})
    per_class = _scores(pairs, chosen, 0, _stage(progress, "scores"))
    overall = per_class.pop("overall")
    proto = _protocol(dataset, split_b, second, precision, started, stats, chosen)
    proto.update({"compared_split": split_a, "compared_selection": first.selection})
    return {"overall": overall, "per_class": per_class, "protocol": proto}


def quick_kid(generator: Generator, dataset: ImageDataset, n: int = 500, split: str = "heldout",
              seed: int = 0, truncation: float = 1.0, progress: Progress | None = None) -> float:
    """A cheap KID for model selection during training: ``n`` generated images, cached reference features.

    Only the generated images pass through Inception (≈ n / 15 s on 2 cores); use the same ``n``, ``seed``
    and split for every checkpoint you compare.
    """
    classes = _check_classes(generator, dataset, None)
    reference = reference_features(dataset, split, None, None, _stage(progress, "reference"))
    counts = _class_counts(reference, dataset.classes, classes)
    fake, _, _ = generated_features(generator, allocate(counts, n), seed, truncation, dataset.resolution,
                                    _stage(progress, "generated"))
    return float(kid(reference.features, fake)["kid_mean"])


def _protocol(dataset: ImageDataset, split: str, reference: ReferenceFeatures, precision: str, started: float,
              stats: PassStats, metrics: tuple[str, ...]) -> dict[str, Any]:
    return {
        **feature_protocol(precision),
        "metrics": list(metrics),
        "dataset": str(getattr(dataset, "path", "")),
        "dataset_content_hash": dataset.content_hash,
        "reference_split": split,
        "reference_count": len(reference.features),
        "reference_selection": reference.selection,
        "reference_features_cached": reference.from_cache,
        "kid_subset_size_max": KID_SUBSET_SIZE,
        "kid_subsets": KID_SUBSETS,
        "muybridge_version": __version__,
        "elapsed_s": round(time.perf_counter() - started, 2),
        "inception_images": stats.images,
        "inception_images_per_s": round(stats.images_per_s, 2),
    }

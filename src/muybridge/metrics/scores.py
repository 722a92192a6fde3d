"""FID, KID and k-NN precision/recall on two feature sets (rows are samples).

- FID (Heusel et al. 2017): Fréchet distance of Gaussians fitted to the two sets, with ``scipy.linalg.sqrtm``
  and the usual guards of the reference implementations (TTUR / pytorch-fid): an ``eps`` offset on the
  covariance diagonals when the product is singular, and the real part when the imaginary residue is tiny.
- KID (Bińkowski et al. 2018): unbiased MMD² with the kernel ``k(x, y) = (x·y / d + 1)³``, averaged over
  random subsets of equal size from both sets (mean and std over subsets).
- Precision/recall (Kynkäänniemi et al. 2019): the fraction of one set inside the other's k-NN manifold.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.linalg

from muybridge.errors import MuybridgeError

KID_SUBSET_SIZE = 1000
KID_SUBSETS = 100
PR_NEIGHBOURS = 3
SQRTM_EPS = 1e-6
IMAGINARY_TOLERANCE = 1e-3


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(features) < 2:
        raise MuybridgeError(f"FID needs at least 2 samples per set, got {len(features)}")
    data = np.asarray(features, dtype=np.float64)
    return data.mean(axis=0), np.cov(data, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖μ1−μ2‖² + Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½)."""
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular products are expected when samples < 2048; handled below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * SQRTM_EPS
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        residue = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if residue > IMAGINARY_TOLERANCE:
            raise MuybridgeError(f"FID: the covariance product has an imaginary square-root component "
                                 f"{residue:.3g} (too few or degenerate samples?)")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def polynomial_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of two equal-size sets with the cubic polynomial kernel."""
    dim = x.shape[1]
    k_xx = (x @ x.T / dim + 1.0) ** 3
    k_yy = (y @ y.T / dim + 1.0) ** 3
    k_xy = (x @ y.T / dim + 1.0) ** 3
    m = len(x)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kid(features_a: np.ndarray, features_b: np.ndarray, subset_size: int = KID_SUBSET_SIZE,
        subsets: int = KID_SUBSETS, seed: int = 0) -> dict[str, Any]:
    """KID mean and std over ``subsets`` draws of ``min(subset_size, len(a), len(b))`` rows from each set."""
    size = min(subset_size, len(features_a), len(features_b))
    if size < 2:
        raise MuybridgeError(f"KID needs at least 2 samples per set, got {len(features_a)} and "
                             f"{len(features_b)}")
    rng = np.random.default_rng(seed)
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    values = np.array([polynomial_mmd(a[rng.choice(len(a), size, replace=False)],
                                      b[rng.choice(len(b), size, replace=False)]) for _ in range(subsets)])
    return {"kid_mean": float(values.mean()), "kid_std": float(values.std()), "kid_subset_size": size,
            "kid_subsets": subsets}


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(squared, 0.0)


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance of each row to its k-th nearest other row."""
    distances = _squared_distances(features, features)
    return np.partition(distances, k, axis=1)[:, k]  # index 0 is the row itself (distance 0)


def _coverage(manifold: np.ndarray, radii: np.ndarray, queries: np.ndarray, chunk: int = 1024) -> float:
    """Fraction of ``queries`` within some manifold point's k-NN ball."""
    inside = [(_squared_distances(queries[i:i + chunk], manifold) <= radii[None, :]).any(axis=1)
              for i in range(0, len(queries), chunk)]
    return float(np.concatenate(inside).mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_NEIGHBOURS) -> dict[str, Any]:
    """Precision: fake samples inside the real manifold; recall: real samples inside the fake manifold."""
    if min(len(real), len(fake)) <= k:
        raise MuybridgeError(f"precision/recall with k={k} needs more than {k} samples per set, "
                             f"got {len(real)} and {len(fake)}")
    real64, fake64 = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    return {"precision": _coverage(real64, _knn_radii(real64, k), fake64),
            "recall": _coverage(fake64, _knn_radii(fake64, k), real64), "pr_k": k}


def compare(real: np.ndarray, fake: np.ndarray, metrics: tuple[str, ...], seed: int = 0) -> dict[str, Any]:
    """The requested metrics (``fid``, ``kid``, ``pr``) of ``fake`` against ``real``."""
    scores: dict[str, Any] = {"n_real": len(real), "n_fake": len(fake)}
    if "fid" in metrics:
        scores["fid"] = fid(real, fake)
    if "kid" in metrics:
        scores.update(kid(real, fake, seed=seed))
    if "pr" in metrics:
        scores.update(precision_recall(real, fake))
    return scores

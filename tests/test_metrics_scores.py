"""FID, KID and precision/recall against torchmetrics' implementations and simple sanity cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.image import fid as tm_fid
from torchmetrics.image import kid as tm_kid

from muybridge.errors import MuybridgeError
from muybridge.metrics.evaluation import allocate
from muybridge.metrics.scores import fid, gaussian_stats, kid, polynomial_mmd, precision_recall


def _features(seed: int, n: int = 300, dim: int = 64, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.gamma(0.6, 0.5, size=(n, dim)) + shift


def test_fid_equals_torchmetrics() -> None:
    a, b = _features(0), _features(1, shift=0.05)
    ours = fid(a, b)
    mu_a, sigma_a = gaussian_stats(a)
    mu_b, sigma_b = gaussian_stats(b)
    theirs = float(tm_fid._compute_fid(*(torch.from_numpy(v) for v in (mu_a, sigma_a, mu_b, sigma_b))))
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert ours > 0.1


def test_fid_of_a_set_with_itself_is_zero() -> None:
    a = _features(2)
    assert abs(fid(a, a)) < 1e-6


def test_kid_equals_torchmetrics_poly_mmd() -> None:
    a, b = _features(3, n=200), _features(4, n=200, shift=0.03)
    theirs = float(tm_kid.poly_mmd(torch.from_numpy(a), torch.from_numpy(b)))
    assert polynomial_mmd(a, b) == pytest.approx(theirs, rel=1e-9)
    # One subset covering both sets whole: the subset order does not change MMD, so KID is that value.
    whole = kid(a, b, subset_size=10_000, subsets=1)
    assert whole["kid_mean"] == pytest.approx(theirs, rel=1e-9)
    assert whole["kid_subset_size"] == 200 and whole["kid_subsets"] == 1


def test_kid_records_subset_size_and_count() -> None:
    result = kid(_features(5, n=120), _features(6, n=80), subsets=7)
    assert result["kid_subset_size"] == 80 and result["kid_subsets"] == 7
    assert result["kid_std"] > 0


def test_precision_recall_identical_and_disjoint() -> None:
    a = _features(7, n=200)
    same = precision_recall(a, a.copy())
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    far = precision_recall(a, _features(8, n=200, shift=100.0))
    assert far["precision"] == 0.0 and far["recall"] == 0.0


def test_too_few_samples_is_a_user_error() -> None:
    with pytest.raises(MuybridgeError, match="at least 2"):
        fid(_features(9, n=1), _features(10, n=5))
    with pytest.raises(MuybridgeError, match="k=3"):
        precision_recall(_features(9, n=3), _features(10, n=5))


def test_allocate_follows_class_proportions() -> None:
    assert allocate({"cat": 900, "dog": 300}, 100) == {"cat": 75, "dog": 25}
    shares = allocate({"a": 1, "b": 1, "c": 1}, 10)
    assert sum(shares.values()) == 10 and sorted(shares.values()) == [3, 3, 4]
    assert allocate({"cat": 5, "dog": 0}, 4) == {"cat": 4}

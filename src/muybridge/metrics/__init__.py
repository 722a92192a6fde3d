"""Honest evaluation: hash-pinned Inception features (reference features cached), FID, KID, precision/recall.

- :func:`evaluate` scores a Generator against a dataset split, overall and per class, with its protocol.
- :func:`evaluate_real` gives the real-data floor (train vs held-out).
- :func:`quick_kid` is the cheap KID the training loop uses for model selection.
- :func:`extract_features` turns uint8 images into 2048-d features; :func:`reference_features` caches them.
"""

from muybridge.metrics.evaluate import METRICS, evaluate, evaluate_real, quick_kid
from muybridge.metrics.features import extract_features, reference_features
from muybridge.metrics.scores import fid, kid, precision_recall

__all__ = ["METRICS", "evaluate", "evaluate_real", "extract_features", "fid", "kid", "precision_recall",
           "quick_kid", "reference_features"]

"""Honest evaluation: hash-pinned Inception features (reference features cached), FID, KID, precision/recall.

- :func:`evaluate` scores a Generator against a dataset split, overall and per class, with its protocol.
- :func:`evaluate_real` gives the real-data floor (train vs held-out).
- :func:`quick_kid` is the cheap KID the training loop uses for model selection.
- :func:`extract_features` turns uint8 images into 2048-d features; :func:`reference_features` caches them.
- :mod:`muybridge.metrics.protocols` names what a model is scored against (held-out or published).
"""

from __future__ import annotations

from muybridge.lazy import lazy_exports

#: Public name → the module that defines it; imported on first use, so the torch-free ``protocols`` module can
#: be imported by the CLI without torch.
_HOMES = {
    "METRICS": "muybridge.metrics.evaluation",
    "evaluate": "muybridge.metrics.evaluation",
    "evaluate_real": "muybridge.metrics.evaluation",
    "quick_kid": "muybridge.metrics.evaluation",
    "extract_features": "muybridge.metrics.features",
    "reference_features": "muybridge.metrics.features",
    "fid": "muybridge.metrics.scores",
    "kid": "muybridge.metrics.scores",
    "precision_recall": "muybridge.metrics.scores",
}
__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)

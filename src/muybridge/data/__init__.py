"""Datasets: ``prepare`` photos/videos into a folder of uint8 shards, then read them for training and metrics.

- :func:`prepare_dataset` builds a dataset folder (see ``docs/preparing-data.md``).
- :func:`open_dataset` reads one → :class:`PreparedDataset` (``images``, ``labels``, ``count``).
- :class:`BatchLoader` yields deterministic, resumable, rank-sharded training batches.
- :func:`decode_image` turns one picture (path or bytes) into the square RGB array training sees.
"""

from muybridge.data.dataset import PreparedDataset, open_dataset
from muybridge.data.decode import UnusableImageError, decode_frames, decode_image
from muybridge.data.loader import BatchLoader
from muybridge.data.prepare import prepare_dataset, summarize
from muybridge.data.sheet import contact_sheet

__all__ = [
    "BatchLoader",
    "PreparedDataset",
    "UnusableImageError",
    "contact_sheet",
    "decode_frames",
    "decode_image",
    "open_dataset",
    "prepare_dataset",
    "summarize",
]

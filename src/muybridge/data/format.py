"""Names of the files in a dataset folder (``dataset.json``, pixel shards, labels, splits)."""

from __future__ import annotations

FORMAT_NAME = "muybridge-dataset"
FORMAT_VERSION = 1
DATASET_FILE = "dataset.json"
LABELS_FILE = "labels.npy"
SPLITS_FILE = "splits.npy"
SPLIT_NAMES = ("train", "heldout")
"""Index in ``splits.npy`` → split name."""


def shard_name(index: int) -> str:
    return f"images-{index:05d}.npy"

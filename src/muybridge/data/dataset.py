"""Read a prepared dataset folder: memory-mapped uint8 pixel shards with labels and splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from muybridge.data.format import DATASET_FILE, FORMAT_NAME, FORMAT_VERSION, SPLIT_NAMES
from muybridge.errors import MuybridgeError


class PreparedDataset:
    """A dataset folder written by ``prepare``. Pixels stay memory-mapped until selected.

    ``images(split, class_name)`` returns ``(N, R, R, 3)`` uint8; ``labels(...)`` the matching int64 class
    indices into ``classes``. ``split=None`` means every split, ``class_name=None`` every class.
    """

    def __init__(self, path: Path, meta: dict, shards: list[np.ndarray], labels: np.ndarray,
                 splits: np.ndarray) -> None:
        self.path = path
        self.meta = meta
        self.classes: list[str] = list(meta["classes"])
        self.resolution: int = int(meta["resolution"])
        self.content_hash: str = str(meta["content_hash"])
        self._shards = shards
        self._labels = labels
        self._splits = splits

    def __repr__(self) -> str:
        return f"PreparedDataset({str(self.path)!r}, {len(self._labels)} images, classes={self.classes})"

    def count(self, split: str | None = None, class_name: str | None = None) -> int:
        return int(np.count_nonzero(self._mask(split, class_name)))

    def images(self, split: str | None = None, class_name: str | None = None) -> np.ndarray:
        mask = self._mask(split, class_name)
        if mask.all() and len(self._shards) == 1:
            return self._shards[0]
        parts, start = [], 0
        for shard in self._shards:
            part = mask[start:start + len(shard)]
            start += len(shard)
            if part.all():
                parts.append(np.asarray(shard))
            elif part.any():
                parts.append(shard[part])
        if not parts:
            return np.empty((0, self.resolution, self.resolution, 3), dtype=np.uint8)
        return np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0])

    def labels(self, split: str | None = None, class_name: str | None = None) -> np.ndarray:
        return self._labels[self._mask(split, class_name)].astype(np.int64)

    def class_index(self, class_name: str) -> int:
        if class_name not in self.classes:
            raise MuybridgeError(f"{self.path}: no class {class_name!r} (classes: {', '.join(self.classes)})")
        return self.classes.index(class_name)

    def _mask(self, split: str | None, class_name: str | None) -> np.ndarray:
        mask = np.ones(len(self._labels), dtype=bool)
        if split is not None:
            if split not in SPLIT_NAMES:
                raise MuybridgeError(f"{self.path}: no split {split!r} (splits: {', '.join(SPLIT_NAMES)})")
            mask &= self._splits == SPLIT_NAMES.index(split)
        if class_name is not None:
            mask &= self._labels == self.class_index(class_name)
        return mask


def open_dataset(path: str | Path) -> PreparedDataset:
    """Open a dataset folder, checking that its files agree with ``dataset.json`` (MuybridgeError if not)."""
    folder = Path(path)
    meta = _read_meta(folder)
    resolution = int(meta["resolution"])
    shards = [_load_array(folder, entry["file"]) for entry in meta["shards"]]
    for entry, shard in zip(meta["shards"], shards, strict=True):
        expected = (entry["count"], resolution, resolution, 3)
        if shard.dtype != np.uint8 or shard.shape != expected:
            raise MuybridgeError(f"{folder / entry['file']}: holds {shard.shape} {shard.dtype}, "
                                 f"dataset.json says {expected} uint8 (a damaged dataset?)")
    labels = np.asarray(_load_array(folder, meta["labels_file"]))
    splits = np.asarray(_load_array(folder, meta["splits_file"]))
    total = sum(len(shard) for shard in shards)
    if not len(labels) == len(splits) == total == meta["count"]:
        raise MuybridgeError(f"{folder}: dataset.json counts {meta['count']} images but the files hold "
                             f"{total} images, {len(labels)} labels and {len(splits)} splits (damaged?)")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(meta["classes"])):
        raise MuybridgeError(f"{folder}: labels.npy has class indices outside the "
                             f"{len(meta['classes'])} classes")
    return PreparedDataset(folder, meta, shards, labels, splits)


def _read_meta(folder: Path) -> dict:
    if not folder.is_dir():
        raise MuybridgeError(f"{folder}: no such dataset folder (make one with `muybridge prepare`)")
    meta_path = folder / DATASET_FILE
    if not meta_path.is_file():
        raise MuybridgeError(f"{folder}: not a dataset folder (no {DATASET_FILE}; "
                             "make one with `muybridge prepare`)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MuybridgeError(f"{meta_path}: unreadable ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise MuybridgeError(f"{meta_path}: not a muybridge dataset description")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise MuybridgeError(f"{meta_path}: format version {meta.get('format_version')} is newer than this "
                             f"muybridge reads ({FORMAT_VERSION}); upgrade muybridge")
    missing = [key for key in ("resolution", "classes", "count", "content_hash", "shards", "labels_file",
                               "splits_file") if key not in meta]
    if missing:
        raise MuybridgeError(f"{meta_path}: missing fields {', '.join(missing)}")
    return meta


def _load_array(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise MuybridgeError(f"{path}: missing or damaged ({exc})") from None

"""``prepare``: photos, folders and videos → a dataset folder of uint8 pixel shards plus ``dataset.json``.

Decoding runs in a small process pool (fork; workers ignore Ctrl-C so the parent cleans up). Results come
back in input order, so the output is byte-identical whatever the number of workers. The folder is built
under a temporary name and renamed into place at the end (:func:`muybridge.files.atomic_dir`).
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import json
import multiprocessing
import multiprocessing.pool
import os
import signal
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from muybridge.data.decode import (
    UnusableImageError,
    decode_frames,
    decode_image,
    read_source_bytes,
    sha256_hex,
)
from muybridge.data.format import (
    DATASET_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    LABELS_FILE,
    SPLIT_NAMES,
    SPLITS_FILE,
    shard_name,
)
from muybridge.data.sources import HoldoutRule, SourceFile, discover, parse_holdout, unmatched_holdout_lines
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_dir, atomic_write_json
from muybridge.progress import Progress, report

SHARD_BYTES = 256 * 2**20
#: Decoding tasks queued per worker process: enough to keep it busy, few enough that stopping early is clean.
IN_FLIGHT_PER_WORKER = 16
MIN_SIZE, MAX_SIZE = 8, 1024


@dataclass
class _Outcome:
    sha256: str | None
    frames: list[np.ndarray] = field(default_factory=list)
    category: str | None = None
    reason: str | None = None


def prepare_dataset(sources: Sequence[str | Path], out: str | Path, *, size: int = 64,
                    class_name: str | None = None, holdout: Sequence[str] | None = None, fps: float = 4.0,
                    min_side: int | None = None, workers: int = 2, overwrite: bool = False,
                    progress: Progress | None = None) -> dict:
    """Build the dataset folder ``out`` and return its ``dataset.json`` content.

    Raises MuybridgeError before any work when ``out`` exists (without ``overwrite``) or options are
    wrong, and after the work when no input was usable; ``out`` is then left as it was.
    """
    out = Path(out)
    _check_options(out, size, fps, overwrite)
    rule = parse_holdout(list(holdout) if holdout else None)
    items = discover([Path(s) for s in sources], class_name, rule)
    with atomic_dir(out) as tmp:
        writer = _DatasetWriter(tmp, size)
        for done, (item, outcome) in enumerate(zip(items, _outcomes(items, size, min_side, fps, workers),
                                                   strict=True), start=1):
            writer.add(item, outcome)
            report(progress, done, len(items), kept=writer.count, skipped=writer.skipped_files)
        if writer.count == 0:
            raise MuybridgeError(_nothing_usable_message(sources, writer))
        meta = writer.finish(_options_record(size, fps, min_side, class_name), _holdout_record(rule, items))
        _make_readable(tmp)
    return meta


def summarize(meta: dict) -> list[str]:
    """Human summary lines of a dataset.json: totals, per class and split, skipped by reason."""
    counts = meta["counts"]
    classes = f"{len(meta['classes'])} class" + ("es" if len(meta["classes"]) != 1 else "")
    lines = [f"{meta['count']} images at {meta['resolution']}x{meta['resolution']}, {classes}, "
             f"content hash {meta['content_hash'][:12]}"]
    for name in meta["classes"]:
        per_split = counts["per_class_split"][name]
        lines.append(f"  {name}: {counts['per_class'][name]} "
                     f"({', '.join(f'{split} {per_split[split]}' for split in SPLIT_NAMES)})")
    lines.append("  splits: " + ", ".join(f"{split} {counts['per_split'][split]}" for split in SPLIT_NAMES))
    skipped = meta.get("skipped", {})
    if skipped:
        by_count = sorted(skipped.items(), key=lambda kv: -kv[1])
        reasons = ", ".join(f"{n} {reason}" for reason, n in by_count)
        lines.append(f"skipped {sum(skipped.values())}: {reasons}")
    unmatched = meta.get("holdout", {}).get("unmatched_lines", 0)
    if unmatched:
        lines.append(f"warning: {unmatched} holdout line(s) matched no input file "
                     f"(e.g. {meta['holdout']['unmatched_examples'][0]})")
    return lines


class _DatasetWriter:
    """Collects kept images in input order, writes full shards as it goes, and dedups exact copies."""

    def __init__(self, folder: Path, size: int) -> None:
        self.folder, self.size = folder, size
        self.per_shard = max(1, SHARD_BYTES // (size * size * 3))
        self.pending: list[np.ndarray] = []
        self.shards: list[dict] = []
        self.class_names: list[str] = []
        self.splits: list[int] = []
        self.first_seen: dict[bytes, str] = {}
        self.sources: list[dict] = []
        self.skip_categories: Counter[str] = Counter()
        self.pixel_hash = hashlib.sha256()

    @property
    def count(self) -> int:
        return len(self.class_names)

    @property
    def skipped_files(self) -> int:
        return sum(1 for entry in self.sources if entry["outcome"] == "skipped")

    def add(self, item: SourceFile, outcome: _Outcome) -> None:
        entry: dict = {"path": str(item.path), "rel": item.rel, "class": item.class_name, "split": item.split,
                       "sha256": outcome.sha256}
        if outcome.reason is not None:
            self._skip(entry, outcome.category or "unusable", outcome.reason)
        elif item.kind == "video":
            self._add_video(entry, item, outcome.frames)
        else:
            duplicate_of = self._keep(outcome.frames[0], item)
            if duplicate_of is None:
                entry["outcome"] = "kept"
            else:
                self._skip(entry, "duplicate", f"duplicate of {duplicate_of}")
        self.sources.append(entry)

    def _add_video(self, entry: dict, item: SourceFile, frames: list[np.ndarray]) -> None:
        kept = sum(1 for frame in frames if self._keep(frame, item) is None)
        entry.update(frames_sampled=len(frames), frames_kept=kept)
        if kept:
            entry["outcome"] = "kept"
        elif frames:
            self._skip(entry, "duplicate", "every sampled frame duplicates an earlier image")
        else:
            self._skip(entry, "no frames", "no frame could be sampled (too short for --fps?)")

    def _skip(self, entry: dict, category: str, reason: str) -> None:
        entry.update(outcome="skipped", category=category, reason=reason)
        self.skip_categories[category] += 1

    def _keep(self, pixels: np.ndarray, item: SourceFile) -> str | None:
        """Queue ``pixels`` unless an identical image was kept before; then return that one's path."""
        key = hashlib.blake2b(pixels.tobytes(), digest_size=16).digest()
        if key in self.first_seen:
            return self.first_seen[key]
        self.first_seen[key] = str(item.path)
        assert item.class_name is not None
        self.pending.append(pixels)
        self.class_names.append(item.class_name)
        self.splits.append(SPLIT_NAMES.index(item.split))
        self.pixel_hash.update(pixels.tobytes())
        if len(self.pending) >= self.per_shard:
            self._flush()
        return None

    def _flush(self) -> None:
        if not self.pending:
            return
        name = shard_name(len(self.shards))
        np.save(self.folder / name, np.stack(self.pending))
        self.shards.append({"file": name, "count": len(self.pending)})
        self.pending = []

    def finish(self, options: dict, holdout: dict) -> dict:
        self._flush()
        classes = sorted(set(self.class_names))
        labels = np.array([classes.index(name) for name in self.class_names], dtype=np.int64)
        splits = np.array(self.splits, dtype=np.uint8)
        np.save(self.folder / LABELS_FILE, labels)
        np.save(self.folder / SPLITS_FILE, splits)
        meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "resolution": self.size,
            "classes": classes,
            "count": self.count,
            "counts": _counts(classes, labels, splits),
            "content_hash": self._content_hash(classes, labels, splits),
            "split_names": list(SPLIT_NAMES),
            "shards": self.shards,
            "labels_file": LABELS_FILE,
            "splits_file": SPLITS_FILE,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "options": options,
            "holdout": holdout,
            "skipped": dict(self.skip_categories),
            "sources": self.sources,
        }
        atomic_write_json(self.folder / DATASET_FILE, meta)
        return meta

    def _content_hash(self, classes: list[str], labels: np.ndarray, splits: np.ndarray) -> str:
        digest = self.pixel_hash.copy()
        digest.update(json.dumps({"resolution": self.size, "classes": classes}, sort_keys=True).encode())
        digest.update(labels.astype("<i8").tobytes())
        digest.update(splits.tobytes())
        return digest.hexdigest()


def _counts(classes: list[str], labels: np.ndarray, splits: np.ndarray) -> dict:
    per_class_split = {name: {split: int(np.sum((labels == index) & (splits == split_index)))
                              for split_index, split in enumerate(SPLIT_NAMES)}
                       for index, name in enumerate(classes)}
    return {
        "per_class": {name: sum(per_class_split[name].values()) for name in classes},
        "per_split": {split: int(np.sum(splits == index)) for index, split in enumerate(SPLIT_NAMES)},
        "per_class_split": per_class_split,
    }


def _outcomes(items: list[SourceFile], size: int, min_side: int | None, fps: float,
              workers: int) -> Iterator[_Outcome]:
    tasks = [(item, size, min_side, fps) for item in items]
    if workers <= 1 or len(tasks) < 2:
        yield from map(_decode_task, tasks)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(min(workers, len(tasks)), initializer=_ignore_sigint) as pool:
        # A bounded number of tasks in flight, in order. With all tasks queued at once (imap), a consumer that
        # stops early (Ctrl-C) left the pool's task thread blocked on a full pipe to workers that terminate()
        # had killed: prepare hung instead of cleaning up (seen in the test suite).
        pending: collections.deque[multiprocessing.pool.AsyncResult[_Outcome]] = collections.deque()
        for task in tasks:
            pending.append(pool.apply_async(_decode_task, (task,)))
            if len(pending) >= IN_FLIGHT_PER_WORKER * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _decode_task(task: tuple[SourceFile, int, int | None, float]) -> _Outcome:
    item, size, min_side, fps = task
    try:
        data = read_source_bytes(item.path)
    except UnusableImageError as exc:
        return _Outcome(None, category=exc.category, reason=exc.reason)
    digest = sha256_hex(data)
    if item.skip_reason is not None:
        return _Outcome(digest, category="ignored", reason=item.skip_reason)
    try:
        if item.kind == "video":
            return _Outcome(digest, frames=list(decode_frames(item.path, size, fps, min_side=min_side)))
        return _Outcome(digest, frames=[decode_image(data, size, min_side=min_side)])
    except UnusableImageError as exc:
        return _Outcome(digest, category=exc.category, reason=exc.reason)
    except Exception as exc:  # a decoder bug on one odd file must not abort thousands of good ones
        return _Outcome(digest, category="corrupt", reason=f"could not decode ({type(exc).__name__}: {exc})")


def _make_readable(folder: Path) -> None:
    """Temporary folders and files are created private (0700/0600); a dataset is meant to be shared."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.iterdir():
        path.chmod(0o666 & ~umask)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_options(out: Path, size: int, fps: float, overwrite: bool) -> None:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise MuybridgeError(f"--size {size}: must be between {MIN_SIZE} and {MAX_SIZE}")
    if fps <= 0:
        raise MuybridgeError(f"--fps {fps}: must be positive")
    if not out.exists():
        return
    if not out.is_dir():
        raise MuybridgeError(f"{out}: exists and is not a folder")
    if not overwrite:
        raise MuybridgeError(f"{out}: already exists (pass --overwrite to replace it)")
    if any(out.iterdir()) and not (out / DATASET_FILE).is_file():
        raise MuybridgeError(f"{out}: refusing to overwrite a non-empty folder that is not a dataset")


def _options_record(size: int, fps: float, min_side: int | None, class_name: str | None) -> dict:
    return {"size": size, "fps": fps, "min_side": max(1, size // 2) if min_side is None else min_side,
            "class": class_name}


def _holdout_record(rule: HoldoutRule, items: Iterable[SourceFile]) -> dict:
    record: dict[str, object] = rule.describe() if (rule.paths or rule.fraction) else {"rule": "none"}
    if rule.paths:
        unmatched = unmatched_holdout_lines(rule, list(items))
        record.update(unmatched_lines=len(unmatched), unmatched_examples=unmatched[:5])
    return record


def _nothing_usable_message(sources: Sequence[str | Path], writer: _DatasetWriter) -> str:
    names = ", ".join(str(s) for s in sources[:3]) + (" ..." if len(sources) > 3 else "")
    if not writer.sources:
        return f"{names}: no files found"
    reasons = ", ".join(f"{n} {reason}" for reason, n in writer.skip_categories.most_common())
    return f"{names}: no usable image among {len(writer.sources)} file(s) (skipped: {reasons})"

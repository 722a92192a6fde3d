"""Atomic file and folder writes: every file the project writes goes to a temporary name first and is
renamed into place, so an interrupted process (Ctrl-C, kill -9, a full disk) never leaves a half file. And the
one cache folder: what is slow to compute and safe to delete."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

#: Environment variable naming the cache folder (default ``~/.cache/muybridge``).
CACHE_ENV = "MUYBRIDGE_CACHE"


def cache_dir(kind: str) -> Path:
    """``$MUYBRIDGE_CACHE/KIND`` when set, else ``~/.cache/muybridge/KIND``: results that are slow to compute and
    depend only on their key (a dataset's reference features, a model's reduced-precision trials); deleting the
    folder is always safe."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "muybridge") / kind


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's bytes, read in blocks and remembered in this process while the file is unchanged:
    model weights and the Inception network are tens of MB, and are checked more than once. The inode change
    time is in the key because no writer can set it (a copy that keeps size and mtime still changes it)."""
    stat = os.stat(path)
    return _sha256_of(str(Path(path).resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


@functools.lru_cache(maxsize=16)
def _sha256_of(path: str, inode: int, size: int, mtime_ns: int, ctime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync and rename it onto ``path``.

    ``suffix`` keeps an extension on the temporary name for writers that pick a format from it.
    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


#: Decimals a float32 vector keeps in a JSON file (seed latents, directions): float32 holds about 7 significant
#: digits of a unit-scale value, so more would only lengthen the file.
JSON_FLOAT_DECIMALS = 7


def json_floats(values: Iterable[float]) -> list[float]:
    """``values`` (a float32 vector) as JSON numbers rounded to :data:`JSON_FLOAT_DECIMALS`."""
    return [round(float(value), JSON_FLOAT_DECIMALS) for value in values]


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder under a temporary name beside ``path`` and rename it into place on success.

    An existing folder at ``path`` is replaced only once the new one is complete; callers decide
    beforehand whether replacing it is allowed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_temporaries(target: Path) -> None:
    """Delete what a killed writer of ``target`` left beside it (``.NAME.*.tmp``); never read, only in the way."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

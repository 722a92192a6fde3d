"""files.file_sha256: remembered per process, never stale after a rewrite that keeps size and mtime."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from muybridge.files import file_sha256


def test_a_rewrite_with_the_same_size_and_mtime_is_hashed_again(tmp_path: Path) -> None:
    weights = tmp_path / "delta.safetensors"
    weights.write_bytes(b"a" * 4096)
    stat = weights.stat()
    assert file_sha256(weights) == hashlib.sha256(b"a" * 4096).hexdigest()
    weights.write_bytes(b"b" * 4096)  # same size, and the old modification time put back
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights.stat().st_size == stat.st_size and weights.stat().st_mtime_ns == stat.st_mtime_ns
    assert file_sha256(weights) == hashlib.sha256(b"b" * 4096).hexdigest()
    assert file_sha256(str(weights)) == file_sha256(weights)

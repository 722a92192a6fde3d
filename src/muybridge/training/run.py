"""The run folder's layout, in one place: every other module asks a :class:`RunFolder` instead of spelling names.

A run folder holds ``run.json`` (the resolved config, the dataset identity and the model config),
``checkpoints/`` (``ckpt-STEP.safetensors`` and ``best.safetensors``), ``metrics.jsonl`` (one JSON line per
logged tick), ``samples/`` (sample grids, ``latest.png`` the newest), ``logs/`` (TensorBoard); beside it, while
a trainer writes it, the lock ``.NAME.lock`` that keeps a second one out.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path, atomic_write_json
from muybridge.training import checkpoint as ckpt

RUN_FILE = "run.json"
BEST_NAME = "best.safetensors"
LATEST_SAMPLE = "latest.png"


@dataclass(frozen=True)
class RunFolder:
    """One training run's folder; only names and small files here, the trainer writes the checkpoints."""

    path: Path

    @classmethod
    def of_checkpoint(cls, checkpoint: Path) -> RunFolder | None:
        """The run a checkpoint file was saved in (``RUN/checkpoints/FILE``), or ``None`` outside a run."""
        run = cls(checkpoint.parent.parent)
        return run if checkpoint.parent == run.checkpoints and run.exists() else None

    # ---- run.json ----
    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    def exists(self) -> bool:
        """Whether a run was started here (its ``run.json`` is written before any training)."""
        return self.run_file.is_file()

    def read(self) -> dict[str, Any]:
        try:
            return json.loads(self.run_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MuybridgeError(f"{self.path}: not a training run (no {RUN_FILE})") from None
        except json.JSONDecodeError as exc:
            raise MuybridgeError(f"{self.run_file}: not valid JSON ({exc})") from None

    def write(self, run: dict[str, Any]) -> None:
        atomic_write_json(self.run_file, run)

    # ---- checkpoints/ ----
    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def best(self) -> Path:
        """The best-scoring snapshot (kept when ``eval_kimg`` > 0; pruning never removes it)."""
        return self.checkpoints / BEST_NAME

    def list_checkpoints(self) -> list[Path]:
        """The step checkpoints, oldest first (``best`` is a copy of one of them and not listed)."""
        return ckpt.list_checkpoints(self.checkpoints)

    def latest(self) -> Path | None:
        found = self.list_checkpoints()
        return found[-1] if found else None

    def find_checkpoint(self, which: str) -> Path:
        """``latest``, ``best`` or a path to a checkpoint file."""
        if which == "latest":
            latest = self.latest()
            if latest is None:
                raise MuybridgeError(f"{self.path}: has no checkpoints yet")
            return latest
        if which == "best":
            if not self.best.is_file():
                raise MuybridgeError(f"{self.path}: has no best checkpoint (it needs eval_kimg > 0 during training)")
            return self.best
        path = Path(which)
        if not path.is_file():
            raise MuybridgeError(f"{which}: no such checkpoint file")
        return path

    def write_best(self, source: Path) -> None:
        """Copy a checkpoint to ``best.safetensors`` atomically."""
        with atomic_path(self.best) as tmp:
            tmp.write_bytes(source.read_bytes())

    # ---- metrics.jsonl ----
    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.metrics, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every logged row; a torn last line (a run killed mid-write) is skipped."""
        if not self.metrics.is_file():
            return []
        rows = []
        for line in self.metrics.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return [row for row in rows if isinstance(row, dict)]

    def last_kimg(self) -> float | None:
        """The kimg of the last logged row, or ``None`` before the first."""
        rows = self.read_metrics()
        try:
            return float(rows[-1]["kimg"]) if rows else None
        except (KeyError, TypeError, ValueError):
            return None

    # ---- samples/, logs/, lock ----
    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def latest_sample(self) -> Path:
        return self.samples / LATEST_SAMPLE

    def sample_grid(self, nimg: int) -> Path:
        return self.samples / f"grid-{nimg // 1000:06d}kimg.png"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def lock(self) -> Path:
        """The one-writer lock: beside the folder (``.NAME.lock``), so a run refused before it starts leaves no
        folder behind."""
        return self.path.parent / f".{self.path.name}.lock"

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the run's exclusive lock while training: a second trainer is refused at once, in one line naming
        the holder's PID. The kernel releases it when the holder dies, however it dies."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise MuybridgeError(f"{self.path}: another trainer (PID {holder}) is writing this run; stop it "
                                     "first or wait for it to end") from None
            if _same_file(fd, self.lock):  # not a lock file its last holder removed meanwhile
                break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            self.lock.unlink(missing_ok=True)
            os.close(fd)

    def writer_pid(self) -> int | None:
        """The PID of the process training this run now (None: nobody holds the lock)."""
        try:
            fd = os.open(self.lock, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def read_run(run_dir: Path) -> dict[str, Any]:
    """The ``run.json`` of ``run_dir``, with a one-line error when it is missing or broken."""
    return RunFolder(Path(run_dir)).read()


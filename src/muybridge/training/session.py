"""One training session: start a run or resume one, with the settings layered by one rule for every caller.

The CLI's ``train`` verb, the studio's training process and ``muybridge tune`` all come through here, so a run
started one way behaves the same started another:

* ``resume`` continues the run in ``run_dir`` with its own settings (plus the changes
  :data:`~muybridge.training.config.RESUMABLE_OVERRIDES` allows) and refuses a folder with no run;
* a new run layers ``init_from``'s network settings < ``settings`` (a ``--config`` file) < ``overrides``
  (flags); ``init_from`` is resolved here, once;
* SIGTERM (and, under torchrun, SIGINT) asks the loop to stop (it checkpoints first) while the session runs,
  and the previous handlers are restored after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muybridge.errors import MuybridgeError
from muybridge.progress import Progress
from muybridge.training.config import TrainConfig, resolve_config, resume_config
from muybridge.training.loop import TrainResult, train
from muybridge.training.run import RunFolder
from muybridge.training.warm_start import network_settings, read_source, resolve_source


def new_run_config(settings: dict[str, Any] | None, overrides: dict[str, Any] | None,
                   source: Path | None) -> TrainConfig:
    """A new run's settings: the network shape of ``source`` (a resolved ``init_from``, so a fine-tuning run
    builds networks that fit without being told) < ``settings`` < ``overrides`` (``None`` values ignored); the
    architecture's ``params`` merge key by key, so a settings file that widens one level keeps the source's others."""
    inherited = network_settings(source) if source is not None else {}
    settings = settings or {}
    architecture = (overrides or {}).get("architecture") or settings.get("architecture")
    if inherited and architecture not in (None, inherited["architecture"]):
        inherited = {}  # another architecture: the source's shape does not apply (and will not fit: refused later)
    merged = {**inherited, **settings}
    if "params" in inherited and "params" in settings:
        merged["params"] = {**inherited["params"], **settings["params"]}
    return resolve_config(merged, overrides)


@dataclass(frozen=True)
class TrainingSession:
    """What a session will train: the run folder, its resolved settings and where a new run starts from."""

    data_dir: Path
    run: RunFolder
    config: TrainConfig
    resume: bool
    source: Path | None = None

    @classmethod
    def open(cls, data_dir: str | Path, run_dir: str | Path, *, resume: bool = False,
             settings: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None,
             init_from: str | Path | None = None) -> TrainingSession:
        """Resolve the settings (and ``init_from``) of a session; nothing is written yet."""
        run = RunFolder(Path(run_dir))
        if not resume:
            source = resolve_source(init_from) if init_from is not None else None
            return cls(Path(data_dir), run, new_run_config(settings, overrides, source), False, source)
        if not run.exists():
            raise MuybridgeError(f"{run.path}: no run to resume (no run.json); drop --resume to start one")
        if settings:
            raise MuybridgeError("--config cannot be combined with --resume: the run keeps its own settings")
        if init_from is not None:
            raise MuybridgeError(f"{run.path}: --init-from starts a new run; drop it to resume this one")
        return cls(Path(data_dir), run, resume_config(run.read()["config"], overrides or {}), True)

    def train(self, *, kimg: float | None = None, minutes: float | None = None, cpu_minutes: float | None = None,
              progress: Progress | None = None, should_stop: Callable[[], bool] = lambda: False,
              warn: Callable[[str], None] = lambda message: None) -> TrainResult:
        """Train (see :func:`~muybridge.training.loop.train` for the lengths); SIGTERM stops it cleanly."""
        start = read_source(self.source) if self.source is not None else None
        # One writer per run: the main process holds the lock (torchrun's other ranks write nothing).
        lock = self.run.writer_lock() if os.environ.get("RANK", "0") == "0" else contextlib.nullcontext()
        with lock, sigterm_requests() as terminated:
            return train(self.data_dir, self.run.path, self.config, kimg=kimg, minutes=minutes,
                         cpu_minutes=cpu_minutes, resume=self.resume, init_from=start, progress=progress,
                         should_stop=lambda: terminated() or should_stop(), warn=warn)


def start_or_resume(data_dir: str | Path, run_dir: str | Path, *, resume: bool = False,
                    settings: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None,
                    init_from: str | Path | None = None, kimg: float | None = None, minutes: float | None = None,
                    cpu_minutes: float | None = None, progress: Progress | None = None,
                    should_stop: Callable[[], bool] = lambda: False,
                    warn: Callable[[str], None] = lambda message: None) -> TrainResult:
    """Open a :class:`TrainingSession` and train it: the one entry point of every way to train."""
    session = TrainingSession.open(data_dir, run_dir, resume=resume, settings=settings, overrides=overrides,
                                   init_from=init_from)
    return session.train(kimg=kimg, minutes=minutes, cpu_minutes=cpu_minutes, progress=progress,
                         should_stop=should_stop, warn=warn)


@contextlib.contextmanager
def sigterm_requests() -> Iterator[Callable[[], bool]]:
    """Yield "has SIGTERM arrived?" while a handler records it; the previous handlers come back after.

    Under torchrun (``WORLD_SIZE`` > 1) Ctrl-C (SIGINT) is recorded the same way rather than raised mid-step:
    a KeyboardInterrupt inside one rank's collective would leave the others waiting in theirs. Off the main
    thread (where Python cannot install handlers) the answer is always no.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    signals = [signal.SIGTERM] + ([signal.SIGINT] if int(os.environ.get("WORLD_SIZE", "1")) > 1 else [])
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum)) for signum in signals}
    try:
        yield lambda: bool(received)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

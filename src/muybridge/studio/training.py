"""The studio's training: start and resume runs in the workspace, list them, and the process that trains one.

Training runs in a fresh ``spawn`` process (never forked from the threaded server) that calls
:class:`~muybridge.training.session.TrainingSession` like ``muybridge train`` does, reports through a queue,
exports the run into the workspace's models, and stops when the parent sets ``stop_event``: the training loop
polls it between steps and always saves a checkpoint, so a stopped run resumes exactly where it ended.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch

from muybridge.errors import MuybridgeError
from muybridge.progress import Progress
from muybridge.studio.errors import Conflict, NotFound
from muybridge.studio.jobs import Job, JobManager
from muybridge.studio.workspace import Workspace, check_name
from muybridge.training import checkpoint as ckpt
from muybridge.training.export import export_run
from muybridge.training.run import RunFolder
from muybridge.training.session import TrainingSession, new_run_config

PROGRESS_INTERVAL_S = 0.5
PR_SET_PDEATHSIG = 1  # prctl(2)


def start_run(workspace: Workspace, jobs: JobManager, threads: int, dataset: str, name: str, minutes: float,
              settings: dict[str, Any], overrides: dict[str, Any], init_from: Path | None) -> Job:
    """Start training a new run ``name`` on ``dataset``; bad settings are refused here, before a process starts."""
    data_dir = workspace.existing("datasets", dataset, "dataset")
    run_name = check_name(name, "run name")
    if workspace.area("runs", run_name, "run name").exists():
        raise Conflict(f"a run named {run_name!r} exists already: resume it, or choose another name")
    new_run_config(settings, overrides, init_from)
    request = {"settings": settings, "overrides": overrides, "init_from": str(init_from) if init_from else None}
    return _start_job(workspace, jobs, threads, data_dir, run_name, minutes, False, request)


def resume_run(workspace: Workspace, jobs: JobManager, threads: int, name: str, minutes: float) -> Job:
    """Continue run ``name`` on the dataset it was trained on, for ``minutes`` more."""
    folder = RunFolder(workspace.existing("runs", name, "run"))
    writer = folder.writer_pid()
    if writer is not None:  # e.g. a studio that died and left its trainer running (it stops with its parent now)
        raise Conflict(f"run {name!r} is being trained by another process (PID {writer}); stop it first")
    run = folder.read()
    data_dir = workspace.existing("datasets", Path(str(run["dataset"]["path"])).name, "dataset")
    return _start_job(workspace, jobs, threads, data_dir, name, minutes, True, {})


def _start_job(workspace: Workspace, jobs: JobManager, threads: int, data_dir: Path, run_name: str,
               minutes: float, resume: bool, request: dict[str, Any]) -> Job:
    run_dir = workspace.area("runs", run_name, "run name")
    model_dir = workspace.area("models", run_name, "model name")
    verb = "resume" if resume else "train"
    job = jobs.start_process(f"{verb} {run_name} ({minutes:g} min)", train_worker,
                             (str(data_dir), str(run_dir), str(model_dir), request, minutes, resume, threads))
    job.update(result={"run": run_name})
    return job


def list_runs(workspace: Workspace, jobs: JobManager) -> list[dict[str, Any]]:
    """The workspace's runs, with their last logged kimg, whether a model was exported and whether it trains."""
    training = {job.result.get("run") for job in jobs.running_training()}
    listed = []
    for path in sorted(workspace.inside("runs").iterdir()):
        folder = RunFolder(path)
        if not folder.exists():
            continue
        run = folder.read()
        exported = (workspace.root / "models" / path.name).is_dir()
        listed.append({"name": path.name, "dataset": Path(str(run["dataset"]["path"])).name,
                       "architecture": run["config"].get("architecture"), "kimg": folder.last_kimg(),
                       "model": path.name if exported else None,
                       "training": path.name in training or folder.writer_pid() is not None})
    return listed


def latest_sample(workspace: Workspace, name: str) -> Path:
    """The run's latest sample grid, or a 404 before its first."""
    path = RunFolder(workspace.existing("runs", name, "run")).latest_sample
    if not path.is_file():
        raise NotFound(f"run {name!r} has no sample grid yet")
    return path


def trained_seconds(run: RunFolder) -> float:
    """Training time already spent in a run (0 for a new run): from its newest checkpoint."""
    latest = run.latest()
    return 0.0 if latest is None else float(ckpt.read_checkpoint(latest)[1].get("train_seconds", 0.0))


def end_with_parent() -> None:
    """Ask the kernel to send this process SIGTERM when the studio dies, however it dies (``kill -9`` too): the
    session then checkpoints and stops, instead of training on as an orphan. Linux only; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the studio died before the call above: nobody is left to stop us
        os.kill(os.getpid(), signal.SIGTERM)


def train_worker(data_dir: str, run_dir: str, model_dir: str, request: dict[str, Any], minutes: float,
                 resume: bool, threads: int, stop_event: Any, messages: Any) -> None:
    """Process entry point: ``minutes`` more training of ``run_dir`` on ``data_dir`` (a new run takes
    ``request``'s settings, overrides and ``init_from``), then export."""
    end_with_parent()
    try:
        messages.put(("done", _train_and_export(Path(data_dir), Path(run_dir), Path(model_dir), request,
                                                minutes, resume, threads, stop_event, messages)))
    except MuybridgeError as exc:
        messages.put(("error", str(exc)))
    except Exception as exc:  # an internal bug: reported as one line, the server carries on
        messages.put(("error", f"internal error in training ({type(exc).__name__}: {exc})"))


def _train_and_export(data_dir: Path, run_dir: Path, model_dir: Path, request: dict[str, Any], minutes: float,
                      resume: bool, threads: int, stop_event: Any, messages: Any) -> dict[str, Any]:
    torch.set_num_threads(max(1, threads))
    messages.put(("progress", (0, None, {"stage": "starting"})))
    session = TrainingSession.open(data_dir, run_dir, resume=resume, settings=request.get("settings"),
                                   overrides=request.get("overrides"), init_from=request.get("init_from"))
    already = trained_seconds(session.run) if resume else 0.0
    limit_s = already + minutes * 60
    warnings: list[str] = []
    result = session.train(minutes=limit_s / 60, progress=_progress(messages, already, limit_s),
                           should_stop=stop_event.is_set, warn=warnings.append)
    messages.put(("progress", (int(limit_s), int(limit_s), {"stage": "exporting"})))
    model = export_run(run_dir, model_dir, overwrite=True) if result.checkpoint else None
    return {"run": run_dir.name, "model": model.name if model else None, "stopped_by": result.stopped_by,
            "step": result.step, "kimg": round(result.kimg, 3),
            "train_seconds": round(result.train_seconds, 1), "warnings": warnings[-5:]}


def _progress(messages: Any, already: float, limit_s: float) -> Progress:
    """A progress callback that sends the elapsed training time to the parent at most every interval."""
    started = time.monotonic()
    last_sent = 0.0

    def progress(done: int, total: int | None, /, **info: float | str) -> None:
        nonlocal last_sent
        now = time.monotonic()
        if now - last_sent < PROGRESS_INTERVAL_S:
            return
        last_sent = now
        elapsed = already + now - started
        facts = {**info, "stage": "training", "eta_s": round(max(0.0, limit_s - elapsed), 1),
                 "elapsed_s": round(elapsed, 1)}
        messages.put(("progress", (int(elapsed), int(limit_s), facts)))

    return progress

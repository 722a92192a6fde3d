"""The training process the studio spawns: train a run, then export it into the workspace's models.

It runs in a fresh ``spawn`` process (never forked from the threaded server), reports through a queue,
and stops when the parent sets ``stop_event``: the training loop polls it between steps and always
saves a checkpoint, so a stopped run resumes exactly where it ended.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from muybridge.errors import MuybridgeError

PROGRESS_INTERVAL_S = 0.5


def trained_seconds(run_dir: Path) -> float:
    """Training time already spent in a run (0 for a new run): from its newest checkpoint."""
    from muybridge.training import checkpoint as ckpt

    found = ckpt.list_checkpoints(run_dir / "checkpoints")
    if not found:
        return 0.0
    return float(ckpt.read_checkpoint(found[-1])[1].get("train_seconds", 0.0))


def train_worker(data_dir: str, run_dir: str, model_dir: str, settings: dict[str, Any], minutes: float,
                 resume: bool, threads: int, init_from: str | None, stop_event: Any, messages: Any) -> None:
    """Process entry point: ``minutes`` more training of ``run_dir`` on ``data_dir`` (a new run starts from
    ``init_from``'s networks when given), then export."""
    try:
        messages.put(("done", _train_and_export(Path(data_dir), Path(run_dir), Path(model_dir), settings,
                                                minutes, resume, threads, init_from, stop_event, messages)))
    except MuybridgeError as exc:
        messages.put(("error", str(exc)))
    except Exception as exc:  # an internal bug: reported as one line, the server carries on
        messages.put(("error", f"internal error in training ({type(exc).__name__}: {exc})"))


def _train_and_export(data_dir: Path, run_dir: Path, model_dir: Path, settings: dict[str, Any],
                      minutes: float, resume: bool, threads: int, init_from: str | None, stop_event: Any,
                      messages: Any) -> dict[str, Any]:
    import torch

    from muybridge.training.config import resolve_config, resume_config
    from muybridge.training.export import export_run
    from muybridge.training.loop import read_run, train

    torch.set_num_threads(max(1, threads))
    messages.put(("progress", (0, None, {"stage": "starting"})))
    if resume:
        config = resume_config(read_run(run_dir)["config"], {})
        already = trained_seconds(run_dir)
    else:
        config = resolve_config(None, settings)
        already = 0.0
    limit_s = already + minutes * 60
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

    warnings: list[str] = []
    result = train(data_dir, run_dir, config, minutes=limit_s / 60, resume=resume, init_from=init_from,
                   progress=progress, should_stop=stop_event.is_set, warn=warnings.append)
    messages.put(("progress", (int(limit_s), int(limit_s), {"stage": "exporting"})))
    model = export_run(run_dir, model_dir, overwrite=True) if result.checkpoint else None
    return {"run": run_dir.name, "model": model.name if model else None, "stopped_by": result.stopped_by,
            "step": result.step, "kimg": round(result.kimg, 3),
            "train_seconds": round(result.train_seconds, 1), "warnings": warnings[-5:]}

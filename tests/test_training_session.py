"""The training session: --resume refuses a folder with no run, settings layer one way for every caller, SIGTERM
is handled only while a session runs, eval_kimg works without the CLI, and tune searches what plugins declare."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from cli_runner import run_cli
from test_training import TINY, make_tiny_dataset

from muybridge import MuybridgeError
from muybridge.models.gallop import Gallop
from muybridge.models.registry import ARCHITECTURES, register_architecture
from muybridge.training import loop
from muybridge.training.augment import AUGMENTATIONS
from muybridge.training.config import at_resolution, resolve_config
from muybridge.training.export import export_run
from muybridge.training.run import RunFolder
from muybridge.training.session import TrainingSession, sigterm_requests, start_or_resume
from muybridge.training.tune import augment_choices, suggest


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory, {"cat": (200, 120, 40), "dog": (60, 90, 200)})


@pytest.mark.parametrize("exists", [True, False], ids=["empty-folder", "no-folder"])
def test_resume_without_a_run_refuses_and_writes_nothing(tiny_dataset: Path, tmp_path: Path, exists: bool) -> None:
    run = tmp_path / "run"
    if exists:
        run.mkdir()
    with pytest.raises(MuybridgeError) as refused:
        start_or_resume(tiny_dataset, run, resume=True, kimg=0.008)
    assert str(refused.value) == f"{run}: no run to resume (no run.json); drop --resume to start one"
    assert (list(run.iterdir()) == []) if exists else not run.exists()


def test_cli_resume_without_a_run_says_so_in_one_line(tiny_dataset: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    code, output = run_cli(["train", "--data", str(tiny_dataset), "--out", str(run), "--resume", "--kimg", "0.008"],
                           monkeypatch, capsys)
    assert code != 0
    assert "no run to resume (no run.json); drop --resume to start one" in output
    assert list(run.iterdir()) == []


def test_flags_override_the_settings_file_and_nothing_is_written(tiny_dataset: Path, tmp_path: Path) -> None:
    session = TrainingSession.open(tiny_dataset, tmp_path / "run", settings={**TINY, "batch": 4},
                                   overrides={"batch": 8, "seed": None})
    assert session.config.batch == 8 and session.config.latent_dim == TINY["latent_dim"]
    assert not session.run.path.exists()


def test_sigterm_is_recorded_only_inside_the_session() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with sigterm_requests() as terminated:
        assert not terminated()
        signal.raise_signal(signal.SIGTERM)
        assert terminated()
    assert signal.getsignal(signal.SIGTERM) is previous


def test_eval_kimg_scores_held_out_kid_through_the_python_api(tiny_dataset: Path, tmp_path: Path) -> None:
    settings = resolve_config(None, {**TINY, "eval_kimg": 0.008, "eval_n": 6})
    loop.train(tiny_dataset, tmp_path / "run", settings, kimg=0.016)
    run = RunFolder(tmp_path / "run")
    scores = [row["eval_kid"] for row in run.read_metrics() if "eval_kid" in row]
    assert len(scores) == 2 and all(isinstance(score, float) for score in scores)
    assert run.best.is_file()
    assert json.loads(run.run_file.read_text())["config"]["eval_kimg"] == 0.008
    card = (export_run(tmp_path / "run", tmp_path / "model") / "model_card.md").read_text()
    assert f"- held-out KID at 0.016 kimg: {scores[-1]:.4f} (6 generated images" in card
    assert "- best held-out KID of the run:" in card and "## Limitations" in card


def test_tune_searches_what_a_plugin_architecture_and_augmentation_declare(monkeypatch: pytest.MonkeyPatch) -> None:
    class Plugin(Gallop):
        search_space = {"embed_dim": (8, 16)}

    monkeypatch.setitem(ARCHITECTURES, "plugin", Plugin)
    register_architecture("plugin")(Plugin)
    monkeypatch.setitem(AUGMENTATIONS, "mine", lambda images, generator: images)
    default = at_resolution(resolve_config({"architecture": "plugin"}), 64)
    settings = suggest(optuna.create_study().ask(), default)
    assert settings["params"]["embed_dim"] in (8, 16, Gallop.defaults["embed_dim"])
    assert "mine" in augment_choices(default.augment)


def test_one_writer_per_run(tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    settings = {**TINY, "snapshot_kimg": 0.008}
    start_or_resume(tiny_dataset, run, settings=settings, kimg=0.008)
    folder = RunFolder(run)
    assert folder.writer_pid() is None and not folder.lock.exists()  # released when the session ended
    with folder.writer_lock():
        assert folder.writer_pid() == os.getpid()
        code, output = run_cli(["train", "--data", str(tiny_dataset), "--out", str(run), "--resume",
                                "--kimg", "0.016"], monkeypatch, capsys)
        assert code == 2
        assert output == f"error: {run}: another trainer (PID {os.getpid()}) is writing this run; stop it first " \
                         "or wait for it to end\n"
    assert json.loads(folder.metrics.read_text().splitlines()[-1])["kimg"] <= 0.016  # the refused one wrote nothing


def test_a_killed_trainer_leaves_no_lock_behind(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    code = ("import time; from pathlib import Path; from muybridge.training.run import RunFolder\n"
            f"with RunFolder(Path({str(folder.path)!r})).writer_lock():\n"
            "    print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert folder.writer_pid() == holder.pid
        with pytest.raises(MuybridgeError, match=f"PID {holder.pid}"), folder.writer_lock():
            pass
    finally:
        holder.kill()  # SIGKILL: no cleanup runs; the kernel drops the lock
        holder.wait()
    assert folder.writer_pid() is None
    with folder.writer_lock():
        assert folder.writer_pid() == os.getpid()

"""Data-parallel training: two CPU processes under torchrun (gloo) stay in sync, the run resumes, and no rank is
ever left alone in a collective: with held-out evaluation, with a divergence seen by one rank only, with SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from muybridge.data import prepare_dataset
from muybridge.training import checkpoint as ckpt

TINY = ("--kimg", "0.032", "--batch", "8", "--seed", "3", "--threads", "1")
WORKER = """
import json, sys, torch, torch.distributed as dist
from pathlib import Path
from muybridge.training.config import resolve_config
from muybridge.training.distributed import init_world
from muybridge.training.loop import Trainer
world = init_world()
config = resolve_config(None, json.loads(sys.argv[3]))
trainer = Trainer(Path(sys.argv[1]), Path(sys.argv[2]), config, world)
for _, (real, labels) in zip(range(4), trainer.loader):
    trainer.train_step(real, labels)
    trainer.encoder_step(real, trainer.one_hot(labels))
digest = torch.stack([torch.cat([p.detach().flatten() for p in m.parameters()]).double().sum()
                      for m in (trainer.G, trainer.D, trainer.E, trainer.G_ema)]
                     + [torch.tensor(trainer.augment_p, dtype=torch.float64)])
gathered = [torch.empty_like(digest) for _ in range(world.size)]
dist.all_gather(gathered, digest)
if world.rank == 0:
    Path(sys.argv[4]).write_text(json.dumps([g.tolist() for g in gathered]))
dist.barrier()  # both ranks are done with gloo before either exits
# No destroy_process_group(), as `muybridge train` does not call it either: tearing gloo down while the peer does
# the same can abort (SIGABRT from gloo::transport::tcp::Address::fromPeerName, pytorch/pytorch#188266); CI saw it
# once in about 20 runs.
"""
PARAMS = {"params": {"channel_base": 128, "channel_min": 8, "channel_max": 32, "embed_dim": 8}, "latent_dim": 16,
          "batch": 8, "r1_every": 2, "encoder_every": 1}


#: What a run that hangs would exceed by far: each of these runs takes 10-40 s on the 2-core CPU.
BOUND_S = 180


def torchrun_command(*args: str) -> list[str]:
    if shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("torchrun is not installed beside this Python")
    return [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc-per-node", "2", *args]


def torchrun(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run torchrun to the end; a run that outlives BOUND_S (a hang) fails the test with a TimeoutExpired."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(torchrun_command(*args), capture_output=True, text=True, timeout=BOUND_S,
                          env=environment)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    for name in ("cat", "dog"):
        (root / name).mkdir()
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def dataset(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "tiny"
    prepare_dataset([photos], out, size=32, workers=1)
    return out


@pytest.fixture(scope="module")
def dataset_with_heldout(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "heldout"
    prepare_dataset([photos], out, size=32, workers=1, holdout=["0.25"])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{}, {"ada_target": 1e-6, "ada_kimg": 0.01}], ids=["plain", "ada"])
def test_two_processes_stay_in_sync(dataset: Path, tmp_path: Path, settings: dict) -> None:
    """Weights, and with ADA the augmentation probability (steered by the whole batch's reals), agree."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    result_file = tmp_path / "digests.json"
    done = torchrun(str(script), str(dataset), str(tmp_path / "run"), json.dumps({**PARAMS, **settings}),
                    str(result_file))
    assert done.returncode == 0, done.stderr[-2000:]
    rank0, rank1 = json.loads(result_file.read_text())
    assert rank0 == pytest.approx(rank1, rel=1e-6, abs=1e-6)


@pytest.mark.slow
def test_torchrun_cli_trains_writes_once_and_resumes(dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = torchrun("-m", "muybridge", "train", "--data", str(dataset), "--out", str(run), "--config",
                     tiny_config(tmp_path), *TINY)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Traceback" not in first.stderr
    saved = ckpt.list_checkpoints(run / "checkpoints")
    assert [p.name for p in saved][-1] == ckpt.checkpoint_name(4)
    _, state = ckpt.read_checkpoint(saved[-1])
    assert state["world_size"] == 2 and state["nimg"] == 32
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 4  # one writer, one line per tick

    resumed = torchrun("-m", "muybridge", "train", "--data", str(dataset), "--out", str(run), "--resume",
                       "--kimg", "0.064", "--threads", "1")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _, state = ckpt.read_checkpoint(ckpt.list_checkpoints(run / "checkpoints")[-1])
    assert state["step"] == 8 and state["nimg"] == 64


def tiny_config(tmp_path: Path, **settings: object) -> str:
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps({**PARAMS, "snapshot_kimg": 0.016, "tick_kimg": 0.008, **settings}))
    return str(config)


def metrics_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_torchrun_with_evaluation_completes(dataset_with_heldout: Path, tmp_path: Path) -> None:
    # Rank 0 scores while rank 1 waits; both then agree on the best snapshot and save it together (no regular
    # snapshot is due at the same step, which would hide a save that rank 0 alone enters).
    run = tmp_path / "run"
    done = torchrun("-m", "muybridge", "train", "--data", str(dataset_with_heldout), "--out", str(run),
                    "--config", tiny_config(tmp_path, snapshot_kimg=1000.0), "--eval-kimg", "0.016", "--eval-n", "8",
                    *TINY[2:],
                    "--kimg", "0.064", env={"MUYBRIDGE_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-2000:]
    scores = [row["eval_kid"] for row in metrics_rows(run) if "eval_kid" in row]
    assert len(scores) == 4  # at 16, 32, 48 and 64 images: one writer
    _, state = ckpt.read_checkpoint(run / "checkpoints" / "best.safetensors")
    assert state["best_kid"] == pytest.approx(min(scores))


DIVERGE_ON_RANK_0 = """
import sys
from muybridge.training import loop

fakes = loop.Trainer.fakes


def diverging_fakes(self, classes):  # one rank alone sees a non-finite loss, once, at step 3
    out = fakes(self, classes)
    return out * float("nan") if self.world.rank == 0 and self.step == 3 and self.rollbacks == 0 else out


loop.Trainer.fakes = diverging_fakes
from muybridge.cli import main

sys.argv[0] = "muybridge"
main()
"""


@pytest.mark.slow
def test_torchrun_rolls_every_rank_back_when_one_diverges(dataset: Path, tmp_path: Path) -> None:
    script = tmp_path / "diverge.py"
    script.write_text(DIVERGE_ON_RANK_0)
    run = tmp_path / "run"
    done = torchrun(str(script), "train", "--data", str(dataset), "--out", str(run), "--config",
                    tiny_config(tmp_path), *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rolling back to" in done.stderr
    _, state = ckpt.read_checkpoint(ckpt.list_checkpoints(run / "checkpoints")[-1])
    assert state["rollbacks"] == 1 and state["nimg"] == 32


@pytest.mark.slow
def test_sigterm_ends_every_rank_with_a_checkpoint(dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = torchrun_command("-m", "muybridge", "train", "--data", str(dataset), "--out", str(run), "--config",
                               tiny_config(tmp_path, snapshot_kimg=1000.0), "--kimg", "1000", "--batch", "8",
                               "--threads", "1")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        deadline = time.monotonic() + BOUND_S
        while not ((run / "metrics.jsonl").is_file() and metrics_rows(run)) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1][-2000:]
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)  # to torchrun, which passes it to both ranks
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    # torchrun itself reports the signal with its own traceback (SignalException); the ranks print none.
    assert stderr.count("Traceback") == stderr.count("SignalException: Process") <= 1, stderr[-3000:]
    saved = ckpt.list_checkpoints(run / "checkpoints")
    assert saved, stderr[-2000:]  # no snapshot was due: this one was written on the way out
    _, state = ckpt.read_checkpoint(saved[-1])
    assert state["nimg"] >= 8 and state["world_size"] == 2
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no rank outlived torchrun

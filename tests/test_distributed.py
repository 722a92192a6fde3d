"""Data-parallel training: two CPU processes under torchrun (gloo) stay in sync, and the run resumes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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
                      for m in (trainer.G, trainer.D, trainer.E, trainer.G_ema)])
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


def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("torchrun is not installed beside this Python")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc-per-node", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    for name in ("cat", "dog"):
        (root / name).mkdir()
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    out = tmp_path_factory.mktemp("data") / "tiny"
    prepare_dataset([root], out, size=32, workers=1)
    return out


@pytest.mark.slow
def test_two_processes_stay_in_sync(dataset: Path, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    result_file = tmp_path / "digests.json"
    done = torchrun(str(script), str(dataset), str(tmp_path / "run"), json.dumps(PARAMS), str(result_file))
    assert done.returncode == 0, done.stderr[-2000:]
    rank0, rank1 = json.loads(result_file.read_text())
    assert rank0 == pytest.approx(rank1, rel=1e-6, abs=1e-6)


@pytest.mark.slow
def test_torchrun_cli_trains_writes_once_and_resumes(dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps({**PARAMS, "snapshot_kimg": 0.016, "tick_kimg": 0.008}))
    first = torchrun("-m", "muybridge", "train", "--data", str(dataset), "--out", str(run), "--config", str(config),
                     *TINY)
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

"""``muybridge tune``: trial 0 is the default, the best config is a loadable YAML, the verdict is honest.

The real objective (an Inception pass) is too slow for a unit test: it is replaced by a cheap deterministic
function of the trained generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from muybridge.cli import app
from muybridge.data import prepare_dataset
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.training import tune as tune_module
from muybridge.training.config import at_resolution, read_yaml_config, resolve_config
from muybridge.training.tune import default_point, merge_settings, suggest, table_rows, tune, verdict, write_best_config

BASE = {"params": {"channel_base": 128, "channel_min": 8, "channel_max": 32, "embed_dim": 8}, "latent_dim": 16,
        "batch": 8, "tick_kimg": 0.008, "snapshot_kimg": 0.032, "sample_kimg": 0.064, "r1_every": 2,
        "encoder_every": 2, "precision": "fp32"}
TRIAL_CPU_MINUTES = 0.01


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 smooth random 32 px pictures in one class, a quarter held out."""
    root = tmp_path_factory.mktemp("photos") / "cat"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        small = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((40, 40), Image.BILINEAR).save(root / f"{i}.png")
    out = tmp_path_factory.mktemp("datasets") / "tiny"
    prepare_dataset([root.parent], out, size=32, holdout=["0.25"], workers=1)
    return out


def fake_kid(generator: Generator, dataset: object, n: int = 500, seed: int = 0) -> float:
    """Deterministic in the generator's weights: the mean brightness of four fixed samples."""
    return float(generator.generate("cat", [0, 1, 2, 3]).mean() / 255)


@pytest.fixture
def cheap_objective(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fake KID, and one torch thread (two threads crawl on a 2-core machine that is busy elsewhere)."""
    monkeypatch.setattr(tune_module, "quick_kid", fake_kid)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("arch", ["gallop", "dcgan"])
def test_the_default_point_reproduces_the_default_config(arch: str) -> None:
    default = at_resolution(resolve_config({"architecture": arch}), 64)
    settings = suggest(optuna.trial.FixedTrial(default_point(default)), default)
    assert at_resolution(resolve_config(merge_settings({"architecture": arch}, settings)), 64) == default


def test_tune_writes_a_loadable_best_config_and_trial_0_is_the_default(
        tiny_dataset: Path, tmp_path: Path, cheap_objective: None) -> None:
    seen: list[tuple[int, int | None]] = []
    result = tune(tiny_dataset, trials=2, cpu_minutes_per_trial=TRIAL_CPU_MINUTES, base=BASE, seed=3,
                  progress=lambda done, total, **info: seen.append((done, total)))
    assert [t.number for t in result.trials] == [0, 1]
    assert all(t.kid is not None and 0 <= t.kid <= 1 and t.kimg > 0 for t in result.trials)
    default = resolve_config({**BASE, "architecture": "gallop"})
    assert resolve_config(merge_settings(result.base, result.default.settings)) == default
    assert resolve_config(merge_settings(result.base, result.trials[1].settings)) != default
    assert seen[-1] == (2, 2)

    path = write_best_config(result, tmp_path / "best.yaml")
    values = read_yaml_config(path)
    best = resolve_config(values)
    assert best == resolve_config(merge_settings(result.base, result.best.settings))
    assert best.params["channel_min"] == 8  # the base settings travel with the tuned ones
    assert yaml.safe_load(path.read_text())["architecture"] == "gallop"

    line = verdict(result)
    kids = [t.kid for t in result.trials]
    assert result.beat_default == (kids[1] < kids[0])  # type: ignore[operator]
    assert line.startswith("tuning beat the default" if result.beat_default else "tuning did not beat")
    rows = table_rows(result)
    assert rows[0][-1].startswith("default") and any("best" in row[-1] for row in rows)


def test_tune_command_prints_the_verdict_and_writes_the_yaml(tiny_dataset: Path, tmp_path: Path,
                                                             cheap_objective: None) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(BASE))
    out = tmp_path / "best.yaml"
    result = CliRunner().invoke(app, ["tune", "--data", str(tiny_dataset), "--trials", "2", "--config", str(base),
                                      "--minutes-per-trial", str(TRIAL_CPU_MINUTES), "--out", str(out),
                                      "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "beat the default" in result.output and "tuning trials" in result.output
    assert resolve_config(read_yaml_config(out)).latent_dim == 16


def test_tune_refuses_bad_requests(tiny_dataset: Path) -> None:
    with pytest.raises(MuybridgeError, match="--trials"):
        tune(tiny_dataset, trials=0, cpu_minutes_per_trial=1.0)
    with pytest.raises(MuybridgeError, match="--minutes-per-trial"):
        tune(tiny_dataset, trials=1, cpu_minutes_per_trial=0.0)

"""The registered losses and the gradient penalties: what each objective rewards, and R2 in a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_training import TINY, make_tiny_dataset

from muybridge import MuybridgeError
from muybridge.training import loop
from muybridge.training.config import resolve_config
from muybridge.training.losses import LOSSES, gradient_penalty


def test_the_relativistic_loss_scores_each_real_against_its_paired_fake() -> None:
    loss = LOSSES["relativistic"]()
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    # Only the gaps count: moving every logit by the same amount changes neither objective, unlike the others.
    for shift in (-5.0, 7.0):
        assert loss.discriminator(real + shift, fake + shift) == pytest.approx(float(loss.discriminator(real, fake)))
        assert loss.generator(fake + shift, real + shift) == pytest.approx(float(loss.generator(fake, real)))
    assert LOSSES["nonsaturating"]().discriminator(real + 7, fake + 7) != pytest.approx(
        float(LOSSES["nonsaturating"]().discriminator(real, fake)))
    # D gains as the gaps widen; G gains as its fakes close them; each pair is compared, not the batch.
    assert loss.discriminator(real + 1, fake) < loss.discriminator(real, fake)
    assert loss.generator(fake + 1, real) < loss.generator(fake, real)
    paired = loss.discriminator(torch.tensor([1.0, 5.0]), torch.tensor([0.0, 4.0]))
    crossed = loss.discriminator(torch.tensor([1.0, 5.0]), torch.tensor([4.0, 0.0]))
    assert paired != pytest.approx(float(crossed))


def test_the_gradient_penalty_is_the_squared_gradient_norm_per_image() -> None:
    images = torch.ones(3, 1, 2, 2, requires_grad=True)
    logits = (images * torch.tensor(2.0)).sum(dim=(1, 2, 3))  # gradient 2 at each of 4 pixels: norm² 16
    assert float(gradient_penalty(logits, images)) == pytest.approx(16.0)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory, {"cat": (200, 120, 40), "dog": (60, 90, 200)})


def test_r3gan_settings_train_with_r1_on_reals_and_r2_on_fakes(tiny_dataset: Path, tmp_path: Path) -> None:
    config = resolve_config(None, {**TINY, "loss": "relativistic", "r1_gamma": 0.1, "r2_gamma": 0.1})
    result = loop.train(tiny_dataset, tmp_path / "run", config, kimg=0.032)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    penalised = [r for r in rows if "r2" in r]
    assert result.step == 4 and len(penalised) == 2  # every r1_every (2) steps, both penalties
    assert all(r["r1"] > 0 and r["r2"] > 0 for r in penalised)
    assert all("r2" not in r for r in rows if "r1" not in r)
    plain = resolve_config(None, {**TINY, "loss": "relativistic"})
    loop.train(tiny_dataset, tmp_path / "plain", plain, kimg=0.016)
    assert not any("r2" in line for line in (tmp_path / "plain" / "metrics.jsonl").read_text().splitlines())


def test_negative_penalties_are_refused() -> None:
    with pytest.raises(MuybridgeError, match="r2_gamma must be at least 0"):
        resolve_config(None, {"r2_gamma": -1.0})

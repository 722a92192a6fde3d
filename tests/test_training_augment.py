"""Augmentation: DiffAugment at full strength as before, ADA's probability per image, and its controller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_training import TINY, make_tiny_dataset, metrics, run_training

from muybridge.errors import MuybridgeError
from muybridge.training import checkpoint as ckpt
from muybridge.training import loop
from muybridge.training.augment import adapted_probability, augment
from muybridge.training.config import resolve_config

NAMES = ["color", "translation", "cutout"]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory, {"cat": (200, 120, 40), "dog": (60, 90, 200)})


def images() -> torch.Tensor:
    return torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1


def test_full_probability_is_plain_diffaugment_and_zero_leaves_every_image() -> None:
    plain = augment(images(), NAMES, torch.Generator().manual_seed(3))
    assert torch.equal(augment(images(), NAMES, torch.Generator().manual_seed(3), probability=1.0), plain)
    assert torch.equal(augment(images(), NAMES, torch.Generator().manual_seed(3), probability=0.0), images())


def shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (C, H, W) with ``out[y, x] = image[y + dy, x + dx]``, zero where that falls outside."""
    _, h, w = image.shape
    out = torch.zeros_like(image)
    out[:, max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)] = \
        image[:, max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)]
    return out


def test_translation_shifts_each_image_whole_within_an_eighth_and_fills_zeros() -> None:
    batch = images()
    moved = augment(batch, ["translation"], torch.Generator().manual_seed(5))
    shifts = []
    for before, after in zip(batch, moved, strict=True):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(after, shifted(before, dy, dx))]
        assert len(found) == 1  # 16 px: shifts up to 2 (an eighth), and random pixels tell each shift apart
        shifts.append(found[0])
    assert len(set(shifts)) > 10  # drawn per image


def test_each_augmentation_reaches_each_image_with_the_probability() -> None:
    """With one augmentation at p 0.5, about half of the images change, and each changed one changed whole."""
    changed = [(augment(images(), ["color"], torch.Generator().manual_seed(seed), probability=0.5) != images())
               .flatten(1).any(dim=1) for seed in range(8)]
    share = float(torch.stack(changed).float().mean())
    assert 0.4 < share < 0.6


def test_the_controller_moves_the_probability_by_the_sign_of_overfitting() -> None:
    step = 32 / (100 * 1000)
    assert adapted_probability(0.5, 0.9, 0.6, 32, 100) == pytest.approx(0.5 + step)  # D too sure of reals
    assert adapted_probability(0.5, 0.2, 0.6, 32, 100) == pytest.approx(0.5 - step)
    assert adapted_probability(0.0, -1.0, 0.6, 32, 100) == 0.0
    assert adapted_probability(1.0, 1.0, 0.6, 32, 100) == 1.0
    probability = 0.0
    for _ in range(1000):  # 32,000 images of an overfitting D: 0.32 of the way in ada_kimg 100
        probability = adapted_probability(probability, 1.0, 0.6, 32, 100)
    assert probability == pytest.approx(0.32)


def test_an_ada_run_steers_by_the_controller_and_resumes_its_probability_exactly(
        tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's probability is the controller's, step after step (here one that always rises by 0.1, as for a
    discriminator sure of every real); it is logged, checkpointed and restored by a resume."""
    seen: list[float] = []

    def rising(probability: float, real_sign_mean: float, target: float, images: int, kimg: float) -> float:
        assert -1.0 <= real_sign_mean <= 1.0 and (target, images, kimg) == (0.6, 8, 100.0)
        seen.append(real_sign_mean)
        return min(1.0, probability + 0.1)

    monkeypatch.setattr(loop, "adapted_probability", rising)
    straight = run_training(tiny_dataset, tmp_path / "straight", kimg=0.096, ada_target=0.6)
    run_training(tiny_dataset, tmp_path / "interrupted", kimg=0.048, ada_target=0.6)
    run_training(tiny_dataset, tmp_path / "interrupted", kimg=0.096, resume=True, ada_target=0.6)
    expected = [pytest.approx(min(1.0, 0.1 * step)) for step in range(1, 13)]  # a log line per step (8 images)
    for run in ("straight", "interrupted"):
        assert [row["augment_p"] for row in metrics(tmp_path / run)] == expected, run
    _, state = ckpt.read_checkpoint(straight.checkpoint)
    assert state["augment_p"] == pytest.approx(1.0) and len(seen) == 24
    assert json.loads((tmp_path / "straight" / "run.json").read_text())["config"]["ada_target"] == 0.6


def test_a_run_without_ada_logs_no_probability(tiny_dataset: Path, tmp_path: Path) -> None:
    run_training(tiny_dataset, tmp_path / "plain", kimg=0.016)
    assert not [row for row in metrics(tmp_path / "plain") if "augment_p" in row]


@pytest.mark.parametrize(("settings", "message"), [
    ({"ada_target": 1.0}, "ada_target must be in \\[0, 1\\) and ada_kimg above 0, got 1.0 and 100.0"),
    ({"ada_target": 0.6, "ada_kimg": 0}, "ada_target must be in \\[0, 1\\) and ada_kimg above 0, got 0.6 and 0"),
])
def test_bad_ada_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(MuybridgeError, match=message):
        resolve_config(None, {**TINY, **settings})

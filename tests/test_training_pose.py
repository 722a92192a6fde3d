"""Training-time pose warps: posed runs resume bit-exactly, the pose draw is seeded, pose_p 0 changes nothing,
and settings that cannot work are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_training import TINY, TINY_DCGAN, make_tiny_dataset, metrics, run_training

from muybridge import MuybridgeError
from muybridge.models import pose
from muybridge.training import checkpoint as ckpt
from muybridge.training import loop
from muybridge.training.config import resolve_config

POSED = {"pose_p": 0.5}


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory, {"cat": (200, 120, 40), "dog": (60, 90, 200)})


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return ckpt.read_checkpoint(ckpt.list_checkpoints(run / "checkpoints")[-1])[0]


def test_a_posed_run_resumes_bit_exactly(tiny_dataset: Path, tmp_path: Path) -> None:
    straight = run_training(tiny_dataset, tmp_path / "straight", kimg=0.096, **POSED)
    first = run_training(tiny_dataset, tmp_path / "interrupted", kimg=0.048, **POSED)
    resumed = run_training(tiny_dataset, tmp_path / "interrupted", kimg=0.096, resume=True, **POSED)
    assert (first.step, resumed.step, straight.step) == (6, 12, 12)
    expected, got = metrics(tmp_path / "straight"), metrics(tmp_path / "interrupted")
    assert got == [{**row, "img_per_s": have["img_per_s"]} for row, have in zip(expected, got, strict=True)]
    a, b = final_weights(tmp_path / "straight"), final_weights(tmp_path / "interrupted")
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_the_pose_draw_is_seeded_and_within_the_ranges() -> None:
    def draw(seed: int, p: float = 0.5, strength: float = 1.0) -> torch.Tensor:
        return pose.random_poses(4096, p, strength, torch.Generator().manual_seed(seed))

    assert torch.equal(draw(0), draw(0)) and not torch.equal(draw(0), draw(1))
    posed = draw(0).any(dim=1)
    assert 0.45 < posed.float().mean() < 0.55  # p = 0.5; the other rows are the rest pose
    limits = torch.tensor(pose.TRAINING_RANGES)
    assert bool((draw(0).abs() <= limits).all()) and bool((draw(0, p=1.0).abs().amax(0) > 0.95 * limits).all())
    assert torch.equal(draw(0, strength=0.5), draw(0) * 0.5)
    assert not draw(0, p=0.0).any()


def test_pose_p_0_draws_no_pose_and_trains_as_before(tiny_dataset: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Off, the pose code never runs (the random stream, so every loss, is the one of a run before pose_p);
    on, the same seed trains otherwise."""
    posed = run_training(tiny_dataset, tmp_path / "posed", kimg=0.032, **POSED)

    def refuse(*args: object) -> torch.Tensor:
        raise AssertionError("a pose was drawn or applied with pose_p 0")

    monkeypatch.setattr(loop, "random_poses", refuse)
    monkeypatch.setattr(loop, "warp_features", refuse)
    plain = run_training(tiny_dataset, tmp_path / "plain", kimg=0.032)
    run_training(tiny_dataset, tmp_path / "again", kimg=0.032, pose_p=0.0, pose_strength=2.0)
    assert plain.step == posed.step == 4
    losses = [[(r["loss_d"], r["loss_g"]) for r in metrics(tmp_path / run)] for run in ("plain", "again", "posed")]
    assert losses[0] == losses[1] != losses[2]


def test_settings_that_cannot_pose_are_refused() -> None:
    with pytest.raises(MuybridgeError, match="dcgan decoder takes no pose"):
        resolve_config(None, {**TINY_DCGAN, **POSED})
    for bad in ({"pose_p": 1.5}, {"pose_strength": -1.0}):
        with pytest.raises(MuybridgeError, match="pose_p must be in"):
            resolve_config(None, {**TINY, **bad})
    with pytest.raises(MuybridgeError, match="pose_resolution 2: the decoder's feature maps are 4, 8, 16, 32 px"):
        resolve_config(None, {**TINY, **POSED, "params": {**TINY["params"], "pose_resolution": 2}})  # type: ignore[dict-item]

"""Motions that keep the character: pose warps move the head while the latent (who it is) stays; the motion
library loops; a character pack has one tag / animation per motion, in the atlas and in Godot's SpriteFrames."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from cli_runner import run_cli
from conftest import wait_for_job
from PIL import Image

from muybridge.animation.modes import loop_builder, pose_builder
from muybridge.animation.motions import MOTIONS
from muybridge.animation.render import AnimationSpec, render_animation
from muybridge.animation.survey import keeps_promise
from muybridge.generator import Generator
from muybridge.metrics.motion import flow_metrics, mean_metrics


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> Generator:
    return Generator.load(tiny_model_dir)


def clips(generator: Generator, builders: list, frames: int = 24) -> list[np.ndarray]:
    paths = [build(generator, 0) for build in builders]
    tiled = render_animation(generator, AnimationSpec(paths, frames, size=64, grid=(1, len(paths))))
    return [tiled[:, :, 64 * i : 64 * (i + 1)] for i in range(len(paths))]


def test_a_pose_motion_moves_where_the_latent_loop_morphs(tiny: Generator) -> None:
    keys = [f"cat:{seed}" for seed in range(4)]
    moved = mean_metrics(clips(tiny, [pose_builder(key, "look-left", strength=2.0) for key in keys]))
    morphed = mean_metrics(clips(tiny, [loop_builder(key, radius=4.0) for key in keys]))
    assert moved["flow_px"] > 1.0
    assert moved["explained"] > morphed["explained"] + 0.2


def test_the_metric_tells_a_shift_from_a_cross_fade() -> None:
    rng = np.random.default_rng(0)
    base = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    base = np.asarray(torch.nn.functional.avg_pool2d(torch.from_numpy(base).permute(2, 0, 1).float()[None], 5, 1, 2)
                      [0].permute(1, 2, 0)).astype(np.uint8)
    shifted = np.stack([np.roll(base, k, axis=1) for k in range(0, 8, 2)])
    other = base[::-1, ::-1]
    faded = np.stack([(base * (1 - a) + other * a).astype(np.uint8) for a in np.linspace(0, 1, 4)])
    assert flow_metrics(shifted).explained > 0.5 > 0.2 > flow_metrics(faded).explained


def test_the_rest_pose_changes_nothing(tiny: Generator) -> None:
    latents, weights = tiny.latents([3, 4]), tiny.class_weights(["cat", "dog"])
    assert torch.equal(tiny.decode(latents, weights), tiny.decode(latents, weights, pose=torch.zeros(2, 6)))
    tilted = tiny.decode(latents, weights, pose=torch.tensor([[0.3, 0, 0, 0, 0, 0]] * 2))
    assert (tilted - tiny.decode(latents, weights)).abs().mean() > 0.01


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_every_motion_loops_and_moves(name: str) -> None:
    poses = MOTIONS[name].poses(np.linspace(0, 1, 25))
    assert np.allclose(poses[0], 0) and np.allclose(poses[-1], 0)  # seamless: t = 1 is t = 0
    assert np.abs(poses).max() > 0.01


def test_a_character_pack_tags_every_motion(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "cat3"
    code, text = run_cli(["animate", "character", "cat:3", "-m", str(tiny_model_dir), "--motions", "idle,nod,tilt",
                          "--frames", "6", "--fps", "12", "-o", str(folder)], monkeypatch, capsys)
    assert code == 0, text
    atlas = json.loads((folder / "sheet.json").read_text())
    tags = [(tag["name"], tag["from"], tag["to"]) for tag in atlas["meta"]["frameTags"]]
    assert tags == [("idle", 0, 5), ("nod", 6, 11), ("tilt", 12, 17)]
    assert atlas["animations"]["nod"] == [str(i) for i in range(6, 12)]
    assert atlas["frames"]["7"]["frame"] == {"x": 32, "y": 32, "w": 32, "h": 32}  # row 1, column 1 of 32-px cells
    godot = (folder / "sheet.tres").read_text()
    assert godot.startswith('[gd_resource type="SpriteFrames" load_steps=20 format=3]')
    names = re.findall(r'"name": &"([a-z-]+)"', godot)
    assert names == ["idle", "nod", "tilt"]
    assert godot.count('"speed": 12.0') == 3 and godot.count("SubResource(") == 18
    godot3 = (folder / "sheet.godot3.tres").read_text()  # Godot 3's format; loaded for real in test_godot.py
    assert godot3.startswith('[gd_resource type="SpriteFrames" load_steps=20 format=2]')
    assert re.findall(r'"name": "([a-z-]+)"', godot3) == ["idle", "nod", "tilt"]
    assert sorted(p.name for p in (folder / "previews").iterdir()) == ["idle.gif", "nod.gif", "tilt.gif"]
    assert json.loads((folder / "character.json").read_text())["motions"] == ["idle", "nod", "tilt"]


@pytest.mark.parametrize(("argv", "message"), [
    (["animate", "motion", "cat", "--motion", "wag"], "unknown motion 'wag'"),
    (["animate", "motion", "cat", "--strength", "9"], "--strength must be"),
    (["animate", "character", "cat", "--motions", "idle,wag"], "--motions: unknown motion 'wag'"),
])
def test_bad_motions_give_one_line(argv: list[str], message: str, tiny_model_dir: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, text = run_cli([*argv, "-m", str(tiny_model_dir), "-o", "out.gif"], monkeypatch, capsys)
    assert code == 2 and text.startswith("error: ") and message in text and text.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_the_studio_lists_the_motion_library(client: Any) -> None:
    listed = client.get("/v1/motions").json()
    assert [m["id"] for m in listed] == list(MOTIONS) and all(m["description"] for m in listed)


def test_the_studio_renders_a_character_pack(client: Any) -> None:
    started = client.post("/v1/character", json={"model": "tiny", "character": "dog:2", "motions": ["idle", "nod"],
                                                 "frames": 4, "strength": 1.5})
    assert started.status_code == 202, started.text
    job = wait_for_job(client, started.json()["id"])
    assert job["status"] == "done", job["error"]
    result = job["result"]
    assert result["motions"] == ["idle", "nod"] and result["frames"] == 4
    events = client.get(f"/v1/jobs/{job['id']}/events").text  # a finished job: its last state, then the end
    assert json.loads(events.split("data: ")[-1])["urls"] == job["urls"]  # the page reads urls from events too
    nod = Image.open(io.BytesIO(client.get(job["urls"][result["previews"]["nod"]]).content))
    assert nod.format == "GIF" and nod.n_frames >= 2
    archive = zipfile.ZipFile(io.BytesIO(client.get(job["urls"][result["download"]]).content))
    assert {"sheet.png", "sheet.json", "sheet.tres", "sheet.godot3.tres", "contact.png",
            "character.json"} <= set(archive.namelist())
    refused = client.post("/v1/character", json={"model": "tiny", "motions": ["wag"]})
    assert refused.status_code == 400 and "wag" in refused.json()["error"]
    too_strong = client.post("/v1/character", json={"model": "tiny", "strength": 9})
    assert too_strong.status_code == 400 and too_strong.json()["field"] == "strength"


def test_motions_are_named_by_what_the_flow_says() -> None:
    assert keeps_promise("look-left", {"dx": -2.0, "dy": 0.3, "curl": 0.1, "divergence": 0.0})
    assert not keeps_promise("look-left", {"dx": 2.0, "dy": 0.3, "curl": 0.1, "divergence": 0.0})
    assert not keeps_promise("nod", {"dx": 2.0, "dy": 0.5, "curl": 0.0, "divergence": 0.0})
    assert keeps_promise("tilt", {"dx": 0.0, "dy": 0.0, "curl": -5.0, "divergence": 1.0})
    assert not keeps_promise("lean-in", {"dx": 0.0, "dy": 0.0, "curl": 0.0, "divergence": -3.0})


def test_the_motions_verb_stores_what_it_measured_and_strengths_are_read(
        tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "tiny"
    shutil.copytree(tiny_model_dir, model)
    code, text = run_cli(["motions", str(model), "--per-class", "1"], monkeypatch, capsys)
    assert code == 0, text
    stored = json.loads((model / "motions.json").read_text())["motions"]
    assert list(stored) == list(MOTIONS) and all(0 <= m["explained"] <= 1 for m in stored.values())
    assert stored["look-left"]["signature"]["dx"] < 0 < stored["look-right"]["signature"]["dx"]
    stored["nod"]["strength"] = 2.0
    (model / "motions.json").write_text(json.dumps({"motions": stored}))
    generator = Generator.load(model)
    times = np.linspace(0, 1, 9)
    doubled = pose_builder("cat:1", "nod")(generator, 0).poses(times)  # type: ignore[attr-defined]
    assert torch.allclose(doubled, 2 * torch.from_numpy(MOTIONS["nod"].poses(times)).float())


@pytest.mark.parametrize(("body", "message"), [
    ({"characters": ["cow:1"]}, "unknown class 'cow'"),
    ({"mode": "motion", "characters": ["cat:1"], "direction": "wag"}, "unknown direction 'wag'"),
    ({"characters": ["cat:1"], "offsets": {"wag": 1.0}}, "unknown direction 'wag'"),
    ({"characters": ["cat:1"], "fps": 1e-9}, "fps: must be"),
    ({"characters": ["cat:1"], "grid": "99x99"}, "grid: "),
])
def test_animate_is_refused_before_a_job_when_only_the_model_can_tell(client: Any, body: dict[str, Any],
                                                                       message: str) -> None:
    refused = client.post("/v1/animate", json={"model": "tiny", **body})
    assert refused.status_code == 400 and message in refused.json()["error"], refused.text
    assert client.get("/v1/jobs").json() == []

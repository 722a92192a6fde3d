"""The rendering verbs end to end through the real entry point: outputs on success, one-line errors and
nothing written on bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from PIL import Image


def test_animate_loop_and_generate(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    model = str(tiny_model_dir)
    code, text = run_cli(["animate", "loop", "cat", "--seed", "7", "-m", model, "--frames", "6", "--size", "48",
                      "-o", str(tmp_path / "cat.gif")], monkeypatch, capsys)
    assert code == 0, text
    with Image.open(tmp_path / "cat.gif") as gif:
        assert gif.n_frames == 6 and gif.size == (48, 48)
    code, text = run_cli(["generate", "dog:3", "--n", "4", "-m", model, "-o", str(tmp_path / "dogs.png")],
                     monkeypatch, capsys)
    assert code == 0, text
    assert Image.open(tmp_path / "dogs.png").size == (64, 64)
    code, text = run_cli(["generate", "dog:3", "--n", "8", "-m", model, "-o", str(tmp_path / "eight.png")],
                         monkeypatch, capsys)
    assert code == 0, text
    eight = np.asarray(Image.open(tmp_path / "eight.png"))
    assert eight.shape == (64, 128, 3)  # 4x2, not 3x3 with a black ninth cell
    assert all(eight[r : r + 32, c : c + 32].any() for r in (0, 32) for c in (0, 32, 64, 96))


def test_every_mode_runs(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    keys = tmp_path / "keys.yaml"
    keys.write_text("- {time: 0, class: cat, seed: 1}\n"
                    "- {time: 0.5, class: dog, seed: 2, directions: {nod: 1}}\n")
    commands = [
        ["directions", "-m", str(model), "--top", "2", "--out", str(tmp_path / "dirs")],
        ["directions", "name", str(model), "sefa:1", "nod"],
        ["animate", "walk", "cat:1", "cat:2", "dog:3", "--loop", "--frames", "6", "-o",
         str(tmp_path / "w.webp")],
        ["animate", "morph", "cat:3", "dog", "--frames", "5", "--grid", "1x2", "-o", str(tmp_path / "m.png")],
        ["animate", "motion", "cat", "--direction", "nod", "--frames", "4", "-o", str(tmp_path / "nod")],
        ["animate", "timeline", str(keys), "--fps", "8", "-o", str(tmp_path / "film.mp4")],
    ]
    for argv in commands:
        if argv[0] == "animate":
            argv += ["-m", str(model)]
        code, text = run_cli(argv, monkeypatch, capsys)
        assert code == 0, f"{argv}: {text}"
    assert sorted(p.name for p in (tmp_path / "dirs").iterdir()) == ["sefa_00.png", "sefa_01.png"]
    atlas = json.loads((tmp_path / "m.json").read_text())
    assert len(atlas["frames"]) == 5 and atlas["meta"]["size"] == {"w": 192, "h": 64}  # 3x2 cells of 64x32
    assert len(list((tmp_path / "nod").iterdir())) == 4
    assert (tmp_path / "film.mp4").stat().st_size > 0


BAD = [
    (["animate", "loop", "cat", "--fps", "0"], "--fps must be above 0"),
    (["animate", "loop", "cat", "--duration", "-2"], "--duration must be a positive"),
    (["animate", "loop", "cow"], "unknown class 'cow'"),
    (["animate", "loop", "cat", "--size", "5000"], "--size must be between"),
    (["animate", "loop", "cat", "--grid", "2by2"], "bad --grid"),
    (["animate", "motion", "cat", "--direction", "wag"], "unknown direction 'wag'"),
    (["animate", "morph", "cat:1", "dog", "--easing", "bouncy"], "unknown easing"),
    (["animate", "loop", "cat:1", "--seed", "2"], "already names seed 1"),
    (["animate", "loop", "cat", "--frames", "3", "--duration", "1"], "not both"),
    (["animate", "timeline", "missing.yaml"], "cannot read the timeline"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_options_give_one_line_and_write_nothing(argv: list[str], message: str, tmp_path: Path,
                                                     tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, text = run_cli([*argv, "-m", str(tiny_model_dir), "-o", "out.gif"], monkeypatch, capsys)
    assert code == 2
    assert text.startswith("error: ") and message in text and text.count("\n") == 1
    assert "Traceback" not in text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("output", "message"), [
    ("clip.avi", "unknown output format '.avi'"),
    ("blocker/clip.gif", "is not a folder"),
])
def test_bad_outputs_are_refused_before_rendering(output: str, message: str, tmp_path: Path,
                                                  tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("blocker").write_text("a file where a folder should be")
    code, text = run_cli(["animate", "loop", "cat", "-m", str(tiny_model_dir), "-o", output], monkeypatch, capsys)
    assert code == 2 and message in text and "Traceback" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_help_has_examples(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for verb in (["generate"], ["animate", "loop"], ["animate", "walk"], ["animate", "morph"],
                 ["animate", "motion"], ["animate", "timeline"], ["directions"], ["directions", "name"]):
        code, text = run_cli([*verb, "--help"], monkeypatch, capsys)
        assert code == 0 and "Example: muybridge" in text, verb

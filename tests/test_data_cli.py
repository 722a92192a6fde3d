"""The data verbs end to end: ``prepare`` and ``dataset info`` through typer and through ``python -m``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from muybridge.cli import app
from muybridge.data import open_dataset
from muybridge.errors import MuybridgeError


def make_photos(root: Path, per_class: int = 5) -> Path:
    rng = np.random.default_rng(0)
    for class_name in ("cat", "dog"):
        (root / class_name).mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / class_name / f"{index}.jpg")
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return root


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUYBRIDGE_PROGRESS": "0"}
    env.pop("MUYBRIDGE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "muybridge", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_prepare_and_info_through_typer(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "photos")
    runner = CliRunner()
    result = runner.invoke(app, ["prepare", str(photos), "--out", str(tmp_path / "ds"), "--size", "32",
                                 "--holdout", "0.3", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "10 images at 32x32" in result.output and "1 not an image" in result.output
    dataset = open_dataset(tmp_path / "ds")
    assert dataset.count() == 10 and dataset.count("heldout") + dataset.count("train") == 10

    sheet = tmp_path / "sheet.png"
    result = runner.invoke(app, ["dataset", "info", str(tmp_path / "ds"), "--sheet", str(sheet),
                                 "--per-class", "3"])
    assert result.exit_code == 0, result.output
    assert "cat: 5" in result.output and "dog: 5" in result.output
    with Image.open(sheet) as image:
        assert image.mode == "RGB" and image.width >= 3 * 64 and image.height >= 2 * 64
        assert np.asarray(image).std() > 10, "the sheet shows pictures, not a blank canvas"

    again = runner.invoke(app, ["prepare", str(photos), "--out", str(tmp_path / "ds"), "--workers", "1"])
    assert isinstance(again.exception, MuybridgeError) and "--overwrite" in str(again.exception)


def test_python_m_prepare_with_nothing_usable_exits_2_and_leaves_nothing(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.jpg").write_text("not an image")
    result = run_module("prepare", str(junk), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "error:" in result.stderr and "no usable image" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk"]


@pytest.mark.parametrize("args", [["dataset", "info", "/no/such/dataset"],
                                  ["prepare", "/no/such/photos", "--out", "/tmp/never-made"]])
def test_python_m_bad_paths_exit_2_without_traceback(args: list[str]) -> None:
    result = run_module(*args)
    assert result.returncode == 2 and "error:" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not Path("/tmp/never-made").exists()

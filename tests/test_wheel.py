"""The wheel: built from the project alone, it carries the bundled model and the studio's files, and works
installed where there is no clone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_installs_and_draws_without_the_clone(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project)
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            str(project), "-w", str(tmp_path / "dist")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("muybridge-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"muybridge/zoo/cats-dogs-64/model.safetensors", "muybridge/zoo/cats-dogs-64/config.json",
            "muybridge/studio/static/index.html", "muybridge/py.typed", "muybridge/engines/page/index.html",
            "muybridge/engines/page/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm"} <= names

    # A fresh environment: the wheel installed into its own folder, the dependencies (torch...) read from this
    # test's environment through PYTHONPATH, and no clone on the path (-S: no site hooks, so this environment's
    # editable install of the clone is not loaded).
    target = tmp_path / "installed"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                                str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PYTHONPATH"] = os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]])
    draw = subprocess.run([sys.executable, "-S", "-m", "muybridge", "generate", "cat", "--seed",
                           "7", "-o", "x.png"], cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert draw.returncode == 0, draw.stderr
    assert (tmp_path / "x.png").is_file()
    where = subprocess.run([sys.executable, "-S", "-c", "import muybridge; from muybridge import Generator; "
                            "print(muybridge.__file__); print(Generator.load().path)"],
                           cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    package, model = where.stdout.split()
    assert Path(package).is_relative_to(target) and Path(model).is_relative_to(target)

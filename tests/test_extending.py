"""The example in docs/extending.md runs as written: its parts register, train, export and load."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from muybridge import Generator
from muybridge.data import prepare_dataset
from muybridge.models import ARCHITECTURES
from muybridge.training.augment import AUGMENTATIONS
from muybridge.training.config import resolve_config
from muybridge.training.export import export_run
from muybridge.training.loop import train
from muybridge.training.losses import LOSSES

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def test_the_documented_extension_example_trains_exports_and_loads(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/extending.md lost its Python example"
    code = blocks[0]
    assert 25 <= len([line for line in code.splitlines() if line.strip()]) <= 70
    exec(compile(code, str(DOC), "exec"), {"__name__": "my_parts"})
    assert "mlp" in ARCHITECTURES and "least_squares" in LOSSES and "noise" in AUGMENTATIONS

    photos = tmp_path / "photos" / "cat"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    prepare_dataset([photos.parent], tmp_path / "data", size=16, workers=1)

    config = resolve_config({"architecture": "mlp", "params": {"hidden": 32}, "loss": "least_squares",
                             "augment": ["noise", "translation"], "latent_dim": 8, "batch": 4})
    result = train(tmp_path / "data", tmp_path / "run", config, kimg=0.012)
    assert result.step == 3
    generator = Generator.load(export_run(tmp_path / "run", tmp_path / "model"))
    image = generator.generate("cat", [1, 2])
    assert image.shape == (2, 16, 16, 3) and image[0].std() > 0


def test_an_unknown_part_is_refused_by_name() -> None:
    with pytest.raises(Exception, match="unknown loss 'wasserstein'"):
        from muybridge.training.losses import get_loss

        get_loss("wasserstein")


def test_plugins_named_in_the_environment_are_imported_by_the_cli(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    (tmp_path / "my_loss.py").write_text(
        "from muybridge.training.losses import LOSSES, NonSaturatingLoss, register_loss\n"
        "register_loss('plugin_loss')(type('PluginLoss', (NonSaturatingLoss,), {}))\n"
        "print('loaded', sorted(LOSSES))\n")
    env = {**os.environ, "MUYBRIDGE_PLUGINS": "my_loss"}
    done = subprocess.run([sys.executable, "-m", "muybridge", "version"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "plugin_loss" in done.stdout
    env["MUYBRIDGE_PLUGINS"] = "no_such_module"
    done = subprocess.run([sys.executable, "-m", "muybridge", "version"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "cannot import 'no_such_module'" in done.stderr
    assert "Traceback" not in done.stderr

"""Semantic directions: orthonormal SeFa, unit GANSpace, names saved beside the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from muybridge.animation.directions import (
    ganspace,
    name_direction,
    named_directions,
    preview_strip,
    resolve_direction,
    sefa,
)
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator


@pytest.fixture()
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def test_sefa_directions_are_orthonormal_and_strongest_first(tiny_model_dir: Path) -> None:
    generator = Generator.load(tiny_model_dir)
    found = sefa(generator, top=6)
    vectors = torch.from_numpy(np.stack([d.vector for d in found]))
    assert torch.allclose(vectors @ vectors.T, torch.eye(6), atol=1e-5)
    weight = generator.decoder.latent_projection()  # type: ignore[operator]
    weight = weight / weight.norm(dim=1, keepdim=True)
    strengths = (weight @ vectors.T).norm(dim=0)
    assert torch.all(strengths[:-1] >= strengths[1:] - 1e-5)
    assert [d.index for d in found] == list(range(6)) and {d.method for d in found} == {"sefa"}
    again = sefa(generator, top=6)
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(found, again, strict=True))


def test_ganspace_directions_are_unit_vectors(tiny_model_dir: Path) -> None:
    found = ganspace(Generator.load(tiny_model_dir), top=4)
    norms = np.linalg.norm(np.stack([d.vector for d in found]), axis=1)
    np.testing.assert_allclose(norms, np.ones(4), atol=1e-5)


def test_name_resolve_and_list(model_copy: Path) -> None:
    generator = Generator.load(model_copy)
    path = name_direction(generator, "sefa:2", "nod")
    name_direction(generator, "ganspace:1", "ears")
    data = json.loads(path.read_text())
    assert data["format"] == "muybridge-directions" and set(data["directions"]) == {"nod", "ears"}
    assert named_directions(model_copy)["nod"].index == 2
    nod = resolve_direction(generator, "nod")
    np.testing.assert_allclose(nod.vector, sefa(generator, top=3)[2].vector, atol=1e-6)
    with pytest.raises(MuybridgeError, match="unknown direction 'wag'; known: ears, nod"):
        resolve_direction(generator, "wag")
    with pytest.raises(MuybridgeError, match="bad direction name"):
        name_direction(generator, "0", "2fast")
    with pytest.raises(MuybridgeError, match="out of range"):
        resolve_direction(generator, "999")


def test_read_only_model_folder_is_refused(model_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generator = Generator.load(model_copy)
    monkeypatch.setattr("muybridge.animation.directions.os.access", lambda *args: False)
    with pytest.raises(MuybridgeError, match="read-only; copy it"):
        name_direction(generator, "0", "nod")
    assert not (model_copy / "directions.json").exists()


def test_corrupt_directions_file_is_reported(model_copy: Path) -> None:
    (model_copy / "directions.json").write_text("{not json")
    with pytest.raises(MuybridgeError, match="not a valid directions file"):
        resolve_direction(Generator.load(model_copy), "nod")


def test_preview_strip_shape_and_centre_column(tiny_model_dir: Path) -> None:
    generator = Generator.load(tiny_model_dir)
    direction = sefa(generator, top=1)[0]
    strip = preview_strip(generator, direction, [("cat", 0), ("dog", 1)], [-2.0, 0.0, 2.0])
    assert strip.shape == (64, 96, 3)
    plain = generator.generate(["cat", "dog"], [0, 1])
    assert abs(strip[:32, 32:64].astype(int) - plain[0]).max() <= 1

"""The bundled model: it loads by name, its config is what the card says, and it draws varied, non-degenerate
animals; a small-sample KID against held-out cats stays under a loose bound (needs ../shared/data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import shared_data

from muybridge import Generator
from muybridge.generator import DEFAULT_MODEL, ZOO


@pytest.fixture(scope="module")
def bundled() -> Generator:
    return Generator.load()


def test_default_names_the_bundled_model(bundled: Generator) -> None:
    assert bundled.path == ZOO / DEFAULT_MODEL
    assert Generator.load("default").path == bundled.path
    config = json.loads((ZOO / DEFAULT_MODEL / "config.json").read_text())
    assert config["architecture"] == "gallop" and config["classes"] == ["cat", "dog"]
    assert config["resolution"] == 64 and bundled.resolution == 64
    card = (ZOO / DEFAULT_MODEL / "model_card.md").read_text()
    assert "gallop" in card and "DogFaceNet" in card and "FID" in card
    weights_mb = (ZOO / DEFAULT_MODEL / "model.safetensors").stat().st_size / 2**20
    assert weights_mb <= 25


def test_the_bundled_model_can_be_fine_tuned_on_other_classes() -> None:
    """`train --init-from default` on a 64 px dataset of cats and foxes: every network, the discriminator too,
    starts from the bundled one, cat as it was, fox at the mean of cat and dog."""
    from muybridge.training.config import resolve_config
    from muybridge.training.loop import model_config
    from muybridge.training.warm_start import fit_states, network_settings, read_source, resolve_source

    path = resolve_source("default")
    source = read_source(path)
    settings = resolve_config(network_settings(path))
    states = fit_states(source, model_config(settings, ["cat", "fox"], 64))
    assert all(states[name] is not None for name in ("G", "G_ema", "D", "E"))
    bundled_embedding = source.states["G"]["class_embedding.weight"]  # type: ignore[index]
    embedding = states["G"]["class_embedding.weight"]  # type: ignore[index]
    assert torch.equal(embedding[:, 0], bundled_embedding[:, 0])
    assert torch.allclose(embedding[:, 1], bundled_embedding.mean(1))


def test_images_are_not_degenerate(bundled: Generator) -> None:
    for name in bundled.classes:
        images = bundled.generate(name, list(range(16))).astype(np.float32)
        per_image_std = images.reshape(16, -1).std(axis=1)
        assert per_image_std.min() > 12, f"{name}: a flat image (std {per_image_std.min():.1f})"
        pairwise = np.abs(images[:, None] - images[None]).mean(axis=(2, 3, 4))
        off_diagonal = pairwise[~np.eye(16, dtype=bool)]
        assert off_diagonal.min() > 4, f"{name}: two seeds gave nearly the same image (mode collapse)"
    cats, dogs = (bundled.generate(n, list(range(16))).astype(np.float32) for n in ("cat", "dog"))
    assert np.abs(cats - dogs).mean() > 4, "the class does not change the image"


@pytest.mark.slow
def test_small_sample_kid_against_heldout_cats(bundled: Generator, tmp_path_factory: pytest.TempPathFactory) -> None:
    from muybridge.data import prepare_dataset
    from muybridge.metrics.evaluation import evaluate

    source = shared_data("cat_faces_64")
    folder = tmp_path_factory.mktemp("cats") / "cats64"
    prepare_dataset([source], folder, size=64, holdout=[str(source / "heldout.txt")])
    from muybridge.data import open_dataset

    dataset = open_dataset(folder)
    result = evaluate(bundled, dataset, split="heldout", metrics=("kid",), n=100, class_name="cat")
    # Measured with this protocol: an untrained gallop scores 0.49, the first architecture's 80-kimg checkpoint
    # 0.38, the fixed one's 200-kimg checkpoint 0.275, its 300-kimg one 0.134, 585 kimg 0.047, the bundled
    # 863-kimg one 0.027, the bundled 1,569-kimg one 0.018. Tighten this bound as the model improves.
    assert result["overall"]["kid_mean"] < 0.04

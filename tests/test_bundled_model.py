"""The bundled model: it loads by name, its config is what the card says, and it draws varied, non-degenerate
animals; a small-sample KID against held-out cats stays under a loose bound (needs ../shared/data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import shared_data

from muybridge import Generator
from muybridge.zoo import DEFAULT_MODEL, ZOO

#: Every model folder in the zoo: each must be as complete as the default.
ZOO_MODELS = sorted(folder.name for folder in ZOO.iterdir() if (folder / "config.json").is_file())


@pytest.fixture(scope="module")
def bundled() -> Generator:
    return Generator.load()


def test_default_names_the_bundled_model(bundled: Generator) -> None:
    assert bundled.path == ZOO / DEFAULT_MODEL
    assert Generator.load("default").path == bundled.path
    assert bundled.resolution == 64
    assert ZOO_MODELS == ["cats-dogs-128", "cats-dogs-64"]
    big = (ZOO / "cats-dogs-128" / "model_card.md").read_text()
    assert f"not the default: `{DEFAULT_MODEL}`" in big  # the card says why the default is the other one


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_every_zoo_model_is_complete(name: str) -> None:
    """Loads by name; its card states what its config says, with both evaluation protocols; it carries the
    discriminator for fine-tuning and measured motions."""
    from muybridge.animation.motions import MOTIONS
    from muybridge.models.format import read_weights

    folder = ZOO / name
    generator = Generator.load(name)
    config = json.loads((folder / "config.json").read_text())
    side = config["resolution"]
    assert config["architecture"] == "gallop" and config["classes"] == ["cat", "dog"]
    assert generator.resolution == side and generator.path == folder
    card = (folder / "model_card.md").read_text()
    assert f"at {side}×{side} px" in card and "DogFaceNet" in card
    assert "--split heldout" in card and "## Evaluation, published protocol" in card and "--protocol published" in card
    assert (folder / "model.safetensors").stat().st_size / 2**20 <= 25
    assert any(key.startswith("discriminator.") for key in read_weights(folder / "model.safetensors"))
    motions = json.loads((folder / "motions.json").read_text())["motions"]
    assert list(motions) == list(MOTIONS)
    assert all(motions[m]["does_what_it_says"] for m in ("look-left", "look-right", "nod", "tilt"))


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


@pytest.mark.parametrize("model", ZOO_MODELS)
def test_images_are_not_degenerate(model: str) -> None:
    bundled = Generator.load(model)
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

"""ModelConfig: config.json read once, checked in one place, written back exactly."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from muybridge.errors import MuybridgeError
from muybridge.models import ModelConfig, build_networks
from muybridge.models.format import read_config, read_model_config, save_model_folder
from muybridge.zoo import DEFAULT_MODEL, ZOO

BUNDLED = ZOO / DEFAULT_MODEL / "config.json"


def test_bundled_config_round_trips_exactly() -> None:
    data = json.loads(BUNDLED.read_text())
    config = ModelConfig.from_dict(data, BUNDLED)
    assert config.resolution == 64 and config.classes == ("cat", "dog") and config.latent_dim == 128
    assert config.architecture == "gallop" and config.name == DEFAULT_MODEL and config.pixel_art is False
    assert config.training is not None and config.training["kimg"] == data["training"]["kimg"]
    assert list(config.to_dict().items()) == list(data.items())  # same keys, order and values
    assert json.dumps(config.to_dict(), indent=2) + "\n" == BUNDLED.read_text()


def test_changed_and_optional_keys(tmp_path: Path) -> None:
    config = read_config(ZOO / DEFAULT_MODEL)
    renamed = replace(config, name="kitten", pixel_art=True).to_dict()
    assert renamed["name"] == "kitten" and list(renamed)[-1] == "pixel_art"
    bare = ModelConfig("gallop", 32, ("cat",), 16)
    assert bare.to_dict() == {"format": "muybridge-model", "format_version": 1, "architecture": "gallop",
                              "resolution": 32, "classes": ["cat"], "latent_dim": 16}
    spelled = {**bare.to_dict(), "pixel_art": False, "name": None, "params": {}}
    assert ModelConfig.from_dict(spelled).to_dict() == spelled  # a default spelled out is written back


def test_unknown_keys_are_kept(tmp_path: Path) -> None:
    data = {**json.loads(BUNDLED.read_text()), "license": "CC0", "notes": {"by": "me"}}
    config = ModelConfig.from_dict(data)
    assert config.extra == {"license": "CC0", "notes": {"by": "me"}}
    assert config.to_dict() == data
    folder = tmp_path / "model"
    shutil.copytree(ZOO / DEFAULT_MODEL, folder)
    (folder / "config.json").write_text(json.dumps(data))
    assert read_model_config(folder) == data


@pytest.mark.parametrize(("field", "value"), [
    ("resolution", "64"), ("resolution", 0), ("latent_dim", True), ("classes", []), ("classes", ["cat", "cat"]),
    ("classes", "cat"), ("architecture", ""), ("params", [1]), ("pixel_art", "yes"), ("name", 3),
    ("training", "x" * 100), ("format_version", -1),
])
def test_a_bad_field_is_one_line_naming_file_and_field(tmp_path: Path, field: str, value: object) -> None:
    folder = tmp_path / "model"
    shutil.copytree(ZOO / DEFAULT_MODEL, folder)
    (folder / "config.json").write_text(json.dumps({**json.loads(BUNDLED.read_text()), field: value}))
    with pytest.raises(MuybridgeError) as caught:
        read_config(folder)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200 + len(str(folder))
    assert message.startswith(str(folder / "config.json")) and f'field "{field}"' in message


def test_file_level_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    for data, words in [([], "not a muybridge model config"), ({"format": "other"}, "not a muybridge model"),
                        ({"format": "muybridge-model", "format_version": 9}, "model format version 9 is newer"),
                        ({"format": "muybridge-model", "architecture": "gallop"},
                         "config lacks resolution, classes, latent_dim")]:
        path.write_text(json.dumps(data))
        with pytest.raises(MuybridgeError, match=f"^{re.escape(str(path))}: {words}"):
            read_config(tmp_path)


def test_training_dicts_still_build_and_save(tmp_path: Path) -> None:
    """Training builds its model config as config.json without the format header, and indexes it."""
    model = {"architecture": "gallop", "params": {"channel_base": 256, "channel_min": 8, "channel_max": 32,
                                                  "embed_dim": 8}, "resolution": 32, "classes": ["a", "b"],
             "latent_dim": 16}
    networks = build_networks(model)
    assert networks.decoder.latent_dim == 16
    assert build_networks(ModelConfig.from_dict({"format": "muybridge-model", **model})).decoder.num_classes == 2
    folder = save_model_folder(tmp_path / "m", {**model, "name": "m"}, {"decoder": networks.decoder}, card="# m\n")
    assert read_model_config(folder) == {"format": "muybridge-model", "format_version": 1, **model, "name": "m"}
    with pytest.raises(MuybridgeError, match='model config: field "latent_dim"'):
        build_networks({**model, "latent_dim": 0})


@pytest.mark.parametrize(("change", "message"), [
    ({"params": {"channel_base": "64"}}, "parameter channel_base must be int"),
    ({"params": {"channel_max": 10**30}}, "parameter channel_max must be positive and at most"),
    ({"params": {"embed_dim": 0}}, "parameter embed_dim must be positive"),
    ({"latent_dim": 10**30}, '"latent_dim" must be a whole number from 1 to 4096'),
    ({"resolution": 48}, '"resolution" must be a power of two'),
])
def test_a_damaged_config_is_refused_before_torch_sees_it(tmp_path: Path, change: dict, message: str) -> None:
    """Found by benchmarks/fuzz_files.py: these reached torch (TypeError, overflow) before they were checked."""
    from muybridge import Generator

    folder = tmp_path / "model"
    shutil.copytree(ZOO / "cats-dogs-64", folder)
    config = json.loads((folder / "config.json").read_text())
    for key, value in change.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(MuybridgeError, match=re.escape(message)):
        Generator.load(folder)

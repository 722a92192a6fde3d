"""Shared fixtures: a tiny random model folder, the CC0 sprite fixtures, and the real-data location."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from muybridge.models import build_networks
from muybridge.models.format import save_model_folder

FIXTURES = Path(__file__).parent / "fixtures"
SPRITES = FIXTURES / "dcss_animal_sprites_32" / "animal"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

TINY_CONFIG = {
    "architecture": "gallop",
    "resolution": 32,
    "classes": ["cat", "dog"],
    "latent_dim": 16,
    "params": {"channel_base": 256, "channel_min": 8, "channel_max": 32, "embed_dim": 8},
}


def shared_data(name: str) -> Path:
    """The folder ``../shared/data/<name>``, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real photos not available: {path} is absent (they are never committed)")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 32 px gallop model folder with classes cat and dog (fast to render)."""
    torch.manual_seed(0)
    networks = build_networks(TINY_CONFIG)
    folder = tmp_path_factory.mktemp("models") / "tiny"
    save_model_folder(folder, {**TINY_CONFIG, "name": "tiny"},
                      {"decoder": networks.decoder, "encoder": networks.encoder}, card="# tiny test model\n")
    return folder

"""Shared fixtures: a tiny random model folder, the CC0 sprite fixtures, and the real-data location."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Small batches run several times faster on one thread than on two busy ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """One headless Chromium session with a fresh profile (tests/webdriver.py; skips without Chromium)."""
    from webdriver import open_browser

    with open_browser(tmp_path / "chromium-profile") as session:
        yield session


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 32 px gallop model folder with classes cat and dog (fast to render)."""
    torch.manual_seed(0)
    networks = build_networks(TINY_CONFIG)
    folder = tmp_path_factory.mktemp("models") / "tiny"
    save_model_folder(folder, {**TINY_CONFIG, "name": "tiny"},
                      {"decoder": networks.decoder, "encoder": networks.encoder}, card="# tiny test model\n")
    return folder


LOCAL = "http://127.0.0.1"


def workspace_with_model(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A studio workspace holding the tiny model under models/tiny."""
    workspace = tmp_path / "ws"
    shutil.copytree(tiny_model_dir, workspace / "models" / "tiny")
    return workspace


@pytest.fixture
def client(tmp_path: Path, tiny_model_dir: Path) -> Iterator[Any]:
    """A studio TestClient on a workspace with the tiny model (no bundled model)."""
    from fastapi.testclient import TestClient

    from muybridge.studio import StudioSettings, create_app

    settings = StudioSettings(workspace=workspace_with_model(tmp_path, tiny_model_dir), bundled_dir=None)
    with TestClient(create_app(settings), base_url=LOCAL) as test_client:
        yield test_client


def wait_for_job(client: Any, job_id: str, timeout: float = 60.0) -> dict:
    """Poll a studio job until it ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")

"""The static web page: its folder, and a real headless Chromium drawing with onnxruntime-web the frames that
PyTorch draws for the same class, seed and motion.

Chromium comes from tests/webdriver.py (installed when missing, else the test skips). A screenshot is kept in
``test-artifacts/web-page.png``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from webdriver import Browser, serve_folder, wait_until

from muybridge.animation.modes import Animation
from muybridge.animation.motions import MOTIONS
from muybridge.animation.options import AnimationOptions
from muybridge.animation.pack import render_motions
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.keys import MAX_SEED, normal_draws

pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'muybridge[onnx]')")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
#: Frames compared with PyTorch's: the start, and two moments of the nod.
COMPARED = (0, 12, 30)


@pytest.fixture(scope="module")
def site(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from muybridge.engines.web import export_web

    folder = tmp_path_factory.mktemp("web") / "site"
    assert export_web(Generator.load(tiny_model_dir, precision="fp32"), folder) == folder
    return folder


def test_the_folder_holds_the_page_the_graph_and_the_runtime(site: Path) -> None:
    assert {path.name for path in site.iterdir()} == {"index.html", "page.js", "model.onnx", "model.json", "vendor"}
    meta = json.loads((site / "model.json").read_text())
    assert meta["classes"] == ["cat", "dog"] and meta["onnx"] == "model.onnx" and meta["opset"] == 20
    assert "pose" in meta["inputs"] and len(meta["seed_latents"]) == 64
    web = meta["web"]
    assert list(web["motions"]) == list(MOTIONS) and web["frames"] == AnimationOptions().frame_count()
    assert web["motions"]["nod"]["terms"][0] == {"field": "pitch", "amplitude": 0.15, "curve": "there-and-back",
                                                 "cycles": 2}
    runtime = site / "vendor" / "onnxruntime-web"
    listed = dict(re.findall(r"\| (\S+) \| ([0-9a-f]{64}) \|", (runtime / "SOURCE.md").read_text()))
    assert len(listed) == 2 and (runtime / "LICENSE").read_text().startswith("MIT License")
    for name, digest in listed.items():
        assert hashlib.sha256((runtime / name).read_bytes()).hexdigest() == digest, f"{name} is not the vendored file"


def test_a_folder_of_other_files_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from muybridge.engines.web import export_web

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(MuybridgeError, match="holds other files"):
        export_web(Generator.load(tiny_model_dir), tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


@pytest.fixture
def site_url(site: Path) -> Iterator[str]:
    with serve_folder(site) as url:
        yield url


def test_the_page_draws_in_chromium_what_pytorch_draws(site_url: str, browser: Browser, tiny_model_dir: Path) -> None:
    browser.open(f"{site_url}/?class=dog&seed=1000&motion=nod")  # beyond the 64 seeds the metadata lists
    frames = AnimationOptions().frame_count()
    status = wait_until(lambda: browser.script("return document.querySelector('#status').textContent"), 60,
                        "the page to render its first clip")
    assert status.startswith(f"{frames} frames rendered"), status
    drawn = browser.script(
        "return muybridge.ready.then(m => m.render({className: 'dog', seed: 1000, motion: 'nod'}))"
        f".then(clip => [clip.length, clip[0].width, ...{list(COMPARED)}.map(i => Array.from(clip[i].data))])")
    count, side, *pixels = drawn
    generator = Generator.load(tiny_model_dir, precision="fp32")
    assert (count, side) == (frames, generator.resolution)
    page = np.array(pixels, dtype=np.int16).reshape(len(COMPARED), side, side, 4)
    assert (page[..., 3] == 255).all()
    expected = render_motions(generator, Animation("motion", ("dog:1000",)), AnimationOptions(), ["nod"])[0]
    expected = expected[list(COMPARED)].astype(np.int16)
    assert np.abs(expected[1:] - expected[0]).mean() > 1, "the nod should move the picture"
    error = np.abs(page[..., :3] - expected)
    assert error.max() <= 2 and error.mean() <= 0.1, (error.max(), error.mean())
    browser.screenshot(ARTIFACTS / "web-page.png")


def test_the_pages_seed_rule_draws_the_latents_muybridge_draws(site: Path, site_url: str, browser: Browser) -> None:
    """The 64 latents the metadata carries, and counts and seeds beyond them (a count that is not a multiple of
    16 takes the tail rule), as keys.py draws them."""
    meta = json.loads((site / "model.json").read_text())
    dim = len(meta["seed_latents"][0])
    extra = [[MAX_SEED, 40], [12345, 7], [5, dim]]
    browser.open(f"{site_url}/")
    shipped, beyond = browser.script(
        f"return import('./page.js').then(page => [[...Array(64).keys()].map(s => Array.from(page.seedLatent(s, "
        f"{dim}))), {json.dumps(extra)}.map(([s, n]) => Array.from(page.seedLatent(s, n)))])")
    np.testing.assert_allclose(np.array(shipped), np.array(meta["seed_latents"]), rtol=0, atol=2e-6)
    for (seed, count), values in zip(extra, beyond, strict=True):
        np.testing.assert_allclose(values, normal_draws(seed, count), rtol=0, atol=2e-6)


def test_the_page_says_what_is_wrong_with_a_request(site_url: str, browser: Browser) -> None:
    browser.open(f"{site_url}/?class=dog&seed=-1")
    status = wait_until(lambda: browser.script("return document.querySelector('#status').textContent"), 60,
                        "the page to answer")
    assert status == f"seed -1: must be a whole number from 0 to {MAX_SEED}"

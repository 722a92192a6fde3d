"""End to end in a real headless Chromium: open the studio, generate a cat, render a loop, see it play.

Chromium comes from tests/webdriver.py (installed when missing, else the test skips). A screenshot is kept in
``test-artifacts/studio-e2e.png``.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from webdriver import Browser, free_port, open_browser, wait_until

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture
def studio_url(tmp_path: Path, tiny_model_dir: Path) -> Iterator[str]:
    import uvicorn

    from muybridge.studio import StudioSettings, create_app

    workspace = tmp_path / "ws"
    shutil.copytree(tiny_model_dir, workspace / "models" / "tiny")
    port = free_port()
    app = create_app(StudioSettings(workspace=workspace, bundled_dir=None))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "the studio server to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with open_browser(tmp_path / "chromium-profile") as session:
        yield session


def test_generate_a_cat_and_render_a_loop_in_chromium(studio_url: str, browser: Browser) -> None:
    browser.open(f"{studio_url}/#generate")
    wait_until(lambda: browser.script("return document.body.dataset.ready === 'true'"), 30, "the page to start")
    assert browser.script("return document.querySelector('#gen-model').value") == "tiny"
    browser.script("document.querySelector('#gen-class').value = 'cat';"
                   "document.querySelector('#gen-seed').value = '7';")
    browser.click("#gen-button")
    wait_until(lambda: browser.script(
        "const i = document.querySelector('#gen-image'); return i && i.complete && i.naturalWidth"),
        30, "the generated cat")
    assert "seed 7" in browser.script("return document.querySelector('#gen-caption').textContent")

    browser.click("#gen-to-animate")
    assert browser.script("return document.querySelector('#anim-characters').value") == "cat:7"
    wait_until(lambda: browser.script(
        "const i = document.querySelector('#anim-preview'); return i.complete && i.naturalWidth"),
        30, "the live preview")
    browser.script("document.querySelector('#anim-fps').value = '12';"
                   "document.querySelector('#anim-duration').value = '1';")
    browser.click("#anim-render")
    natural_width = wait_until(lambda: browser.script(
        "const i = document.querySelector('#anim-output'); return i && i.complete && i.naturalWidth"),
        60, "the rendered animation")
    assert natural_width == 256
    assert browser.script("return document.querySelector('#anim-output').src").endswith("/result/0")
    assert "12 frames" in browser.script("return document.querySelector('#anim-caption').textContent")
    browser.script("window.scrollTo(0, 0)")
    png = browser.screenshot(ARTIFACTS / "studio-e2e.png")
    assert png.startswith(b"\x89PNG")

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
from webdriver import Browser, free_port, wait_until

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


def test_the_character_view_plays_every_motion_side_by_side(studio_url: str, browser: Browser) -> None:
    browser.open(f"{studio_url}/#animate")
    wait_until(lambda: browser.script("return document.body.dataset.ready === 'true'"), 30, "the page to start")
    wait_until(lambda: browser.script("return document.querySelectorAll('#anim-motions input').length"), 30,
               "the motion library")
    browser.click('#anim-mode button[data-mode="character"]')
    browser.script("document.querySelector('#anim-characters').value = 'dog:3';"
                   "document.querySelector('#anim-fps').value = '8';"
                   "document.querySelector('#anim-duration').value = '1';"
                   "document.querySelector('#anim-size').value = '';"
                   "for (const box of document.querySelectorAll('#anim-motions input'))"
                   "  box.checked = ['idle', 'nod', 'tilt'].includes(box.value);")
    browser.click("#anim-render")
    loaded = wait_until(lambda: browser.script(
        "const imgs = [...document.querySelectorAll('.motion-grid img')];"
        "return imgs.length === 3 && imgs.every((i) => i.complete && i.naturalWidth) && imgs.length"),
        90, "three motions playing")
    assert loaded == 3
    captions = browser.script(
        "return [...document.querySelectorAll('.motion-cell figcaption')].map(c => c.textContent)")
    assert captions == ["idle", "nod", "tilt"]
    assert browser.script("return document.querySelector('#anim-download').href").endswith("?download=true")
    assert not browser.script("return document.querySelector('#anim-contact').hidden")
    browser.screenshot(ARTIFACTS / "studio-character.png")

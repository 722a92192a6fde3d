"""End to end in a real headless Chromium: open the studio, generate a cat, render a loop, see it play.

Needs Debian's ``chromium`` and ``chromium-driver``; the set-up installs them when missing (root and the
package mirror are needed) and skips with the reason otherwise. Chromium is driven through chromedriver's
W3C WebDriver HTTP API with httpx, so no extra Python package is needed. A screenshot is kept in
``test-artifacts/studio-e2e.png``.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900"]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def chromium_paths() -> tuple[str, str]:
    """(chromium, chromedriver), installing the Debian packages first when they are missing."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.skip("chromium/chromium-driver are not installed and cannot be (needs root and apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=300, env=env)
            subprocess.run(["apt-get", "install", "-y", "chromium", "chromium-driver"], check=True,
                           capture_output=True, timeout=600, env=env)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"could not install chromium and chromium-driver with apt-get: {exc}")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("chromium/chromedriver still missing after apt-get install")
    return chromium, driver


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Browser:
    """The few WebDriver commands the test needs."""

    def __init__(self, driver_url: str, chromium: str, profile: Path) -> None:
        self.http = httpx.Client(base_url=driver_url, timeout=60)
        options = {"binary": chromium, "args": [*CHROME_FLAGS, f"--user-data-dir={profile}"]}
        reply = self.command("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = f"/session/{reply['sessionId']}"

    def command(self, method: str, path: str, payload: dict | None = None) -> Any:
        response = self.http.request(method, path, json=payload)
        value = response.json().get("value")
        if response.status_code != 200:
            raise AssertionError(f"webdriver {path}: {value}")
        return value

    def open(self, url: str) -> None:
        self.command("POST", f"{self.session}/url", {"url": url})

    def script(self, source: str, *args: Any) -> Any:
        return self.command("POST", f"{self.session}/execute/sync", {"script": source, "args": list(args)})

    def click(self, css: str) -> None:
        found = self.command("POST", f"{self.session}/element", {"using": "css selector", "value": css})
        self.command("POST", f"{self.session}/element/{found[ELEMENT]}/click", {})

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.command("GET", f"{self.session}/screenshot"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data

    def close(self) -> None:
        self.command("DELETE", self.session)
        self.http.close()


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
    chromium, driver = chromium_paths()
    port = free_port()
    process = subprocess.Popen([driver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return bool(httpx.get(f"{url}/status", timeout=2).json()["value"]["ready"])
            except (httpx.HTTPError, KeyError, ValueError):
                return False

        wait_until(ready, 30, "chromedriver")
        session = Browser(url, chromium, tmp_path / "chromium-profile")
        try:
            yield session
        finally:
            session.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


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

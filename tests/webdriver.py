"""Driving a real headless Chromium from tests, through chromedriver's W3C WebDriver HTTP API with httpx (no
extra Python package). Needs Debian's ``chromium`` and ``chromium-driver``: :func:`chromium_paths` installs them
when missing (tests/debian_packages.py) and skips the test with the reason otherwise."""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from debian_packages import require_programs

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,900"]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def chromium_paths() -> tuple[str, str]:
    """(chromium, chromedriver), installing the Debian packages first when they are missing."""
    chromium, driver = require_programs(("chromium", "chromedriver"), ("chromium", "chromium-driver"))
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


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """``folder`` served over HTTP on a free loopback port (browsers refuse to fetch from file:// URLs)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=30)


@contextlib.contextmanager
def open_browser(profile: Path) -> Iterator[Browser]:
    """chromedriver on a free port and one Chromium session with a fresh profile."""
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
        session = Browser(url, chromium, profile)
        try:
            yield session
        finally:
            session.close()
    finally:
        process.terminate()
        process.wait(timeout=30)

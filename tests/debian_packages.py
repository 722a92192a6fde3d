"""System programs that some tests drive (Chromium, Godot 3): found on the PATH, else installed from Debian's
packages when the tests run as root with apt-get (as CI does), else the test is skipped with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def require_programs(programs: tuple[str, ...], packages: tuple[str, ...]) -> list[str]:
    """The paths of ``programs``, installing Debian's ``packages`` first when any is missing."""
    if not all(shutil.which(program) for program in programs):
        wanted = " ".join(packages)
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.skip(f"{', '.join(programs)} not installed, and installing them (apt-get install -y {wanted}) "
                        "needs root and apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=300, env=env)
            subprocess.run(["apt-get", "install", "-y", *packages], check=True, capture_output=True, timeout=600,
                           env=env)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"could not install {wanted} with apt-get: {exc}")
    found = [shutil.which(program) for program in programs]
    if not all(found):
        pytest.skip(f"{', '.join(programs)} still missing after apt-get install")
    return [path for path in found if path]

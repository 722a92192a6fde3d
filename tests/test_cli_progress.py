"""The CLI's progress bar at the width of a plain terminal."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from muybridge.cli import common


def test_the_bar_keeps_its_count_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=screen, width=80, force_terminal=True, color_system=None))
    with common.progress_bar("train") as update:
        update(508, 15000, d_loss=1.2345, g_loss=2.3456, img_per_s=23.4, kimg=12.5, eval_kid=0.0312)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen.getvalue()).replace("\r", "\n")
    last = [line for line in text.splitlines() if line.strip()][-1]
    assert len(last) <= 80 and "508/15000" in last and last.startswith("train"), last
    assert "d_loss=1.234" in last and last.rstrip().endswith("…")  # the info is cut, not the count

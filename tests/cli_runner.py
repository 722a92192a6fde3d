"""Running the ``muybridge`` console entry point in-process, as a user's shell would."""

from __future__ import annotations

import sys

import pytest

from muybridge.cli import main


def invoke(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """``muybridge ARGV...``; returns the exit code."""
    monkeypatch.setattr(sys, "argv", ["muybridge", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return code if isinstance(code, int) else 0


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``muybridge ARGV...``; returns the exit code and everything it printed."""
    code = invoke(argv, monkeypatch)
    captured = capsys.readouterr()
    return code, captured.out + captured.err

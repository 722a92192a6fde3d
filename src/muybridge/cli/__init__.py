"""The ``muybridge`` command: parses options, calls the library, prints. No logic of its own.

One module per group of verbs (``data``, ``training``, ``evaluation``, ``rendering``, ``animate``,
``inversion``, ``system``), all registered on the one typer ``app`` of :mod:`muybridge.cli.common`; importing
them is what registers them. Heavy libraries (torch above all) are imported inside the verbs, so ``--help``
starts fast.

Every verb turns a :class:`~muybridge.errors.MuybridgeError` into ``error: <one line>`` and exit code 2.
Set ``MUYBRIDGE_DEBUG=1`` to see tracebacks of internal errors.
"""

from __future__ import annotations

import os
import sys

# isort: off  (the verbs register in the order a project flows, which is the order `--help` lists them)
from muybridge.cli import animate, data, evaluation, inversion, rendering, system, training  # noqa: F401, E402
from muybridge.cli.common import app, console, import_plugins
from muybridge.errors import MuybridgeError
from muybridge.memory import keep_freed_memory

# isort: on

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point with the project's error contract (usage errors are typer's own)."""
    keep_freed_memory()  # the verbs render and train batch after batch: this is the process to set malloc up
    try:
        import_plugins(os.environ.get("MUYBRIDGE_PLUGINS", ""))
        app()
    except MuybridgeError as exc:
        console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True, style="red")
        sys.exit(2)
    except Exception as exc:  # an internal bug: one line, unless asked for the traceback
        if os.environ.get("MUYBRIDGE_DEBUG"):
            raise
        console.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} "
                      "(set MUYBRIDGE_DEBUG=1 for a traceback, and please report it)", highlight=False)
        sys.exit(1)

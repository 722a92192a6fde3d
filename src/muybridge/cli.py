"""The ``muybridge`` command: parses options, calls the library, prints. No logic of its own.

Every verb turns a :class:`~muybridge.errors.MuybridgeError` into ``error: <one line>`` and exit code 2;
Ctrl-C exits 130 with a one-line note. Set ``MUYBRIDGE_DEBUG=1`` to see tracebacks of internal errors.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional  # noqa: F401  (Optional is used by typer annotations below)

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from muybridge.errors import MuybridgeError

app = typer.Typer(
    name="muybridge",
    help="Learn animal characters from photos with GANs; render, animate and export them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[object]:
    """A rich progress bar exposed as the library's ``Progress`` callback.

    ``info`` values passed by the library are shown after the bar (losses, images/s, a stage name).
    """
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal and
                  os.environ.get("MUYBRIDGE_PROGRESS") != "1") as bar:
        task = bar.add_task(description, total=None, info="")

        def update(done: int, total: int | None, /, **info: float | str) -> None:
            text = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
            bar.update(task, completed=done, total=total, info=text)

        yield update


def main() -> None:
    """Console-script entry point with the project's error contract."""
    try:
        app(standalone_mode=False)
    except MuybridgeError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted: nothing half-written was left behind", highlight=False)
        sys.exit(130)
    except Exception as exc:  # a click usage error or an internal bug
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if os.environ.get("MUYBRIDGE_DEBUG"):
            raise
        console.print(f"[red]internal error:[/red] {type(exc).__name__}: {exc} "
                      "(set MUYBRIDGE_DEBUG=1 for a traceback, and please report it)", highlight=False)
        sys.exit(1)


@app.command()
def version() -> None:
    """Print the versions of muybridge and torch.  Example: muybridge version"""
    import torch

    from muybridge import __version__

    out.print(f"muybridge {__version__}  torch {torch.__version__}  threads {torch.get_num_threads()}")


# ---- data commands: prepare, dataset info ----
# ---- end data commands ----

# ---- training commands: train, export ----
# ---- end training commands ----

# ---- evaluation commands: evaluate ----
# ---- end evaluation commands ----

# ---- rendering commands: generate, animate, directions ----
# ---- end rendering commands ----


if __name__ == "__main__":
    main()

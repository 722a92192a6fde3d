"""What every verb shares: the typer app, the consoles, the progress bar, and the options many verbs take."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional  # noqa: F401  (Optional is read by typer)

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column

from muybridge.errors import MuybridgeError
from muybridge.progress import Progress as ProgressCallback

app = typer.Typer(
    name="muybridge",
    help="Learn animal characters from photos with GANs; render, animate and export them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()
BAR_WIDTH = 20


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback]:
    """A rich progress bar exposed as the library's ``Progress`` callback.

    ``info`` values passed by the library are shown after the bar (losses, images/s, a stage name).
    """
    def fixed() -> Column:
        return Column(no_wrap=True)

    # The counts and times never shrink; the info column takes what is left and ends in "…" (at 80 columns a
    # long loss line used to squeeze the count to "508/15…").
    columns = (TextColumn("[bold]{task.description}", table_column=fixed()),
               BarColumn(bar_width=BAR_WIDTH, table_column=fixed()), MofNCompleteColumn(table_column=fixed()),
               TimeElapsedColumn(table_column=fixed()), TimeRemainingColumn(table_column=fixed()),
               TextColumn("{task.fields[info]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)))
    with Progress(*columns, console=console, transient=False, expand=True, disable=not console.is_terminal and
                  os.environ.get("MUYBRIDGE_PROGRESS") != "1") as bar:
        task = bar.add_task(description, total=None, info="")

        def update(done: int, total: int | None, /, **info: float | str) -> None:
            text = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
            bar.update(task, completed=done, total=total, info=text)

        yield update


def import_plugins(names: str) -> None:
    """Import the user's modules that register architectures, losses or augmentations (docs/extending.md).

    Only when there are some is the current folder put on ``sys.path`` (where such modules usually are)."""
    modules = [part.strip() for part in names.split(",") if part.strip()]
    if modules and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise MuybridgeError(f"MUYBRIDGE_PLUGINS: cannot import {name!r} ({exc})") from None


ThreadsOption = Annotated[int | None, typer.Option(help="CPU threads (default: all cores; on a shared machine "
                                                  "1 is often faster).")]


def use_threads(threads: int | None) -> None:
    """Apply a ``--threads`` option; None keeps torch's default (all cores)."""
    if threads is None:
        return
    if threads < 1:
        raise MuybridgeError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


ModelOption = Annotated[str, typer.Option("--model", "-m", help="Model folder, or a bundled model's name.")]
KEY_HELP = "CLASS:SEED, e.g. cat:7; a class mix such as cat*0.7+dog*0.3:7 also works."
FromLatentOption = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--from-latent", help="A latent file from `muybridge invert` (your pet, with its tuned decoder) instead of a "
                          "CLASS:SEED; a CLASS alone then renders it in that class.")]
CharacterArgument = Annotated[Optional[str], typer.Argument(  # noqa: UP045
    metavar="CLASS[:SEED]", help=KEY_HELP + " Optional with --from-latent.")]


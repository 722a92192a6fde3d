"""Data verbs: ``prepare`` and ``dataset info``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from muybridge.cli.common import app, out, progress_bar
from muybridge.errors import MuybridgeError

dataset_app = typer.Typer(help="Inspect prepared dataset folders.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@app.command()
def prepare(
    sources: Annotated[list[Path], typer.Argument(
        metavar="SRC...", help="Image files, folders (one class per subfolder) and videos (mp4, webm, mov, "
                               "animated GIF).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to create.")],
    size: Annotated[int, typer.Option(help="Side of the square images, in pixels.")] = 64,
    class_name: Annotated[str | None, typer.Option(
        "--class", help="Put every image in this class (for a flat folder or loose files).")] = None,
    holdout: Annotated[list[str] | None, typer.Option(
        help="A fraction held out by content hash (e.g. 0.1), or a file listing held-out paths relative to "
             "their SRC folder; repeat for several files.")] = None,
    fps: Annotated[float, typer.Option(help="Frames sampled per second of video or animation.")] = 4.0,
    min_size: Annotated[int | None, typer.Option(
        help="Skip pictures whose shorter side is below this (default: size/2).")] = None,
    workers: Annotated[int, typer.Option(help="Decoding processes.")] = 2,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing dataset folder.")] = False,
) -> None:
    """Decode, square-crop and resize photos and video frames into a dataset folder for training.

    Example: muybridge prepare photos/cats photos/dogs.mp4 --out work/pets64 --holdout 0.1
    """
    from muybridge.data import prepare_dataset, summarize

    with progress_bar("prepare") as bar:
        meta = prepare_dataset(sources, out_dir, size=size, class_name=class_name, holdout=holdout, fps=fps,
                               min_side=min_size, workers=workers, overwrite=overwrite,
                               progress=bar)
    for line in summarize(meta):
        out.print(line, markup=False, highlight=False)
    out.print(f"wrote {out_dir}", markup=False, highlight=False)


@dataset_app.command("info")
def dataset_info(
    path: Annotated[Path, typer.Argument(help="A dataset folder made by `muybridge prepare`.")],
    sheet: Annotated[Path | None, typer.Option(
        help="Write a contact sheet PNG of random samples per class here.")] = None,
    per_class: Annotated[int, typer.Option(help="Samples per class on the contact sheet.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed choosing the samples.")] = 0,
) -> None:
    """Print a dataset's counts per class and split and what was skipped; optionally a contact sheet.

    Example: muybridge dataset info work/catdog64 --sheet catdog64.png
    """
    from muybridge.data import contact_sheet, open_dataset, summarize
    from muybridge.files import atomic_path

    dataset = open_dataset(path)
    for line in summarize(dataset.meta):
        out.print(line, markup=False, highlight=False)
    if sheet is not None:
        if per_class < 1:
            raise MuybridgeError(f"--per-class {per_class}: must be at least 1")
        with atomic_path(sheet, suffix=".png") as tmp:
            contact_sheet(dataset, per_class=per_class, seed=seed).save(tmp, format="PNG")
        out.print(f"wrote {sheet}", markup=False, highlight=False)

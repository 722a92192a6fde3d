"""Verbs about the installation and the studio: ``version``, ``demo``, ``studio``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional  # noqa: F401  (Optional is read by typer)

import typer

from muybridge.cli.common import app, console, out, progress_bar


@app.command()
def version(
    verbose: Annotated[bool, typer.Option("--verbose", help="Also the CPU and the precision the bundled "
                                          "model renders in here, with the reason.")] = False,
) -> None:
    """Print the versions of muybridge and torch.  Example: muybridge version --verbose"""
    import torch

    from muybridge import __version__

    out.print(f"muybridge {__version__}  torch {torch.__version__}  threads {torch.get_num_threads()}")
    if verbose:
        from muybridge.engines.runtime import runtime_status
        from muybridge.generator import Generator
        from muybridge.precision import cpu_description

        out.print(f"cpu: {cpu_description()}")
        generator = Generator.load()
        choice = generator.precision_choice
        out.print(f"rendering ({generator.name}): {choice.precision}: {choice.reason}")
        out.print(f"animate loop, walk, morph, timeline ({generator.name}): {runtime_status()}", markup=False,
                  highlight=False)
        if generator.takes_pose:
            out.print(f"animate motion, character ({generator.name}): {runtime_status(pose=True)}", markup=False,
                      highlight=False)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into.")] = Path("demo"),
    model: Annotated[str | None, typer.Option(help="Model folder or bundled name (default: bundled).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the featured character.")] = 7,
) -> None:
    """Show what a model can do: a grid of characters, a loop (GIF, MP4), a morph, a motion, a sprite sheet, a
    character pack and a web page that draws characters in the browser. With the onnx extra it also caches the
    model's graphs, so that `muybridge animate loop`, `walk`, `morph` and `motion` draw without loading torch.

    Example: muybridge demo --out demo
    """
    from muybridge.demo import WEB_FOLDER, run_demo

    with progress_bar("demo") as bar:
        files = run_demo(out_dir, model, seed, bar)
    for path in files:
        out.print(f"wrote {path}")
    if out_dir / WEB_FOLDER in files:
        out.print(f"the web page is in {out_dir / WEB_FOLDER}/: python -m http.server -d {out_dir / WEB_FOLDER} "
                  "8000, then open http://localhost:8000", markup=False, highlight=False)




@app.command()
def studio(
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback needs --token.")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    workspace: Annotated[Path, typer.Option(help="Folder for models, datasets, runs and outputs.")
                         ] = Path("studio-workspace"),
    token: Annotated[Optional[str], typer.Option(  # noqa: UP045 (typer reads the annotation)
        envvar="MUYBRIDGE_STUDIO_TOKEN",
        help="Secret every request must carry (Authorization: Bearer T); open the UI at /?token=T.")] = None,
) -> None:
    """Start the web studio (UI and REST API under /v1) on this machine.

    Example: muybridge studio --workspace my-studio      then open http://127.0.0.1:7860
    """
    from muybridge.studio import serve
    from muybridge.studio.security import check_bind

    check_bind(host, token)
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    suffix = f"/?token={token}" if token else ""
    console.print(f"muybridge studio: http://{shown}:{port}{suffix}  (workspace {workspace.resolve()}; "
                  "Ctrl-C stops it)", markup=False, highlight=False)
    serve(host, port, workspace, token)

"""The ``muybridge`` command: parses options, calls the library, prints. No logic of its own.

Every verb turns a :class:`~muybridge.errors.MuybridgeError` into ``error: <one line>`` and exit code 2.
Set ``MUYBRIDGE_DEBUG=1`` to see tracebacks of internal errors.
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
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

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


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback]:
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


def import_plugins(names: str) -> None:
    """Import the user's modules that register architectures, losses or augmentations (docs/extending.md)."""
    import importlib

    sys.path.insert(0, os.getcwd())
    for name in filter(None, (part.strip() for part in names.split(","))):
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


def main() -> None:
    """Console-script entry point with the project's error contract (usage errors are typer's own)."""
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


@app.command()
def version() -> None:
    """Print the versions of muybridge and torch.  Example: muybridge version"""
    import torch

    from muybridge import __version__

    out.print(f"muybridge {__version__}  torch {torch.__version__}  threads {torch.get_num_threads()}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into.")] = Path("demo"),
    model: Annotated[str | None, typer.Option(help="Model folder or bundled name (default: bundled).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the featured character.")] = 7,
) -> None:
    """Show what a model can do: a grid of characters, a loop (GIF, MP4), a morph, a motion, a sprite sheet.

    Example: muybridge demo --out demo
    """
    from muybridge.demo import run_demo

    with progress_bar("demo") as bar:
        files = run_demo(out_dir, model, seed, bar)
    for path in files:
        out.print(f"wrote {path}")


# ---- data commands: prepare, dataset info ----
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
        help="A fraction held out by path hash (e.g. 0.1), or a file listing held-out paths relative to "
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
# ---- end data commands ----

# ---- training commands: train, export ----
@app.command()
def train(
    data: Annotated[Path, typer.Option("--data", help="Prepared dataset folder (muybridge prepare).")],
    run_dir: Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, samples, logs.")],
    arch: Annotated[str | None, typer.Option("--arch", help="Architecture: gallop (default) or dcgan.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file of training settings.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Train until this much training time (whole run).")] = None,
    kimg: Annotated[float | None, typer.Option(help="Train until this many thousand images (whole run).")] = None,
    batch: Annotated[int | None, typer.Option(help="Images per step, over all processes.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random draw.")] = None,
    precision: Annotated[str | None, typer.Option(help="fp32 or bf16 (autocast).")] = None,
    eval_kimg: Annotated[float | None, typer.Option(
        help="Score held-out KID this often and keep the best checkpoint (0: off).")] = None,
    eval_n: Annotated[int | None, typer.Option(
        help="Generated images per KID score (default 500; 2000 picks checkpoints more reliably).")] = None,
    threads: ThreadsOption = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out exactly.")] = False,
    init_from: Annotated[str | None, typer.Option(
        "--init-from", help="Start a new run from networks trained before: a model folder or bundled name "
        "(default), a run folder (its latest checkpoint) or a checkpoint file. Same architecture and resolution; "
        "classes are matched by name (new ones start from the mean).")] = None,
) -> None:
    """Train a class-conditional GAN (and its encoder) on a prepared dataset.

    Example: muybridge train --data work/cats64 --out runs/cats --minutes 30
    Stop it any way you like (Ctrl-C, kill); `--resume` continues from the last checkpoint.
    Several processes: torchrun --nproc-per-node 2 -m muybridge train --data D --out R --kimg 100
    Fine-tune the bundled model on your photos:
    muybridge train --data work/my-pets --out runs/my-pets --init-from default --minutes 20
    """
    import signal

    from muybridge.training.config import read_yaml_config, resolve_config, resume_config
    from muybridge.training.loop import RUN_FILE, read_run
    from muybridge.training.loop import train as run_training
    from muybridge.training.warm_start import network_settings, resolve_source

    use_threads(threads)
    if minutes is None and kimg is None:
        minutes = 30.0
    overrides = {"architecture": arch, "batch": batch, "seed": seed, "precision": precision, "eval_kimg": eval_kimg,
                 "eval_n": eval_n}
    if resume and (run_dir / RUN_FILE).is_file():
        if config:
            raise MuybridgeError("--config cannot be combined with --resume: the run keeps its own settings")
        settings = resume_config(read_run(run_dir)["config"], overrides)
    else:
        # A fine-tuning run takes the source's network shape unless the config file or flags say otherwise.
        inherited = network_settings(resolve_source(init_from)) if init_from else {}
        settings = resolve_config({**inherited, **(read_yaml_config(config) if config else {})}, overrides)
    stop_requested: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))
    evaluate = None
    if settings.eval_kimg > 0:
        from muybridge.data import open_dataset
        from muybridge.metrics.evaluate import quick_kid

        dataset = open_dataset(data)
        evaluate = lambda generator: quick_kid(generator, dataset, n=settings.eval_n)  # noqa: E731
    with progress_bar("training") as bar:
        result = run_training(data, run_dir, settings, kimg=kimg, minutes=minutes, resume=resume,
                              init_from=init_from, progress=bar,
                              should_stop=lambda: bool(stop_requested), evaluate=evaluate,
                              warn=lambda message: console.print(f"[yellow]warning:[/yellow] {message}"))
    out.print(f"{result.stopped_by}: step {result.step}, {result.kimg:.1f} kimg, "
              f"{result.train_seconds / 60:.1f} training minutes; checkpoint {result.checkpoint}")


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="Run folder written by muybridge train.")],
    model_dir: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    checkpoint: Annotated[str, typer.Option(help="latest, best, or a checkpoint file.")] = "latest",
    name: Annotated[str | None, typer.Option(help="Model name (default: the folder name).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing model folder.")] = False,
) -> None:
    """Export a run's checkpoint as a model folder (config.json + model.safetensors + model_card.md).

    Example: muybridge export runs/cats --out models/cats && python -c "from muybridge import Generator;
    Generator.load('models/cats').generate_image('cat', seed=7).save('cat.png')"
    """
    from muybridge.training.export import export_run

    folder = export_run(run, model_dir, checkpoint=checkpoint, name=name, overwrite=overwrite)
    out.print(f"wrote {folder}")


# ---- end training commands ----

# ---- evaluation commands: evaluate ----
def _score_table(result: dict, title: str) -> object:
    from rich.table import Table

    table = Table(title=title)
    for column in ("set", "real", "generated", "FID", "KID x1e3", "precision", "recall"):
        table.add_column(column, justify="left" if column == "set" else "right")

    def cell(scores: dict, key: str, fmt: str) -> str:
        return format(scores[key], fmt) if key in scores else "-"

    rows = [("overall", result["overall"]), *result["per_class"].items()]
    for name, scores in rows:
        kid_text = (f"{scores['kid_mean'] * 1e3:.2f} ± {scores['kid_std'] * 1e3:.2f}" if "kid_mean" in scores
                    else "-")
        table.add_row(name, str(scores["n_real"]), str(scores["n_fake"]), cell(scores, "fid", ".2f"),
                      kid_text, cell(scores, "precision", ".3f"), cell(scores, "recall", ".3f"))
    return table


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Dataset folder (from `muybridge prepare`).")],
    model: Annotated[str | None, typer.Argument(help="Model folder or bundled name (default: bundled).")
                     ] = None,
    split: Annotated[str, typer.Option(help="Reference split: heldout or train.")] = "heldout",
    metrics: Annotated[str, typer.Option(help="Comma-separated: fid, kid, pr (precision/recall).")
                       ] = "fid,kid",
    n: Annotated[int, typer.Option("--n", help="Generated images; also the most reference images used.")
                 ] = 5000,
    class_name: Annotated[str | None, typer.Option("--class", help="Evaluate one class only.")] = None,
    seed: Annotated[int, typer.Option(help="First seed; generated images use seed .. seed+n-1.")] = 0,
    truncation: Annotated[float, typer.Option(help="Latent truncation (1.0 = none).")] = 1.0,
    real: Annotated[bool, typer.Option("--real", help="Score the train split against --split instead of a "
                                       "model: the real-data floor.")] = False,
    precision: Annotated[str, typer.Option(help="Inception precision: fp32 (standard) or bf16 (faster, "
                                           "approximate).")] = "fp32",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the result and its protocol "
                                                     "as JSON here.")] = None,
    threads: ThreadsOption = None,
) -> None:
    """Score a model's images against held-out photos (FID, KID, precision/recall), overall and per class.

    Reference features are cached under ~/.cache/muybridge/features ($MUYBRIDGE_CACHE/features).
    The Inception pass runs at roughly 15 images/s on 2 idle cores: --n 5000 takes about 6 minutes.

    Example: muybridge evaluate runs/cats/model --data data/cats --metrics fid,kid,pr --n 2000 --json e.json

    Example (real-data floor): muybridge evaluate --real --data data/cats --n 2000
    """
    from muybridge.data import open_dataset
    from muybridge.files import atomic_write_json
    from muybridge.metrics import evaluate as evaluate_model
    from muybridge.metrics import evaluate_real

    use_threads(threads)
    chosen = tuple(name.strip() for name in metrics.split(",") if name.strip())
    dataset = open_dataset(data)
    with progress_bar("inception") as bar:
        if real:
            result = evaluate_real(dataset, "train", split, n, class_name, chosen,
                                   bar, precision)
            title = f"real-data floor: train vs {split} of {data}"
        else:
            from muybridge import Generator

            generator = Generator.load(model)
            result = evaluate_model(generator, dataset, split, chosen, n, class_name, seed, truncation,
                                    bar, precision)
            title = f"{generator.name} vs {split} of {data}"
    out.print(_score_table(result, title))
    proto = result["protocol"]
    out.print(f"protocol: Inception sha256 {proto['network_sha256'][:12]}…, {proto['resize']} resize, "
              f"{proto['precision']}, {proto['inception_images']} images through Inception at "
              f"{proto['inception_images_per_s']} images/s, {proto['elapsed_s']} s", highlight=False)
    if json_out is not None:
        atomic_write_json(json_out, result)
        out.print(f"wrote {json_out}")
# ---- end evaluation commands ----

# ---- rendering commands: generate, animate, directions ----
from typing import TYPE_CHECKING  # noqa: E402  (for --from-latent's type only)

ModelOption = Annotated[str, typer.Option("--model", "-m", help="Model folder, or a bundled model's name.")]
OutputOption = Annotated[Path, typer.Option(
    "--output", "-o", help="Output: NAME.gif, .mp4, .webp, .png (sprite sheet + .json atlas) or a folder "
                           "(PNG frames).")]
FpsOption = Annotated[float, typer.Option(help="Frames per second.")]
DurationOption = Annotated[Optional[float], typer.Option(  # noqa: UP045 (typer reads the annotation)
    help="Length in seconds [default: 4].")]
FramesOption = Annotated[Optional[int], typer.Option(help="Number of frames, instead of --duration.")]  # noqa: UP045
SizeOption = Annotated[Optional[int], typer.Option(  # noqa: UP045
    help="Side of each character in pixels, up to 4096 [default: the model's resolution].")]
TruncationOption = Annotated[float, typer.Option(help="0-2: below 1 trades variety for typical faces.")]
GridOption = Annotated[str, typer.Option(help="ROWSxCOLS characters side by side; cell i adds i to seeds.")]
PixelArtOption = Annotated[Optional[bool], typer.Option(  # noqa: UP045
    "--pixel-art/--smooth", show_default=False,
    help="Resize with nearest neighbour (crisp pixels) or Lanczos [default: the model's pixel_art setting].")]
SeedOption = Annotated[Optional[int], typer.Option(help="Seed naming the character [default: 0].")]  # noqa: UP045
EasingOption = Annotated[str, typer.Option(help="linear, ease-in-out or cubic.")]
InterpolationOption = Annotated[str, typer.Option(help="slerp (keeps latents typical) or lerp.")]
KEY_HELP = "CLASS:SEED, e.g. cat:7; a class mix such as cat*0.7+dog*0.3:7 also works."
FromLatentOption = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--from-latent", help="Animate a latent from `muybridge invert` (your pet) instead of a CLASS:SEED; a CLASS "
                          "alone then renders it in that class.")]
IndexOption = Annotated[int, typer.Option("--index", help="Which latent of the --from-latent file (0 = first); "
                                                           "grid cell i takes index+i.")]

if TYPE_CHECKING:
    from muybridge.animation.modes import CharacterPicker


def _latent_source(from_latent: Path | None, index: int,
                   class_key: str | None = None) -> CharacterPicker | None:
    """The character picker of ``--from-latent`` (None without it)."""
    from muybridge.animation.modes import latent_picker

    return latent_picker(from_latent, index, class_key) if from_latent is not None else None


def _animate(build: object, output: Path, model: str, fps: float, frames: int | None, duration: float | None,
             size: int | None, truncation: float, grid: str, pixel_art: bool | None) -> None:
    from muybridge.animation.modes import animate_to_file

    with progress_bar("animate") as bar:
        result = animate_to_file(model, build, output, fps=fps, frames=frames,  # type: ignore[arg-type]
                                 duration=duration, size=size, truncation=truncation, grid=grid,
                                 pixel_art=pixel_art, progress=bar)
    names = " + ".join(str(f) for f in result.files) if len(result.files) == 2 else str(output)
    out.print(f"wrote {names} ({result.frames} frames, {result.width}x{result.height}, {fps:g} fps)",
              markup=False, highlight=False)


@app.command()
def generate(
    character: Annotated[str, typer.Argument(metavar="CLASS[:SEED]", help=KEY_HELP)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file: .png, .jpg or .webp.")],
    model: ModelOption = "default",
    seed: SeedOption = None,
    n: Annotated[int, typer.Option("--n", help="Render N characters (seeds SEED..SEED+N-1) in a grid.")] = 1,
    truncation: TruncationOption = 1.0,
    size: SizeOption = None,
    pixel_art: PixelArtOption = None,
) -> None:
    """Render one character, or a grid of N, to an image file.

    Example: muybridge generate cat --seed 7 -o cat.png      (a grid: generate cat:7 --n 16 -o cats.png)
    """
    from muybridge.animation.export import check_image_output, save_image
    from muybridge.animation.modes import character_key
    from muybridge.animation.render import check_size, render_grid
    from muybridge.generator import Generator

    class_spec, first = character_key(character, seed)
    if not 1 <= n <= 256:
        raise MuybridgeError(f"--n must be between 1 and 256, got {n}")
    check_size(size)
    check_image_output(output)
    generator = Generator.load(model)
    latents = generator.latents(list(range(first, first + n)))
    weights = generator.class_weights([class_spec] * n)
    picture = render_grid(generator, latents, weights, size, truncation, pixel_art)
    save_image(picture, output)
    out.print(f"wrote {output} ({n} image{'s' * (n > 1)}, {picture.shape[1]}x{picture.shape[0]})",
              markup=False, highlight=False)


animate_app = typer.Typer(
    help="Animate characters: loop, walk, morph, motion along a direction, or a keyframe timeline. "
         "The format follows -o: .gif .mp4 .webp, .png (sprite sheet + JSON atlas) or a folder of PNGs.",
    no_args_is_help=True)
app.add_typer(animate_app, name="animate")


@animate_app.command("loop")
def animate_loop(
    output: OutputOption,
    character: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        metavar="CLASS[:SEED]", help=KEY_HELP + " Optional with --from-latent.")] = None,
    from_latent: FromLatentOption = None,
    index: IndexOption = 0,
    seed: SeedOption = None,
    radius: Annotated[float, typer.Option(help="How far the loop strays from the character (latent units).")
                      ] = 2.0,
    model: ModelOption = "default",
    fps: FpsOption = 24.0,
    duration: DurationOption = None,
    frames: FramesOption = None,
    size: SizeOption = None,
    truncation: TruncationOption = 1.0,
    grid: GridOption = "1x1",
    pixel_art: PixelArtOption = None,
) -> None:
    """A seamless loop: the character drifts around a small circle in latent space and comes back.

    Example: muybridge animate loop cat --seed 7 -o cat.gif      (four cats: --grid 2x2; video: -o cat.mp4)
    Your pet (see `muybridge invert`): muybridge animate loop --from-latent pet.json -o pet.gif
    """
    from muybridge.animation.modes import loop_builder

    source = _latent_source(from_latent, index, character)
    build = loop_builder(None if source else character, seed, radius, source)
    _animate(build, output, model, fps, frames, duration, size, truncation, grid, pixel_art)


@animate_app.command("walk")
def animate_walk(
    characters: Annotated[list[str], typer.Argument(metavar="CLASS:SEED...", help=f"2 or more. {KEY_HELP}")],
    output: OutputOption,
    loop_back: Annotated[bool, typer.Option("--loop", help="Walk back to the first key (seamless).")] = False,
    from_latent: FromLatentOption = None,
    index: IndexOption = 0,
    easing: EasingOption = "ease-in-out",
    interpolation: InterpolationOption = "slerp",
    model: ModelOption = "default",
    fps: FpsOption = 24.0,
    duration: DurationOption = None,
    frames: FramesOption = None,
    size: SizeOption = None,
    truncation: TruncationOption = 1.0,
    grid: GridOption = "1x1",
    pixel_art: PixelArtOption = None,
) -> None:
    """Walk through latent space from key to key; across classes the class blends on the way.

    Example: muybridge animate walk cat:1 cat:2 dog:3 --loop --easing ease-in-out -o walk.webp
    With --from-latent the walk starts at your pet; a key without a seed is your pet in that class.
    """
    from muybridge.animation.modes import walk_builder

    build = walk_builder(characters, loop_back, easing, interpolation,
                         _latent_source(from_latent, index))
    _animate(build, output, model, fps, frames, duration, size, truncation, grid, pixel_art)


@animate_app.command("morph")
def animate_morph(
    start: Annotated[str, typer.Argument(metavar="FROM", help=KEY_HELP + " With --from-latent, give only TO.")],
    output: OutputOption,
    end: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        metavar="TO", help="Like FROM; without a seed it keeps FROM's seed (same identity noise, only the "
                           "class changes).")] = None,
    loop_back: Annotated[bool, typer.Option("--loop", help="Morph back again (seamless ping-pong).")] = False,
    from_latent: FromLatentOption = None,
    index: IndexOption = 0,
    easing: EasingOption = "ease-in-out",
    interpolation: InterpolationOption = "slerp",
    model: ModelOption = "default",
    fps: FpsOption = 24.0,
    duration: DurationOption = None,
    frames: FramesOption = None,
    size: SizeOption = None,
    truncation: TruncationOption = 1.0,
    grid: GridOption = "1x1",
    pixel_art: PixelArtOption = None,
) -> None:
    """Morph one character into another, across classes: the class weights blend, the latent follows.

    Example: muybridge animate morph cat:3 dog:5 -o morph.mp4      (cat:3 dog = the dog of seed 3)
    Your pet into a dog: muybridge animate morph --from-latent pet.json dog -o pet-dog.gif  (or dog:3)
    """
    from muybridge.animation.modes import morph_builder

    if from_latent is not None:
        if end is not None:
            raise MuybridgeError("with --from-latent, morph takes only TO (the start is your latent)")
        build = morph_builder(None, start, loop_back, easing, interpolation,
                              _latent_source(from_latent, index))
    elif end is None:
        raise MuybridgeError("morph needs FROM and TO, e.g. `animate morph cat:3 dog -o morph.gif`")
    else:
        build = morph_builder(start, end, loop_back, easing, interpolation)
    _animate(build, output, model, fps, frames, duration, size, truncation, grid, pixel_art)


@animate_app.command("motion")
def animate_motion(
    output: OutputOption,
    character: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        metavar="CLASS[:SEED]", help=KEY_HELP + " Optional with --from-latent.")] = None,
    from_latent: FromLatentOption = None,
    index: IndexOption = 0,
    direction: Annotated[str, typer.Option(help="A named direction (see `muybridge directions`), an index "
                                                "(SeFa) or METHOD:INDEX, e.g. ganspace:2.")] = "0",
    amplitude: Annotated[float, typer.Option(help="How far to swing along the direction (latent units).")
                         ] = 3.0,
    cycles: Annotated[int, typer.Option(help="Swings per animation.")] = 1,
    seed: SeedOption = None,
    model: ModelOption = "default",
    fps: FpsOption = 24.0,
    duration: DurationOption = None,
    frames: FramesOption = None,
    size: SizeOption = None,
    truncation: TruncationOption = 1.0,
    grid: GridOption = "1x1",
    pixel_art: PixelArtOption = None,
) -> None:
    """Swing a character back and forth along one semantic direction (a seamless loop).

    Example: muybridge animate motion cat:7 --direction nod --amplitude 3 -o nod.gif
    """
    from muybridge.animation.modes import motion_builder

    source = _latent_source(from_latent, index, character)
    build = motion_builder(None if source else character, direction, seed, amplitude, cycles,
                           source)
    _animate(build, output, model, fps, frames, duration, size, truncation, grid, pixel_art)


@animate_app.command("timeline")
def animate_timeline(
    keyframes: Annotated[Path, typer.Argument(
        metavar="KEYS.yaml", help="Keyframes, YAML or JSON: a list of {time, class, seed, directions, "
                                  "easing}; see docs/animation.md.")],
    output: OutputOption,
    model: ModelOption = "default",
    fps: FpsOption = 24.0,
    size: SizeOption = None,
    truncation: TruncationOption = 1.0,
    grid: GridOption = "1x1",
    pixel_art: PixelArtOption = None,
    from_latent: FromLatentOption = None,
    index: IndexOption = 0,
) -> None:
    """Render a keyframe file: characters, classes and direction offsets at given times, eased between.
    Keyframes without a seed take the --from-latent character (your pet).

    Example: muybridge animate timeline keys.yaml --fps 24 -o film.mp4
    """
    from muybridge.animation.modes import timeline_builder

    build, seconds = timeline_builder(keyframes, _latent_source(from_latent, index))
    frames = round(seconds * fps) + 1 if fps > 0 else None
    _animate(build, output, model, fps, frames, None, size, truncation, grid, pixel_art)


directions_app = typer.Typer(help="Find semantic directions (SeFa, GANSpace), preview them, and name them.")
app.add_typer(directions_app, name="directions")


@directions_app.callback(invoke_without_command=True)
def directions(
    ctx: typer.Context,
    model: ModelOption = "default",
    method: Annotated[str, typer.Option(help="sefa (closed-form) or ganspace (PCA).")] = "sefa",
    top: Annotated[int, typer.Option(help="How many directions, strongest first.")] = 8,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the preview strips.")] = Path("dirs"),
    amplitude: Annotated[float, typer.Option(help="Largest offset shown in the previews.")] = 3.0,
    truncation: TruncationOption = 1.0,
) -> None:
    """Write a preview strip PNG per direction (rows: characters, columns: offsets), to name them.

    Example: muybridge directions --top 8 --out dirs/      then: muybridge directions name MODEL sefa:0 nod
    """
    if ctx.invoked_subcommand is not None:
        return
    from muybridge.animation.directions import write_previews
    from muybridge.generator import Generator

    if out_dir.exists() and not out_dir.is_dir():
        raise MuybridgeError(f"{out_dir}: exists and is not a folder")
    generator = Generator.load(model)
    with progress_bar("directions") as bar:
        files = write_previews(generator, out_dir, method, top, amplitude, truncation,
                               progress=bar)
    out.print(f"wrote {len(files)} strips to {out_dir}/ (rows: characters; columns: offsets -{amplitude:g} … "
              f"+{amplitude:g})", markup=False, highlight=False)
    out.print(f"name one with: muybridge directions name {generator.path or model} {method}:0 NAME",
              markup=False, highlight=False)


@directions_app.command("name")
def directions_name(
    model: Annotated[str, typer.Argument(help="Model folder (its directions.json is written).")],
    index: Annotated[str, typer.Argument(help="Direction index (SeFa), or METHOD:INDEX such as ganspace:2.")],
    name: Annotated[str, typer.Argument(help="The name, e.g. nod, ears, fluffy.")],
) -> None:
    """Save a name for a direction beside the model, for `animate motion --direction NAME` and timelines.

    Example: muybridge directions name my-model sefa:0 nod
    """
    from muybridge.animation import name_direction
    from muybridge.generator import Generator

    path = name_direction(Generator.load(model), index, name)
    out.print(f"named {index} '{name}' in {path}", markup=False, highlight=False)


@directions_app.command("list")
def directions_list(
    model: Annotated[str, typer.Argument(help="Model folder or bundled name.")] = "default",
) -> None:
    """List a model's named directions.  Example: muybridge directions list my-model"""
    from muybridge.animation.directions import named_directions
    from muybridge.generator import resolve_model_path

    named = named_directions(resolve_model_path(model))
    for label, direction in sorted(named.items()):
        out.print(f"{label}\t{direction.method}:{direction.index}", markup=False, highlight=False)
    if not named:
        out.print("no named directions yet: see `muybridge directions --help`", markup=False, highlight=False)
# ---- end rendering commands ----


# ---- studio commands ----
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
# ---- end studio commands ----

# ---- tuning commands ----
def _trials_table(rows: list[list[str]]) -> object:
    from rich.table import Table

    from muybridge.training.tune import TABLE_COLUMNS

    table = Table(title="tuning trials (KID on held-out images, lower is better)")
    for column in TABLE_COLUMNS:
        table.add_column(column, justify="left" if column in ("augment", "width", "note") else "right")
    for row in rows:
        table.add_row(*row)
    return table


@app.command()
def tune(
    data: Annotated[Path, typer.Option("--data", help="Prepared dataset folder with a held-out split.")],
    trials: Annotated[int, typer.Option(help="Configurations to try; trial 0 is the default.")] = 10,
    minutes_per_trial: Annotated[float, typer.Option(
        help="CPU-minutes of training per trial (all threads counted, so trials compare fairly on a busy "
             "machine).")] = 5.0,
    arch: Annotated[str | None, typer.Option("--arch", help="Architecture: gallop (default) or dcgan.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML of training settings every trial starts from.")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the best config (YAML).")
                        ] = Path("best.yaml"),
    seed: Annotated[int, typer.Option(help="Seed of the TPE sampler.")] = 0,
    kid_n: Annotated[int, typer.Option(help="Generated images per KID score (≈ n/5 s each on 1 core).")] = 500,
    threads: ThreadsOption = None,
) -> None:
    """Search learning rates, betas, R1, augmentations and width with Optuna; score each trial by held-out KID.

    Writes the best settings as a YAML for `muybridge train --config`, and says whether they beat the default.
    Example: muybridge tune --data work/cats64 --trials 12 --minutes-per-trial 5 --out best.yaml
    """

    from muybridge.training.config import read_yaml_config
    from muybridge.training.tune import table_rows, verdict, write_best_config
    from muybridge.training.tune import tune as run_tune

    use_threads(threads)
    base = read_yaml_config(config) if config else None
    with progress_bar("tuning") as bar:
        result = run_tune(data, trials=trials, cpu_minutes_per_trial=minutes_per_trial, arch=arch, base=base,
                          seed=seed, kid_n=kid_n, progress=bar)
    out.print(_trials_table(table_rows(result)))
    path = write_best_config(result, out_file)
    out.print(verdict(result), markup=False, highlight=False)
    out.print(f"wrote {path} (use it with: muybridge train --config {path})", markup=False, highlight=False)
# ---- end tuning commands ----

# ---- inversion commands ----
@app.command()
def invert(
    photos: Annotated[list[Path], typer.Argument(metavar="PHOTO...", help="Photos of your pet (JPEG, PNG, ...).")],
    latents_out: Annotated[Path, typer.Option("--out", "-o", help="Latent file to write (.json); a "
                                              "side-by-side PNG per photo is written beside it.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model folder, or a bundled model's name.")
                     ] = "default",
    class_name: Annotated[Optional[str], typer.Option(  # noqa: UP045 (typer reads the annotation)
        "--class", help="The pet's class [default: cat when the model has it, else its first class].")] = None,
    steps: Annotated[int, typer.Option(help="Refinement steps after the encoder's guess (0: encoder only).")
                     ] = 200,
    lr: Annotated[float, typer.Option("--lr", help="Refinement step size (Adam, cosine-decayed).")] = 0.05,
    no_detect: Annotated[bool, typer.Option("--no-detect", help="Use the centre square instead of finding "
                                            "the cat's face.")] = False,
    threads: Annotated[int, typer.Option(help="CPU threads; a few photos refine fastest on one.")] = 1,
) -> None:
    """Find your pet's face in a photo and fit a latent that makes the model draw it, to animate it.

    Example: muybridge invert my-cat.jpg --out pet.json
    Then: muybridge animate loop --from-latent pet.json -o pet.gif   (or: animate morph --from-latent pet.json dog)
    """

    from muybridge.generator import Generator
    from muybridge.inversion import RefineSettings, invert_photos, write_latent_file

    settings = RefineSettings(steps=steps, lr=lr).check()
    use_threads(threads)
    if latents_out.suffix.lower() != ".json":
        raise MuybridgeError(f"{latents_out}: the latent file must end in .json")
    generator = Generator.load(model)
    with progress_bar("invert") as bar:
        results = invert_photos(generator, photos, class_name, settings, detect=not no_detect, progress=bar)
    files = write_latent_file(latents_out, generator, results)
    for result in results:
        how = "face found" if result.detected else "centre square"
        out.print(f"{result.source}: {result.class_name}, {how}; PSNR encoder {result.losses['encoder_psnr']:.1f} "
                  f"dB → refined {result.losses['refined_psnr']:.1f} dB", markup=False, highlight=False)
    out.print(f"wrote {latents_out} and {len(files) - 1} preview PNG{'s' * (len(files) > 2)} "
              f"(photo | encoder | refined)", markup=False, highlight=False)
# ---- end inversion commands ----


if __name__ == "__main__":
    main()

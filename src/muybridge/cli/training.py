"""Training verbs: ``train``, ``export`` and ``tune``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from muybridge.cli.common import ThreadsOption, app, console, out, progress_bar, use_threads
from muybridge.training.average import AVERAGE_SHARE


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
        "(default), a run folder (its latest checkpoint) or a checkpoint file, of the same architecture. A lower "
        "resolution is grown to the dataset's, narrower levels are widened to --config's params; classes are "
        "matched by name (new ones start from the mean).")] = None,
) -> None:
    """Train a class-conditional GAN (and its encoder) on a prepared dataset.

    Example: muybridge train --data work/cats64 --out runs/cats --minutes 30
    Stop it any way you like (Ctrl-C, kill); `--resume` continues from the last checkpoint.
    Several processes: torchrun --nproc-per-node 2 -m muybridge train --data D --out R --kimg 100
    Fine-tune the bundled model on your photos:
    muybridge train --data work/my-pets --out runs/my-pets --init-from default --minutes 20
    """
    from muybridge.training.config import read_yaml_config
    from muybridge.training.session import start_or_resume

    use_threads(threads)
    if minutes is None and kimg is None:
        minutes = 30.0
    overrides = {"architecture": arch, "batch": batch, "seed": seed, "precision": precision, "eval_kimg": eval_kimg,
                 "eval_n": eval_n}
    with progress_bar("training") as bar:
        result = start_or_resume(data, run_dir, resume=resume, settings=read_yaml_config(config) if config else None,
                                 overrides=overrides, init_from=init_from, kimg=kimg, minutes=minutes, progress=bar,
                                 warn=lambda message: console.print(f"[yellow]warning:[/yellow] {message}"))
    out.print(f"Training {STOPPED_BECAUSE[result.stopped_by]} at step {result.step} ({result.kimg:.1f} kimg, "
              f"{result.train_seconds / 60:.1f} training minutes); checkpoint {result.checkpoint}")


#: How a run's end reads (``TrainResult.stopped_by``), after "Training".
STOPPED_BECAUSE = {"length": "reached its length", "request": "stopped on request (SIGTERM)",
                   "interrupt": "interrupted (Ctrl-C)"}


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="Run folder written by muybridge train.")],
    model_dir: Annotated[Path, typer.Option("--out", help="Model folder to write.")],
    checkpoint: Annotated[str, typer.Option(help="latest, best, or a checkpoint file.")] = "latest",
    name: Annotated[str | None, typer.Option(help="Model name (default: the folder name).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing model folder.")] = False,
    average_with: Annotated[str | None, typer.Option(
        help="Average the checkpoint's weights with this model's (a model folder, a bundled name, a run folder or "
             "a checkpoint of the same networks and classes), e.g. the model the run was fine-tuned from.")] = None,
    average_share: Annotated[float, typer.Option(
        help="With --average-with: the other model's share of every weight, between 0 and 1.")] = AVERAGE_SHARE,
) -> None:
    """Export a run's checkpoint as a model folder (config.json + model.safetensors + model_card.md).

    Example: muybridge export runs/cats --out models/cats && python -c "from muybridge import Generator;
    Generator.load('models/cats').generate_image('cat', seed=7).save('cat.png')"

    Example (a run fine-tuned from the bundled model, averaged with it): muybridge export runs/tuned --out
    models/soup --average-with default
    """
    from muybridge.training.export import export_run

    folder = export_run(run, model_dir, checkpoint=checkpoint, name=name, overwrite=overwrite,
                        average_with=average_with, average_share=average_share)
    out.print(f"wrote {folder}")


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

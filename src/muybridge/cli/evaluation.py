"""The ``evaluate`` verb: FID, KID, precision/recall against held-out photos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from muybridge.cli.common import ThreadsOption, app, out, progress_bar, use_threads
from muybridge.metrics.protocols import MAX_EVAL_N, PROTOCOLS, check_eval_n, get_protocol


def _score_table(result: dict, title: str, compared: str = "generated") -> object:
    """The scores, one row per class; ``compared`` heads the column of what was scored against the reference
    (generated images, or for the real-data floor the other split's photos)."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("set", "reference", compared, "FID", "KID x1e3", "precision", "recall"):
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


def _separation_table(separation: dict) -> object:
    """Rows: the classes drawn; columns: the classes' photos; a star marks each row's nearest."""
    from rich.table import Table

    table = Table(title="class separation: FID of each class's samples against each class's photos "
                        "(lower = closer; * = nearest)")
    names = list(separation["fid"])
    table.add_column("drawn \\ photos", justify="left")
    for name in names:
        table.add_column(name, justify="right")
    for drawn, row in separation["fid"].items():
        table.add_row(drawn, *(f"{row[name]:.2f}{'*' if separation['closest'][drawn] == name else ''}"
                               for name in names))
    return table


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Dataset folder (from `muybridge prepare`).")],
    model: Annotated[str | None, typer.Argument(help="Model folder or bundled name (default: bundled).")
                     ] = None,
    protocol: Annotated[str, typer.Option(help="; ".join(f"{p.name}: {p.description}" for p in PROTOCOLS.values())
                                          + ". --split and --n override its choices.")] = "heldout",
    split: Annotated[str | None, typer.Option(help="Reference split: heldout or train (default: the "
                                              "protocol's).")] = None,
    metrics: Annotated[str, typer.Option(help="Comma-separated: fid, kid, pr (precision/recall).")
                       ] = "fid,kid",
    n: Annotated[int | None, typer.Option("--n", help=f"Generated images, at most {MAX_EVAL_N:,} (default: the "
                                          "protocol's); with heldout also the most reference images used.")
                 ] = None,
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

    Example (beside published FIDs): muybridge evaluate --protocol published --data data/cats
    """
    from muybridge.data import open_dataset
    from muybridge.files import atomic_write_json
    from muybridge.metrics import evaluate as evaluate_model
    from muybridge.metrics import evaluate_real

    chosen_protocol = get_protocol(protocol)
    split = chosen_protocol.split if split is None else split
    n = check_eval_n(chosen_protocol.n if n is None else n)
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
                                    bar, precision, whole_reference=chosen_protocol.whole_reference)
            result["protocol"]["protocol"] = chosen_protocol.name
            title = f"{generator.name} vs {split} of {data} ({chosen_protocol.name} protocol)"
    out.print(_score_table(result, title, "train photos" if real else "generated"))
    if "separation" in result:
        out.print(_separation_table(result["separation"]))
        verdict = ("every class's samples are nearest their own photos" if result["separation"]["separated"]
                   else "some classes' samples are nearer another class's photos: the model mixes its classes up")
        out.print(f"class separation: {verdict}", markup=False, highlight=False)
    proto = result["protocol"]
    out.print(f"protocol: Inception sha256 {proto['network_sha256'][:12]}…, {proto['resize']} resize, "
              f"{proto['precision']}, {proto['inception_images']} images through Inception at "
              f"{proto['inception_images_per_s']} images/s, {proto['elapsed_s']} s", highlight=False)
    if json_out is not None:
        atomic_write_json(json_out, result)
        out.print(f"wrote {json_out}")

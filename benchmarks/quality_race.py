"""The quality race: the ``dcgan`` baseline against the default architecture (``gallop``) on the same cats.

Each architecture trains with its own training defaults and ``torch.set_num_threads(1)``; at 15, 30 and
60 CPU-minutes of training the run is exported and scored (FID and KID of 2,000 generated images against
the held-out cats), and an 8x4 sample grid is saved. Results: ``benchmarks/results/quality_race.json``
and ``quality_race.md`` (+ grids in ``benchmarks/results/race/``), rewritten atomically after each milestone.

Resumable at any moment: kill it (Ctrl-C, SIGTERM, kill -9) and run it again; every stage that is done is
skipped and the training runs continue from their last checkpoint. See docs/quality.md.

Tracks (``--track``): ``cats64`` (the default, the table in the README), ``catdog64`` (cats and dogs: the
class-separation column has something to tell) and ``catdog128`` (AFHQ cats and DogFaceNet dogs at 128 px).
A track other than cats64 writes ``quality_race-TRACK.json``/``.md`` and grids in ``race-TRACK/``.

Usage: .venv/bin/python benchmarks/quality_race.py [--track cats64] [--archs dcgan,gallop] [--milestones 15,30,60]
       [--data work/cats64] [--workdir benchmarks/work/race] [--n 2000] [--no-floor] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from per_cpu import cpu_kind
from PIL import Image

from muybridge import __version__
from muybridge.data import open_dataset, prepare_dataset
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path, atomic_write_json, atomic_write_text
from muybridge.generator import Generator
from muybridge.memory import keep_freed_memory
from muybridge.metrics.evaluation import evaluate, evaluate_real
from muybridge.pictures import tile_images
from muybridge.precision import cpu_description
from muybridge.training.config import TrainConfig, resolve_config, resume_config
from muybridge.training.export import export_run
from muybridge.training.loop import RUN_FILE, read_run, train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Track:
    """What a race trains on: photo folders of ../shared/data (each with its heldout.txt) at one size."""

    sources: tuple[str, ...]
    size: int
    what: str  # "cats", "cats and dogs": how the tables name the photos


TRACKS = {
    "cats64": Track(("cat_faces_64",), 64, "cats"),
    "catdog64": Track(("cat_faces_64", "dogfacenet_224"), 64, "cats and dogs"),
    "catdog128": Track(("afhq_cat_256", "dogfacenet_224"), 128, "cats and dogs"),
}
#: Contestants beside the architectures' own defaults: ``--archs gallop+r3gan`` races gallop with these
#: training settings changed, ``gallop+ada+seed1`` with two variants' settings (later ones win a shared key).
#: Each is an idea from the anchors at small scale (docs/quality.md has the results).
VARIANTS: dict[str, dict[str, Any]] = {
    # R3GAN (Huang et al. 2024): the relativistic pairing loss with R1 on reals and R2 on fakes, equal weights.
    "r3gan": {"loss": "relativistic", "r1_gamma": 0.05, "r2_gamma": 0.05},
    # The same settings from another seed (initial weights, batches, augmentation): how far two runs of one
    # contestant differ, the spread a variant must beat before it is adopted.
    "seed1": {"seed": 1},
    # StyleGAN2-ADA's adaptive augmentation: the probability starts at 0 and steers D's sign on reals to 0.6.
    "ada": {"ada_target": 0.6},
    # Class-balanced batches (a track of several classes): the smaller class drawn as often as the larger.
    "balanced": {"class_balance": True},
}
GRID_COLUMNS, GRID_ROWS = 8, 4
#: A run whose latest checkpoint is this far past a milestone can no longer be scored at that milestone.
OVERSHOOT_S = 60.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_dataset(data: Path, track: Track) -> Path | None:
    """The track's prepared photos; prepared from ../shared/data when missing; None when they are absent."""
    if (data / "dataset.json").is_file():
        return data
    folders = [SHARED / name for name in track.sources]
    if not all(folder.is_dir() for folder in folders):
        return None
    log(f"preparing {data} from {', '.join(map(str, folders))} at {track.size} px (their held-out lists)")
    prepare_dataset(folders, data, size=track.size, holdout=[str(folder / "heldout.txt") for folder in folders])
    return data


def variant_settings(contestant: str) -> dict[str, Any]:
    """The settings that ``arch+variant+variant...`` changes, merged left to right."""
    settings: dict[str, Any] = {}
    for variant in contestant.split("+")[1:]:
        if variant not in VARIANTS:
            raise SystemExit(f"--archs: unknown variant {variant!r} in {contestant!r}; known: {', '.join(VARIANTS)}")
        settings |= VARIANTS[variant]
    return settings


def canonical_contestant(contestant: str) -> str:
    """One name per contestant: variants that change disjoint settings are written in sorted order
    (``gallop+seed1+ada`` is ``gallop+ada+seed1``, and resumes its recorded row); where two share a setting
    the order decides it, so it is kept."""
    arch, *variants = contestant.split("+")
    variant_settings(contestant)  # an unknown variant is named before anything else
    keys = [key for variant in variants for key in VARIANTS[variant]]
    if len(keys) != len(set(keys)):
        return contestant
    return "+".join([arch, *sorted(variants)])


def contestant_settings(contestant: str) -> dict[str, Any]:
    """``arch`` or ``arch+variant...`` as training settings over the architecture's defaults."""
    return {"architecture": contestant.partition("+")[0], **variant_settings(contestant)}


def describe_variant(contestant: str) -> str:
    return f"{contestant.partition('+')[0]} with " + ", ".join(
        f"{key} {value}" for key, value in variant_settings(contestant).items())


def race_config(contestant: str, run_dir: Path) -> TrainConfig:
    """The architecture's own defaults (changed by the variant); a resumed run keeps the config it was started
    with."""
    if (run_dir / RUN_FILE).is_file():
        return resume_config(read_run(run_dir)["config"], {})
    return resolve_config(None, contestant_settings(contestant))


def train_to(data: Path, run_dir: Path, arch: str, minutes: float) -> dict[str, Any] | None:
    """Train (or resume) to ``minutes`` CPU-minutes; the milestone's training facts, or None if interrupted."""
    last_reported = [-1]

    def progress(done: int, total: int | None, /, **info: float | str) -> None:
        kimg = float(info.get("kimg", 0.0))
        if int(kimg // 2) != last_reported[0]:  # a line every 2 kimg
            last_reported[0] = int(kimg // 2)
            log(f"  {arch}: {kimg:.1f} kimg, {done / 60:.1f} of {(total or 0) / 60:.1f} CPU-min  " + "  ".join(
                f"{k}={v:.3g}" for k, v in info.items() if isinstance(v, float) and k != "kimg"))

    result = train(data, run_dir, race_config(arch, run_dir), cpu_minutes=minutes, resume=True,
                   progress=progress, warn=lambda message: log(f"  warning: {message}"))
    if result.stopped_by != "length":
        log(f"  {arch}: stopped ({result.stopped_by}) at {result.cpu_seconds / 60:.2f} CPU-min; run again to resume")
        return None
    return {"kimg": round(result.kimg, 3), "step": result.step, "cpu_minutes": round(result.cpu_seconds / 60, 3),
            "wall_minutes": round(result.train_seconds / 60, 3),
            "images_per_s": round(result.kimg * 1000 / max(result.train_seconds, 1e-9), 2),
            "images_per_cpu_s": round(result.kimg * 1000 / max(result.cpu_seconds, 1e-9), 2)}


def sample_grid(generator: Generator) -> np.ndarray:
    """``GRID_ROWS`` x ``GRID_COLUMNS`` samples as one ``(H, W, 3)`` uint8 image: the rows shared among the
    classes, seeds 0.. in each (one class: seeds 0..31)."""
    per_class = GRID_ROWS * GRID_COLUMNS // len(generator.classes)
    names = [name for name in generator.classes for _ in range(per_class)]
    return tile_images(generator.generate(names, list(range(per_class)) * len(generator.classes)), GRID_COLUMNS)


def save_png(pixels: np.ndarray, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")


def milestone_key(arch: str, minutes: float) -> str:
    return f"{arch}@{minutes:g}"


def run_milestone(args: argparse.Namespace, data: Path, arch: str, minutes: float,
                  results: dict[str, Any]) -> bool:
    """Train, export, score and draw one (arch, milestone); False when interrupted or impossible."""
    arch_dir = args.workdir / arch
    run_dir, model_dir = arch_dir / "run", arch_dir / f"model-{minutes:g}min"
    facts_path = arch_dir / f"milestone-{minutes:g}min.json"
    if not facts_path.is_file():
        log(f"{arch}: training to {minutes:g} CPU-minutes in {run_dir}")
        try:
            facts = train_to(data, run_dir, arch, minutes)
        except MuybridgeError as exc:
            if "diverged" not in str(exc):
                raise
            results.setdefault("failures", {})[arch] = {"before_cpu_minutes": minutes, "error": str(exc)}
            log(f"{arch}: {exc}; recorded as a result, the race goes on without it")
            return True
        if facts is None:
            return False
        if facts["cpu_minutes"] * 60 > minutes * 60 + OVERSHOOT_S:
            log(f"{arch}: the run is already at {facts['cpu_minutes']:.1f} CPU-min, past {minutes:g}; "
                f"delete {arch_dir} to rerun this milestone")
            return False
        atomic_write_json(facts_path, facts)
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    if not model_dir.is_dir():
        export_run(run_dir, model_dir, name=f"race-{arch}-{minutes:g}min")
    generator = Generator.load(model_dir)
    grid_path = args.results / args.grids / f"{arch}-{minutes:g}min.png"
    save_png(sample_grid(generator), grid_path)
    log(f"{arch}@{minutes:g}: scoring {args.n} generated images against the held-out {args.track.what}")
    scores = evaluate(generator, open_dataset(data), split="heldout", metrics=("fid", "kid"), n=args.n)
    overall = scores["overall"]
    results["milestones"][milestone_key(arch, minutes)] = {
        "arch": arch, "milestone_cpu_minutes": minutes, **facts,
        "fid": round(overall["fid"], 3), "kid": overall["kid_mean"], "kid_std": overall["kid_std"],
        "generated_samples": overall["n_fake"], "reference_samples": overall["n_real"],
        "grid": str(grid_path.relative_to(args.results)), "model": str(model_dir),
        "config": read_run(run_dir)["config"], "protocol": scores["protocol"],
        **({"separation": scores["separation"]} if "separation" in scores else {}),
    }
    log(f"{arch}@{minutes:g}: FID {overall['fid']:.2f}  KID {overall['kid_mean'] * 1e3:.2f} ± "
        f"{overall['kid_std'] * 1e3:.2f} (x1e3)  ({facts['kimg']:.1f} kimg)")
    return True


def real_floor(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    log(f"real-data floor: {args.n} train {args.track.what} against the held-out ones")
    scores = evaluate_real(open_dataset(data), "train", "heldout", n=args.n)
    overall = scores["overall"]
    return {"fid": round(overall["fid"], 3), "kid": overall["kid_mean"], "kid_std": overall["kid_std"],
            "train_samples": overall["n_fake"], "heldout_samples": overall["n_real"], "protocol": scores["protocol"]}


def race_protocol(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    dataset = open_dataset(data)
    return {
        "track": args.track_name, "photos": args.track.what, "size": args.track.size,
        "dataset": str(data), "dataset_content_hash": dataset.content_hash,
        "train_images": dataset.count("train"), "heldout_images": dataset.count("heldout"),
        "torch_threads": 1, "training_budget": "CPU time of the training process (time.process_time), "
        "counted over the whole run across resumes", "generated_samples": args.n,
        "reference": "held-out split (all of it, at most n)", "seeds": f"0..{args.n - 1}", "truncation": 1.0,
        "grid": f"{GRID_COLUMNS}x{GRID_ROWS} {args.track.what}, seeds 0.. in each class",
        "cpu": cpu_description(), "cores": os.cpu_count(),
        "torch": torch.__version__, "muybridge": __version__,
    }


def load_results(path: Path) -> dict[str, Any]:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"milestones": {}}


def markdown(results: dict[str, Any], archs: list[str], milestones: list[float]) -> str:
    done = results["milestones"]
    proto = results.get("protocol", {})
    photos, size = proto.get("photos", "cats"), proto.get("size", 64)
    roles = {"dcgan": "dcgan (baseline)", "gallop": "gallop (default)"}
    contestants = " vs ".join(roles.get(arch, arch) for arch in archs)
    lines = [f"# Quality race: {contestants} on {photos}, on {cpu_kind(proto.get('cpu', '?'))}", "",
             f"Same data ({proto.get('train_images', '?')} train / {proto.get('heldout_images', '?')} held-out "
             f"{photos}, {size} px), each architecture with its own training defaults, 1 torch thread, equal CPU "
             f"time. FID and KID (x1e3, mean ± std over subsets): {proto.get('generated_samples', '?')} generated "
             f"images vs the held-out {photos}; lower is better. Produced by `make bench-quality` (resumable; "
             f"`--track {proto.get('track', 'cats64')}`).", "",
             *[f"`{a}`: {describe_variant(a)}.  " for a in archs if "+" in a], "",
             "| CPU-min | " + " | ".join(f"{a} FID | {a} KID x1e3" for a in archs) + " |",
             "|---:|" + "---:|---:|" * len(archs)]
    for minutes in milestones:
        cells = []
        for arch in archs:
            row = done.get(milestone_key(arch, minutes))
            status = "diverged" if arch in results.get("failures", {}) else "pending"
            cells += ([f"{row['fid']:.2f}", f"{row['kid'] * 1e3:.2f} ± {row['kid_std'] * 1e3:.2f}"] if row
                      else [status, status])
        lines.append(f"| {minutes:g} | " + " | ".join(cells) + " |")
    for arch, failure in results.get("failures", {}).items():
        lines += ["", f"{arch} diverged before {failure['before_cpu_minutes']:g} CPU-minutes: {failure['error']}"]
    floor = results.get("floor")
    if floor:
        lines += ["", f"Real-data floor (train vs held-out {photos}, {floor['train_samples']} vs "
                      f"{floor['heldout_samples']} images): FID {floor['fid']:.2f}, "
                      f"KID x1e3 {floor['kid'] * 1e3:.2f} ± {floor['kid_std'] * 1e3:.2f}."]
    lines += ["", "## Per milestone", "",
              "Classes apart: whether every class's samples are nearest (by FID) their own class's photos "
              "(`muybridge evaluate` prints the whole table; \"-\": a dataset of one class).", "",
              "| arch | CPU-min | wall min | kimg | img/s (wall) | img/CPU-s | FID | KID x1e3 | generated | "
              "held-out | classes apart |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for minutes in milestones:
        for arch in archs:
            row = done.get(milestone_key(arch, minutes))
            if row:
                lines.append(f"| {arch} | {row['cpu_minutes']:.1f} | {row['wall_minutes']:.1f} | {row['kimg']:.1f} "
                             f"| {row['images_per_s']:.1f} | {row['images_per_cpu_s']:.1f} | {row['fid']:.2f} | "
                             f"{row['kid'] * 1e3:.2f} ± {row['kid_std'] * 1e3:.2f} | {row['generated_samples']} | "
                             f"{row['reference_samples']} | {_apart(row)} |")
    lines += ["", "## Samples (seeds 0-31)", ""]
    for minutes in milestones:
        for arch in archs:
            row = done.get(milestone_key(arch, minutes))
            if row:
                lines.append(f"**{arch}, {minutes:g} CPU-min**  \n![{arch} at {minutes:g} CPU-min]({row['grid']})\n")
    lines += ["", f"Machine: {proto.get('cpu', '?')}, {proto.get('cores', '?')} cores (shared; wall times vary "
                  f"with load, CPU-minutes do not much); torch {proto.get('torch', '?')}.", ""]
    return "\n".join(lines)


def _apart(row: dict[str, Any]) -> str:
    separation = row.get("separation")
    if separation is None:
        return "-"
    return "yes" if separation["separated"] else "no: " + ", ".join(
        f"{drawn} nearest {nearest}" for drawn, nearest in separation["closest"].items() if drawn != nearest)


def write_results(args: argparse.Namespace, results: dict[str, Any], archs: list[str],
                  milestones: list[float]) -> None:
    """Merge with what is on disk first, so races of different architectures may run side by side."""
    on_disk = load_results(args.results / f"{args.results_name}.json")
    for key in ("milestones", "failures"):
        results[key] = {**on_disk.get(key, {}), **results.get(key, {})}
    results.setdefault("floor", on_disk.get("floor"))
    if results["floor"] is None:
        del results["floor"]
    scored = results["milestones"].values()
    all_archs = sorted(set(archs) | {row["arch"] for row in scored}, key=lambda a: (a != "dcgan", a))
    all_milestones = sorted(set(milestones) | {row["milestone_cpu_minutes"] for row in scored})
    atomic_write_json(args.results / f"{args.results_name}.json", results)
    atomic_write_text(args.results / f"{args.results_name}.md", markdown(results, all_archs, all_milestones))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--track", default="cats64", choices=sorted(TRACKS), help="what to train on")
    parser.add_argument("--archs", default="dcgan,gallop",
                        help=f"comma-separated architectures, each optionally +VARIANT, stackable: gallop+ada+seed1 "
                             f"({', '.join(VARIANTS)})")
    parser.add_argument("--milestones", default="15,30,60", help="CPU-minutes of training to score at")
    parser.add_argument("--data", type=Path, default=None, help="prepared dataset (default: work/TRACK)")
    parser.add_argument("--workdir", type=Path, default=None, help="runs and exported models")
    parser.add_argument("--results", type=Path, default=None, help="where the JSON, Markdown and grids go")
    parser.add_argument("--n", type=int, default=None, help="generated images per evaluation (default 2000)")
    parser.add_argument("--no-floor", action="store_true", help="skip the real-data floor (train vs held-out)")
    parser.add_argument("--smoke", action="store_true",
                        help="check the plumbing: milestones 0.1,0.2 CPU-min, n=50, in a separate work folder")
    args = parser.parse_args(argv)
    args.track_name, args.track = args.track, TRACKS[args.track]
    suffix = "" if args.track_name == "cats64" else f"-{args.track_name}"
    args.data = args.data or ROOT / "work" / args.track_name
    args.grids = f"race{suffix}"
    args.results_name = f"quality_race{suffix}"
    if args.smoke:
        args.milestones = "0.1,0.2" if args.milestones == "15,30,60" else args.milestones
        args.n = args.n or 50
        args.workdir = args.workdir or ROOT / "benchmarks" / "work" / "race-smoke"
        args.results = args.results or args.workdir / "results"
    args.n = args.n or 2000
    args.workdir = args.workdir or ROOT / "benchmarks" / "work" / f"race{suffix}"
    args.results = args.results or RESULTS
    return args


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM behaves like Ctrl-C: training checkpoints and returns, anything else stops at once."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keep_freed_memory()  # as the muybridge command does, so the figures are the command's
    torch.set_num_threads(1)
    signal.signal(signal.SIGTERM, interrupt)
    archs = list(dict.fromkeys(canonical_contestant(a.strip()) for a in args.archs.split(",") if a.strip()))
    for contestant in archs:
        resolve_config(None, contestant_settings(contestant))  # an unknown name stops here, not hours later
    milestones = sorted(float(m) for m in args.milestones.split(","))
    data = ensure_dataset(args.data, args.track)
    if data is None:
        print(f"skipped: {args.data} is not prepared and the photos ({', '.join(args.track.sources)} under "
              f"{SHARED}) are absent", file=sys.stderr)
        return 0
    results_path = args.results / f"{args.results_name}.json"
    results = load_results(results_path)
    results["protocol"] = race_protocol(args, data)
    try:
        for minutes in milestones:  # interleaved, so a partial race already compares like with like
            for arch in archs:
                if milestone_key(arch, minutes) in results["milestones"] or arch in results.get("failures", {}):
                    continue
                if not run_milestone(args, data, arch, minutes, results):
                    return 1
                write_results(args, results, archs, milestones)
        if not args.no_floor and "floor" not in results:
            results["floor"] = real_floor(args, data)
        write_results(args, results, archs, milestones)
    except KeyboardInterrupt:
        log("interrupted; run again to continue where it stopped")
        return 130
    log(f"race complete: {args.results / (args.results_name + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

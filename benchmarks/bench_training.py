"""Training speed: images per CPU-second (1 thread) and images/s wall (2 threads), and peak memory, per
architecture (dcgan = the baseline, gallop = the default) at 32 and 64 px, each with its own training defaults.

Run:  .venv/bin/python benchmarks/bench_training.py [--seconds 5]
Writes benchmarks/results/training.json and training.md. Needs no photos: a small synthetic dataset is
prepared in a temporary folder.

* Every measurement runs in its own process (so its peak RSS, ``ru_maxrss``, is its own), with malloc set up as
  ``muybridge train`` has it (``muybridge.memory.keep_freed_memory``): build the trainer, warm up, then run steps
  until ``--seconds`` have passed. The 1-thread figure counts whole blocks of steps (a block spans the lazy R1 and
  encoder intervals, so the average includes them); the 2-thread figure counts single steps (at least 2), so
  that a crowded machine cannot stretch one measurement for minutes.
* images per CPU-second (1 thread): ``time.process_time`` of the process; robust when other processes share
  the machine. images/s wall (2 threads): ``time.perf_counter``; only meaningful on an otherwise idle machine
  (the load average at the start of each measurement is recorded).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from per_cpu import write_per_cpu
from PIL import Image

RESULTS = Path(__file__).parent / "results"
ARCHS = ("dcgan", "gallop")
SIZES = (32, 64)
MODES = {"cpu1": 1, "wall2": 2}  # mode -> torch threads


def make_photos(folder: Path, per_class: int = 24) -> Path:
    """Two classes of smooth random 80 px pictures (blobs over a coloured background)."""
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            small = rng.integers(0, 256, size=(10, 10, 3), dtype=np.uint8)
            Image.fromarray(small).resize((80, 80), Image.BILINEAR).save(folder / name / f"{i}.png")
    return folder


def prepare_datasets(root: Path) -> dict[int, Path]:
    from muybridge.data import prepare_dataset

    photos = make_photos(root / "photos")
    datasets = {}
    for size in SIZES:
        datasets[size] = root / f"synthetic{size}"
        prepare_dataset([photos], datasets[size], size=size, holdout=["0.1"], workers=1)
    return datasets


def block_steps(config: Any) -> int:
    """Steps after which every periodic extra (lazy R1, encoder step) has run a whole number of times."""
    intervals = [config.encoder_every] if config.encoder_every > 0 else []
    if config.r1_gamma > 0:
        intervals.append(config.r1_every)
    return math.lcm(*intervals) if intervals else 1


def measure(data: Path, arch: str, threads: int, seconds: float) -> dict[str, Any]:
    """Run in a child process: train steps for ``seconds`` (CPU time with 1 thread, wall time otherwise)."""
    import torch

    from muybridge.memory import keep_freed_memory
    from muybridge.training.config import resolve_config
    from muybridge.training.distributed import init_world
    from muybridge.training.loop import Trainer

    torch.set_num_threads(threads)
    keep_freed_memory()  # as `muybridge train` runs (the CLI sets malloc up so)
    config = resolve_config(None, {"architecture": arch})
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(data, Path(run_dir), config, init_world())
        batches = iter(trainer.loader)
        # CPU figure: whole blocks. Wall figure: single steps, so a crowded machine cannot stretch it for minutes.
        block = block_steps(config) if threads == 1 else 1
        for _ in range(2):  # warm-up: allocator, oneDNN kernels
            trainer.train_step(*next(batches))
        clock = time.process_time if threads == 1 else time.perf_counter
        steps, cpu_started, wall_started, started = 0, time.process_time(), time.perf_counter(), clock()
        while steps < 2 or clock() - started < seconds:
            for _ in range(block):
                trainer.train_step(*next(batches))
            steps += block
        cpu, wall = time.process_time() - cpu_started, time.perf_counter() - wall_started
    images = steps * config.batch
    return {"images": images, "steps": steps, "batch": config.batch, "precision": config.precision,
            "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3),
            "images_per_cpu_s": round(images / cpu, 2), "images_per_s": round(images / wall, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_child(data: Path, arch: str, threads: int, seconds: float) -> dict[str, Any]:
    load = os.getloadavg()[0]
    command = [sys.executable, __file__, "--child", json.dumps([str(data), arch, threads, seconds])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"measurement {arch} failed:\n{done.stderr[-2000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load_average_before": round(load, 2)}


def ratio(rows: list[dict[str, Any]], size: int, key: str) -> float:
    by_arch = {r["arch"]: r[key] for r in rows if r["size"] == size}
    return round(by_arch["gallop"] / by_arch["dcgan"], 2)


HEADER = [
    "# Training speed (dcgan baseline vs gallop default)", "",
    "One section per CPU kind this benchmark has run on (the machines change between sessions); the newest first. "
    "Each architecture with its own training defaults (batch, precision, R1, EMA, encoder, widths for the "
    "resolution). img/CPU-s: 1 torch thread, images per CPU-second of the process (fair on a shared machine); "
    "img/s wall: 2 threads, only meaningful on an idle machine: the load average before the measurement and the "
    "cores the process actually got (CPU-seconds per second) are shown. Peak RSS: the measuring process's "
    "ru_maxrss (includes Python + torch, about 0.3 GiB). Command: `.venv/bin/python benchmarks/bench_training.py`. "
    "Since 2026-12-07 the measurements run with malloc set up as `muybridge train` has it (freed feature maps kept "
    "for the next step, `muybridge/memory.py`: a seventh of a 64-px step went to page faults); the older sections "
    "ran without it.",
    "",
    "When other processes hold the cores, 2 threads can be many times slower than 1 (each parallel op waits for a "
    "descheduled thread; gallop's many small ops suffer most): on a shared machine train with `--threads 1` and "
    "read the 1-thread column.", ""]


def section(report: dict[str, Any]) -> list[str]:
    """One CPU's table."""
    lines = [f"CPU: {report['cpu']}.", "",
             "| arch | px | batch | precision | img/CPU-s (1 thread) | img/s wall (2 threads) | load avg | "
             "cores got | peak RSS MiB (1 / 2 threads) |", "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for row in report["rows"]:
        lines.append(f"| {row['arch']} | {row['size']} | {row['batch']} | {row['precision']} | "
                     f"{row['cpu1']['images_per_cpu_s']:.1f} | {row['wall2']['images_per_s']:.1f} | "
                     f"{row['wall2']['load_average_before']:.1f} | "
                     f"{row['wall2']['cpu_seconds'] / row['wall2']['wall_seconds']:.2f} | "
                     f"{row['cpu1']['peak_rss_mib']:.0f} / "
                     f"{row['wall2']['peak_rss_mib']:.0f} |")
    lines += ["", "gallop / dcgan: " + "; ".join(
        f"{size} px {r['images_per_cpu_s']}x per CPU-second, {r['images_per_s']}x wall"
        for size, r in report["ratio_gallop_over_dcgan"].items()), ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        data, arch, threads, seconds = json.loads(args.child)
        print(json.dumps(measure(Path(data), arch, threads, seconds)))
        return
    from muybridge.precision import cpu_description

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        datasets = prepare_datasets(Path(tmp))
        for size in SIZES:
            for arch in ARCHS:
                found = {mode: run_child(datasets[size], arch, threads, args.seconds)
                         for mode, threads in MODES.items()}
                rows.append({"arch": arch, "size": size, "batch": found["cpu1"]["batch"],
                             "precision": found["cpu1"]["precision"], **found})
                print(f"{arch} {size}px: {found['cpu1']['images_per_cpu_s']} img/CPU-s (1 thread), "
                      f"{found['wall2']['images_per_s']} img/s wall (2 threads)", flush=True)
    flat = [{"arch": r["arch"], "size": r["size"], "images_per_cpu_s": r["cpu1"]["images_per_cpu_s"],
             "images_per_s": r["wall2"]["images_per_s"]} for r in rows]
    report = {"rows": rows, "seconds_per_measurement": args.seconds, "cpus": os.cpu_count(),
              "cpu": cpu_description(), "date": datetime.date.today().isoformat(),
              "ratio_gallop_over_dcgan": {str(size): {"images_per_cpu_s": ratio(flat, size, "images_per_cpu_s"),
                                                      "images_per_s": ratio(flat, size, "images_per_s")}
                                          for size in SIZES}}
    write_per_cpu(RESULTS / "training.json", report, HEADER, section)
    print(f"wrote {RESULTS / 'training.json'} and training.md")


if __name__ == "__main__":
    main()

"""Data pipeline throughput: ``prepare`` on the real photo sets and ``BatchLoader`` at 64x64, batch 64.

Run: ``.venv/bin/python benchmarks/bench_data.py`` (about a minute on 2 cores). Writes
``benchmarks/results/data.json`` and ``benchmarks/results/data.md``; datasets go to a temporary folder.
A photo set missing from ../shared/data is recorded as skipped.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from muybridge.data import BatchLoader, PreparedDataset, prepare_dataset
from muybridge.files import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
PREPARE_TARGET = 400.0
LOADER_TARGET = 20_000.0


def bench_prepare(name: str, size: int, scratch: Path) -> dict:
    source = SHARED_DATA / name
    row: dict = {"name": f"prepare {name} → {size}px (2 workers)", "target": PREPARE_TARGET}
    if not source.is_dir():
        return {**row, "skipped": f"{source} is absent"}
    holdout = [str(source / "heldout.txt")] if (source / "heldout.txt").is_file() else None
    start = time.perf_counter()
    meta = prepare_dataset([source], scratch / name, size=size, holdout=holdout, workers=2)
    seconds = time.perf_counter() - start
    return {**row, "images": meta["count"], "seconds": round(seconds, 2),
            "value": round(meta["count"] / seconds, 1)}


def bench_loader(threads: int, images: int = 10_000, resolution: int = 64, batch_size: int = 64,
                 batches: int = 1500) -> dict:
    """Synthetic pixels (the loader's speed does not depend on content), so this never skips."""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (images, resolution, resolution, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, images).astype(np.int64)
    meta = {"classes": ["cat", "dog"], "resolution": resolution, "content_hash": "synthetic"}
    dataset = PreparedDataset(Path("synthetic"), meta, [pixels], labels, np.zeros(images, dtype=np.uint8))
    loader = BatchLoader(dataset, batch_size=batch_size, seed=0)
    for _ in range(50):
        next(loader)
    start = time.perf_counter()
    for _ in range(batches):
        next(loader)
    seconds = time.perf_counter() - start
    name = f"BatchLoader {resolution}x{resolution}, batch {batch_size}, flips, torch threads {threads}"
    return {"name": name,
            "target": LOADER_TARGET, "images": batches * batch_size, "seconds": round(seconds, 2),
            "value": round(batches * batch_size / seconds, 1)}


def markdown(report: dict) -> str:
    lines = ["# Data pipeline throughput", "",
             f"{report['machine']}, {report['cpus']} CPUs, load average {report['load_average']} at start, "
             f"{report['date']}. Command: `.venv/bin/python benchmarks/bench_data.py`.", "",
             "| benchmark | images | seconds | images/s | target | meets target |",
             "|---|---|---|---|---|---|"]
    for row in report["results"]:
        if "skipped" in row:
            lines.append(f"| {row['name']} | | | skipped: {row['skipped']} | {row['target']:,.0f} | |")
        else:
            lines.append(f"| {row['name']} | {row['images']:,} | {row['seconds']} | {row['value']:,.0f} | "
                         f"{row['target']:,.0f} | {'yes' if row['value'] >= row['target'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    load_average = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-data-") as scratch:
        results = [bench_prepare(name, 64, Path(scratch)) for name in ("cat_faces_64", "dogfacenet_224")]
    results += [bench_loader(threads) for threads in (1, 2)]
    report = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "load_average": load_average, "date": time.strftime("%Y-%m-%d"), "results": results}
    atomic_write_json(RESULTS / "data.json", report)
    atomic_write_text(RESULTS / "data.md", markdown(report))
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

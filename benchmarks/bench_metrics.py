"""Evaluation speed: Inception images/s by batch size against the machine's fp32 matmul limit, bf16 mode.

Usage: .venv/bin/python benchmarks/bench_metrics.py [--quick]
Writes benchmarks/results/metrics.json and metrics.md. The fraction of limit is
(FLOPs per image x images/s) / (fp32 GFLOP/s of 2048x2048 matmuls timed in the same run, before and after).

The real-data FID floor (about 15 min of CPU at 2,000 vs 2,000 images) is not run here; its command is
    .venv/bin/muybridge evaluate --real --data ../shared/data/cat_faces_64_prepared --n 2000 --json floor.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from muybridge.files import atomic_write_json, atomic_write_text
from muybridge.metrics.features import extract_features
from muybridge.metrics.inception import load_inception, prepare_input
from muybridge.metrics.scores import fid

RESULTS = Path(__file__).parent / "results"


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def flops_per_image() -> float:
    network = load_inception()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        network(prepare_input(np.zeros((1, 64, 64, 3), dtype=np.uint8)))
    return float(counter.get_total_flops())


def images_per_s(images: np.ndarray, batch_size: int, precision: str = "fp32") -> float:
    extract_features(images[:batch_size], batch_size=batch_size, precision=precision)  # warm-up
    started = time.perf_counter()
    extract_features(images, batch_size=batch_size, precision=precision)
    return len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer images per measurement")
    args = parser.parse_args()
    per_batch = 32 if args.quick else 64
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(per_batch, 64, 64, 3), dtype=np.uint8)
    flops = flops_per_image()
    rows = []
    for batch_size in (1, 16, 32):
        before = matmul_gflops()
        count = 8 if batch_size == 1 else per_batch
        speed = images_per_s(images[:count], batch_size)
        limit = (before + matmul_gflops()) / 2
        rows.append({"batch_size": batch_size, "precision": "fp32", "images_per_s": round(speed, 2),
                     "matmul_gflops": round(limit, 1), "inception_gflops": round(speed * flops / 1e9, 1),
                     "fraction_of_limit": round(speed * flops / 1e9 / limit, 3)})
    bf16_speed = images_per_s(images, 32, "bf16")
    # bf16 FID deviation: two sets of smooth random images, FID under both precisions
    smooth = [rng.integers(0, 256, size=(per_batch, 8, 8, 3), dtype=np.uint8).repeat(8, 1).repeat(8, 2)
              for _ in range(2)]
    fid32 = fid(*(extract_features(s) for s in smooth))
    fid16 = fid(*(extract_features(s, precision="bf16") for s in smooth))
    sample = smooth[0][:8]
    feature_gap = float(np.abs(extract_features(sample) - extract_features(sample, precision="bf16")).max())
    result = {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__},
        "flops_per_image": flops, "fp32": rows,
        "bf16": {"batch_size": 32, "images_per_s": round(bf16_speed, 2),
                 "fid_fp32": round(fid32, 3), "fid_bf16": round(fid16, 3),
                 "fid_deviation": round(abs(fid16 - fid32), 3), "max_feature_abs_diff": round(feature_gap, 4),
                 "fid_images_per_set": per_batch},
        "note": "the CPU is shared with other jobs; matmul GFLOP/s is re-measured around each row",
    }
    atomic_write_json(RESULTS / "metrics.json", result)
    lines = ["# Evaluation speed (Inception pass)", "",
             f"FLOPs per 299x299 image: {flops / 1e9:.2f} GFLOP (torch.utils.flop_counter).", "",
             "| batch | precision | images/s | Inception GFLOP/s | fp32 matmul GFLOP/s | fraction of limit |",
             "|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['batch_size']} | fp32 | {r['images_per_s']} | {r['inception_gflops']} "
              f"| {r['matmul_gflops']} | {r['fraction_of_limit']:.0%} |" for r in rows]
    bf16 = result["bf16"]
    lines += [f"| 32 | bf16 autocast | {bf16['images_per_s']} | | | |", "",
              f"bf16 FID deviation: {bf16['fid_deviation']} (FID fp32 {bf16['fid_fp32']}, "
              f"bf16 {bf16['fid_bf16']}, {per_batch} vs {per_batch} images); "
              f"max feature difference {bf16['max_feature_abs_diff']}.", ""]
    atomic_write_text(RESULTS / "metrics.md", "\n".join(lines))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Inversion quality on held-out cat photos: PSNR, SSIM and FID of reconstructions, encoder only vs refined.

Usage: .venv/bin/python benchmarks/bench_inversion.py [--model M] [--n 64] [--steps 200] [--compare-losses]
Writes benchmarks/results/inversion.json and inversion.md. Skips (exit 0, nothing written) when there is no
trained model or no ../shared/data/cat_faces_64.

The held-out photos are already framed like the training crops, so they are inverted as they are (no face
detection); the detection rate of the cat-face cascade on them is reported beside. FID compares the
reconstructions with the very photos they reconstruct (n against n, the same n for every row), with the
originals' Inception features cached like any reference set; at n < 2048 it is biased upwards, so compare
rows of one table, not with FIDs of other tables.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from muybridge.data.decode import decode_image
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_json, atomic_write_text
from muybridge.generator import Generator
from muybridge.inversion.invert import invert_crops
from muybridge.inversion.photo import detect_face, load_photo
from muybridge.inversion.quality import psnr, ssim
from muybridge.inversion.refine import RefineSettings
from muybridge.memory import keep_freed_memory
from muybridge.metrics.features import extract_features, reference_features
from muybridge.metrics.scores import fid

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = HERE.parents[1] / "shared" / "data" / "cat_faces_64"


@dataclass
class HeldoutCats:
    """The held-out photos as an ``ImageDataset`` for the metrics' feature cache."""

    pixels: np.ndarray
    content_hash: str
    resolution: int
    classes: tuple[str, ...] = ("cat",)

    def images(self, split: str | None = None, class_name: str | None = None) -> np.ndarray:
        return self.pixels

    def labels(self, split: str | None = None, class_name: str | None = None) -> np.ndarray:
        return np.zeros(len(self.pixels), dtype=np.int64)


def load_heldout(data: Path, n: int, resolution: int) -> tuple[HeldoutCats, list[Path]]:
    names = [line.strip() for line in (data / "heldout.txt").read_text().splitlines() if line.strip()][:n]
    paths = [data / name for name in names]
    digest = hashlib.sha256(f"inversion-bench {resolution}".encode())
    for path in paths:
        digest.update(path.read_bytes())
    pixels = np.stack([decode_image(path, resolution) for path in paths])
    return HeldoutCats(pixels, digest.hexdigest(), resolution), paths


def score(originals: np.ndarray, reference: np.ndarray, images: np.ndarray) -> dict[str, float]:
    return {"psnr_db": round(float(psnr(originals, images).mean()), 2),
            "ssim": round(float(ssim(originals, images).mean()), 4),
            "fid": round(fid(reference, extract_features(images)), 1)}


def detection_rate(paths: list[Path]) -> float:
    found = sum(detect_face(load_photo(path, min_side=1)) is not None for path in paths)
    return found / len(paths)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="model folder or bundled name")
    parser.add_argument("--data", type=Path, default=DATA, help="cat_faces_64 folder (with heldout.txt)")
    parser.add_argument("--n", type=int, default=64, help="held-out photos to invert")
    parser.add_argument("--steps", type=int, default=RefineSettings().steps, help="refinement steps")
    parser.add_argument("--compare-losses", action="store_true",
                        help="also refine with the perceptual term and without the norm term")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    args = parser.parse_args()
    keep_freed_memory()  # as the muybridge command does, so the figures are the command's
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (args.data / "heldout.txt").is_file():
        print(f"skipped: {args.data}/heldout.txt is absent (real photos are never committed)")
        return 0
    try:
        generator = Generator.load(args.model)
    except MuybridgeError as exc:
        print(f"skipped: no trained model ({exc})")
        return 0
    heldout, paths = load_heldout(args.data, args.n, generator.resolution)
    reference = reference_features(heldout, split=None).features
    originals = heldout.pixels
    variants = {"refined (L1 + perceptual + norm)": RefineSettings(steps=args.steps)}
    if args.compare_losses:
        variants["refined (L1 + norm)"] = RefineSettings(steps=args.steps, perceptual_weight=0.0)
        variants["refined (perceptual on 2x upsampled)"] = RefineSettings(steps=args.steps, perceptual_upsample=2)
        variants["refined (no norm term)"] = RefineSettings(steps=args.steps, norm_weight=0.0)
    rows = []
    encoder_row: dict[str, object] | None = None
    for label, settings in variants.items():
        started = time.perf_counter()
        results = invert_crops(generator, originals, ["cat"] * len(originals), settings)
        seconds = time.perf_counter() - started
        if encoder_row is None:
            encoder_row = {"method": "encoder only", "steps": 0,
                           **score(originals, reference, np.stack([r.encoder_reconstruction for r in results]))}
            rows.append(encoder_row)
        rows.append({"method": label, "steps": settings.steps,
                     **score(originals, reference, np.stack([r.reconstruction for r in results])),
                     "s_per_photo": round(seconds / len(results), 2),
                     "latent_norm_over_sqrt_d": round(float(np.mean([r.latent.norm() / generator.latent_dim**0.5
                                                                     for r in results])), 3)})
        print(rows[-1], flush=True)
    rate = detection_rate(paths)
    result = {"model": generator.name, "model_path": str(generator.path), "n": len(originals),
              "data": str(args.data), "threads": torch.get_num_threads(), "cascade_detection_rate": round(rate, 3),
              "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    atomic_write_json(RESULTS / "inversion.json", result)
    atomic_write_text(RESULTS / "inversion.md", markdown(result))
    print(markdown(result))
    return 0


def markdown(result: dict) -> str:
    lines = [f"# Inversion: {result['n']} held-out cats, model {result['model']}", "",
             f"Reconstructions vs the photos they reconstruct (FID: {result['n']} vs {result['n']} images, "
             f"biased upwards at this n; compare rows only). Cat-face cascade finds a face in "
             f"{result['cascade_detection_rate']:.0%} of these photos. {result['threads']} torch threads.", "",
             "| method | steps | PSNR dB | SSIM | FID | s/photo |", "|---|---:|---:|---:|---:|---:|"]
    for row in result["rows"]:
        lines.append(f"| {row['method']} | {row['steps']} | {row['psnr_db']:.2f} | {row['ssim']:.3f} | "
                     f"{row['fid']:.1f} | {row.get('s_per_photo', '-')} |")
    lines.append("")
    lines.append(f"Command: `.venv/bin/python benchmarks/bench_inversion.py --model MODEL --n {result['n']}`")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

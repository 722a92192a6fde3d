"""Inversion on held-out cat and dog photos: each stage's PSNR, SSIM, perceptual distance and FID, seconds per
photo, and whether the pet still moves (editability).

Usage: .venv/bin/python benchmarks/bench_inversion.py [--model M] [--n 64] [--threads 1]
Writes benchmarks/results/inversion.json and inversion.md. Skips (exit 0, nothing written) when there is no
trained model or no ../shared/data.

The held-out photos are already framed like the training crops, so they are inverted as they are (no face
detection). Stages: the encoder's guess; the latent refined (``fast`` fidelity's 200 steps, and ``balanced``'s
100); the decoder tuned around the refined latent (``balanced``: pivotal tuning, one delta per photo, as
`muybridge invert` makes for one pet). Perceptual distance is the refinement's own Inception-feature distance.
FID compares the reconstructions with the very photos they reconstruct (n against n), biased upwards at small
n: compare rows of one table only. Editability: the motion benchmark's flow-explained share and peak residual of
look-left and nod rendered on each tuned pet, beside the same motions on the base decoder's refined latents.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from muybridge.animation.modes import pose_builder
from muybridge.animation.render import AnimationSpec, render_animation
from muybridge.characters import character_from_latent
from muybridge.data.decode import decode_image
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_json, atomic_write_text
from muybridge.generator import Generator, from_uint8
from muybridge.inversion.fidelity import FIDELITIES
from muybridge.inversion.invert import invert_crops
from muybridge.inversion.quality import PerceptualDistance, psnr, ssim
from muybridge.inversion.tune import tuned_generator
from muybridge.memory import keep_freed_memory
from muybridge.metrics.features import extract_features, reference_features
from muybridge.metrics.motion import mean_metrics
from muybridge.metrics.scores import fid

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SHARED = HERE.parents[1] / "shared" / "data"
DATA = {"cat": SHARED / "cat_faces_64", "dog": SHARED / "dogfacenet_224"}
EDIT_MOTIONS = ("look-left", "nod")
EDIT_FRAMES = 24
#: photo | encoder | refined | tuned for the first STRIP_ROWS photos of each class, 4x enlarged. It shows real
#: photos, so it is written outside git (benchmarks/work/ is ignored): the photos may not be redistributed.
STRIP = HERE / "work" / "inversion-strip.png"
STRIP_ROWS = 4


@dataclass
class Heldout:
    """Held-out photos as an ``ImageDataset`` for the metrics' feature cache."""

    pixels: np.ndarray
    content_hash: str
    resolution: int
    classes: tuple[str, ...] = ("photo",)

    def images(self, split: str | None = None, class_name: str | None = None) -> np.ndarray:
        return self.pixels

    def labels(self, split: str | None = None, class_name: str | None = None) -> np.ndarray:
        return np.zeros(len(self.pixels), dtype=np.int64)


def load_heldout(data: Path, n: int, resolution: int) -> Heldout:
    names = [line.strip() for line in (data / "heldout.txt").read_text().splitlines() if line.strip()][:n]
    paths = [data / name for name in names]
    digest = hashlib.sha256(f"inversion-bench {resolution}".encode())
    for path in paths:
        digest.update(path.read_bytes())
    return Heldout(np.stack([decode_image(path, resolution) for path in paths]), digest.hexdigest(), resolution)


def score(originals: np.ndarray, reference: np.ndarray, images: np.ndarray,
          perceptual: PerceptualDistance) -> dict[str, float]:
    with torch.no_grad():
        distance = perceptual(from_uint8(images), perceptual.features(from_uint8(originals)))
    return {"psnr_db": round(float(psnr(originals, images).mean()), 2),
            "ssim": round(float(ssim(originals, images).mean()), 4),
            "perceptual": round(float(distance.mean()), 4),
            "fid": round(fid(reference, extract_features(images)), 1)}


def editability(generators: list[Generator], class_name: str, latents: torch.Tensor) -> dict[str, float]:
    """Mean flow metrics of EDIT_MOTIONS on each (generator, latent) pet."""
    clips = []
    for generator, latent in zip(generators, latents, strict=True):
        pet = character_from_latent(generator, class_name, latent)
        for motion in EDIT_MOTIONS:
            path = pose_builder(None, motion, source=lambda _g, _c, pet=pet: pet)(generator, 0)
            clips.append(render_animation(generator, AnimationSpec([path], EDIT_FRAMES)))
    metrics = mean_metrics(clips)
    return {"explained": round(metrics["explained"], 3), "peak_residual": round(metrics["peak_residual"], 1)}


def class_rows(generator: Generator, class_name: str, photos: Heldout,
               strips: list[np.ndarray]) -> list[dict[str, Any]]:
    """The table's rows for one class; appends the first photos' side-by-side strips to ``strips``."""
    originals = photos.pixels
    reference = reference_features(photos, split=None).features
    perceptual = PerceptualDistance()
    names = [class_name] * len(originals)
    rows: list[dict[str, Any]] = []
    fast = FIDELITIES["fast"]
    clock = Clock()
    results = invert_crops(generator, originals, names, fast.refine)
    fast_timing = clock.per(len(originals))
    rows.append({"class": class_name, "stage": "encoder only", "fidelity": "-",
                 **score(originals, reference, np.stack([r.encoder_reconstruction for r in results]), perceptual)})
    rows.append({"class": class_name, "stage": f"refined latent ({fast.refine.steps} steps)", "fidelity": "fast",
                 **score(originals, reference, np.stack([r.reconstruction for r in results]), perceptual),
                 **fast_timing,
                 **editability([generator] * len(results), class_name, torch.stack([r.latent for r in results]))})
    balanced = FIDELITIES["balanced"]
    clock = Clock()
    tuned_results = [invert_crops(generator, originals[i : i + 1], names[:1], balanced.refine, tune=balanced.tune)[0]
                     for i in range(len(originals))]
    balanced_timing = clock.per(len(originals))
    latents = torch.stack([r.latent for r in tuned_results])
    rows.append({"class": class_name, "stage": f"refined latent ({balanced.refine.steps} steps)", "fidelity": "-",
                 **score(originals, reference, np.stack([r.refined_reconstruction for r in tuned_results]),
                         perceptual)})
    tuned = [tuned_generator(generator, r.delta) for r in tuned_results]  # type: ignore[arg-type]
    assert balanced.tune is not None
    rows.append({"class": class_name, "stage": f"+ tuned decoder ({balanced.tune.steps} steps)",
                 "fidelity": "balanced",
                 **score(originals, reference, np.stack([r.reconstruction for r in tuned_results]), perceptual),
                 **balanced_timing, **editability(tuned, class_name, latents)})
    for row in rows:
        print(row, flush=True)
    strips.extend(r.side_by_side() for r in tuned_results[:STRIP_ROWS])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="model folder or bundled name")
    parser.add_argument("--n", type=int, default=64, help="held-out photos per class to invert")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    args = parser.parse_args()
    keep_freed_memory()  # as the muybridge command does, so the figures are the command's
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        generator = Generator.load(args.model)
    except MuybridgeError as exc:
        print(f"skipped: no trained model ({exc})")
        return 0
    present = {name: folder for name, folder in DATA.items()
               if name in generator.classes and (folder / "heldout.txt").is_file()}
    if not present:
        print(f"skipped: no held-out photos under {SHARED} (real photos are never committed)")
        return 0
    strips: list[np.ndarray] = []
    rows = [row for name, folder in present.items()
            for row in class_rows(generator, name, load_heldout(folder, args.n, generator.resolution), strips)]
    STRIP.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(strips)).resize((strips[0].shape[1] * 4, len(strips) * strips[0].shape[0] * 4),
                                                   Image.Resampling.NEAREST).save(STRIP)
    result = {"model": generator.name, "model_path": str(generator.path), "n": args.n,
              "threads": torch.get_num_threads(), "edit_motions": list(EDIT_MOTIONS), "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    atomic_write_json(RESULTS / "inversion.json", result)
    atomic_write_text(RESULTS / "inversion.md", markdown(result))
    print(markdown(result))
    return 0


class Clock:
    """Wall and CPU time from its creation. With one torch thread, CPU-seconds are what one core of its own
    would take: the figure that holds while other jobs share the machine (wall time grows with them)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def per(self, count: int) -> dict[str, float]:
        return {"s_per_photo": round((time.perf_counter() - self.wall) / count, 2),
                "cpu_s_per_photo": round((time.process_time() - self.cpu) / count, 2)}


def markdown(result: dict) -> str:
    lines = [f"# Inversion: {result['n']} held-out photos per class, model {result['model']}", "",
             f"Reconstructions vs the photos they reconstruct (FID: {result['n']} vs {result['n']} images, biased "
             f"upwards at this n; compare rows only; perceptual: Inception-feature distance, lower is closer). "
             f"Editability: {' and '.join(result['edit_motions'])} on each pet ({EDIT_FRAMES} frames), "
             f"flow-explained share and peak residual (grey levels) as in the motion benchmark. "
             f"{result['threads']} torch thread(s).", "",
             "| class | stage | fidelity | PSNR dB | SSIM | perceptual | FID | s/photo (wall) | CPU-s/photo "
             "| explained | peak residual |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result["rows"]:
        lines.append(f"| {row['class']} | {row['stage']} | {row['fidelity']} | {row['psnr_db']:.2f} | "
                     f"{row['ssim']:.3f} | {row['perceptual']:.3f} | {row['fid']:.1f} | "
                     f"{row.get('s_per_photo', '-')} | {row.get('cpu_s_per_photo', '-')} | "
                     f"{row.get('explained', '-')} | {row.get('peak_residual', '-')} |")
    lines.append("")
    lines.append(f"The photo | encoder | refined | tuned strips of the first photos are written to "
                 f"`{STRIP.relative_to(HERE.parent)}` (outside git: the photos may not be redistributed).")
    lines.append(f"Command: `.venv/bin/python benchmarks/bench_inversion.py --n {result['n']} "
                 f"--threads {result['threads']}`")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

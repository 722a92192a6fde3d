"""Do the named motions move the character or change who it is? Flow-explained share, flow and residual per motion.

Usage: .venv/bin/python benchmarks/bench_motion.py [--model M] [--n 64] [--frames 48] [--fid-n 250]
Writes benchmarks/results/motion.json and motion.md.

For ``--n`` characters per class (seeds 0..n-1) and each motion of the library, a ``--frames`` clip at the model's
resolution is measured with :func:`muybridge.metrics.motion.flow_metrics` (dense optical flow from frame 0 to
each frame, the frame warped back, the share of the change the warp explains), averaged over characters. The same
is measured for reference clips: the latent loop and the top SeFa direction (the motions before pose control), a
rigid tilt-and-shift of real photos, and cross-fades between two real photos. Where ../shared/data holds the
photos, FID of each head motion's peak-pose frames against held-out real photos is reported beside the FID of the
neutral frames (``--fid-n`` characters per class; at that size FID is biased upwards, so compare rows of this
table only). Last, the time to render a whole character pack (every motion, GIF previews and the sheet).
"""

from __future__ import annotations

import argparse
import math
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from muybridge.animation.modes import Animation, loop_builder, motion_builder, pose_builder
from muybridge.animation.motions import MOTIONS
from muybridge.animation.options import AnimationOptions
from muybridge.animation.pack import character_pack
from muybridge.animation.render import AnimationSpec, render_animation
from muybridge.data.decode import decode_image
from muybridge.files import atomic_write_json, atomic_write_text
from muybridge.generator import Generator, from_uint8, to_uint8
from muybridge.memory import keep_freed_memory
from muybridge.metrics.features import extract_features
from muybridge.metrics.motion import mean_metrics
from muybridge.metrics.scores import fid
from muybridge.models.pose import warp_features
from muybridge.pose_fields import POSE_DIM

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = HERE.parents[1] / "shared" / "data"
REAL = {"cat": DATA / "cat_faces_64", "dog": DATA / "dogfacenet_224"}
HEAD_MOTIONS = ("look-left", "look-right", "nod", "tilt")


def clips_of(generator: Generator, builders: list[Any], frames: int) -> list[np.ndarray]:
    side = generator.resolution
    paths = [build(generator, 0) for build in builders]
    tiled = render_animation(generator, AnimationSpec(paths, frames, grid=(1, len(paths))))
    return [tiled[:, :, side * i : side * (i + 1)] for i in range(len(paths))]


def real_photos(class_name: str, n: int, side: int) -> np.ndarray | None:
    folder = REAL[class_name]
    if not (folder / "heldout.txt").is_file():
        return None
    names = [line.strip() for line in (folder / "heldout.txt").read_text().splitlines() if line.strip()][:n]
    return np.stack([decode_image(folder / name, side) for name in names])


def rigid_clips(photos: np.ndarray, frames: int) -> list[np.ndarray]:
    """Real photos tilted by up to 8 degrees and shifted by up to 1.5 px, swinging once (the reference motion)."""
    phase = torch.sin(2 * math.pi * torch.arange(frames) / frames)
    pose = torch.zeros(frames, POSE_DIM)
    pose[:, 0] = phase * 8 * math.pi / 180
    pose[:, 1] = phase * 3 / photos.shape[1]
    return [to_uint8(warp_features(from_uint8(np.repeat(photo[None], frames, 0)), pose)) for photo in photos]


def crossfades(photos: np.ndarray, frames: int) -> list[np.ndarray]:
    weights = np.sin(np.pi * np.arange(frames) / frames)[:, None, None, None] ** 2
    return [(a * (1 - weights) + b * weights).round().astype(np.uint8) for a, b in zip(photos[::2], photos[1::2],
                                                                                          strict=False)]


def rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) for key, value in metrics.items()}


def motion_rows(generator: Generator, n: int, frames: int) -> list[dict[str, Any]]:
    rows = []
    for class_name in generator.classes:
        keys = [f"{class_name}:{seed}" for seed in range(n)]
        for name in MOTIONS:
            clips = clips_of(generator, [pose_builder(key, name) for key in keys], frames)
            rows.append({"class": class_name, "clip": name, **rounded(mean_metrics(clips))})
        for label, builders in (("latent loop (reference)", [loop_builder(key) for key in keys]),
                                ("SeFa direction 0 (reference)", [motion_builder(key, "0") for key in keys])):
            rows.append({"class": class_name, "clip": label, **rounded(mean_metrics(clips_of(generator, builders,
                                                                                                frames)))})
        photos = real_photos(class_name, n, generator.resolution) if class_name in REAL else None
        if photos is not None:
            rows.append({"class": class_name, "clip": "real photo, rigid tilt + shift (reference)",
                         **rounded(mean_metrics(rigid_clips(photos, frames)))})
            rows.append({"class": class_name, "clip": "cross-fade of two real photos (reference)",
                         **rounded(mean_metrics(crossfades(photos, frames)))})
    return rows


def peak_fid_rows(generator: Generator, count: int) -> list[dict[str, Any]]:
    """FID against held-out photos of neutral frames and of each head motion's peak pose (its largest pose)."""
    rows = []
    for class_name in generator.classes:
        photos = real_photos(class_name, count, generator.resolution) if class_name in REAL else None
        if photos is None:
            continue
        reference = extract_features(photos)
        latents, weights = generator.latents(range(count)), generator.class_weights([class_name] * count)
        neutral = fid(reference, extract_features(to_uint8(generator.decode(latents, weights))))
        row: dict[str, Any] = {"class": class_name, "n": count, "neutral": round(neutral, 1)}
        for name in HEAD_MOTIONS:
            poses = MOTIONS[name].poses(np.linspace(0, 1, 49))
            peak = torch.from_numpy(poses[np.abs(poses).sum(1).argmax()]).float().expand(count, -1)
            row[name] = round(fid(reference, extract_features(to_uint8(generator.decode(latents, weights,
                                                                                         pose=peak)))), 1)
        rows.append(row)
    return rows


def pack_seconds(generator: Generator) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        character_pack(generator, Animation("motion", (f"{generator.classes[0]}:7",)), Path(tmp) / "pack",
                       AnimationOptions())
        return time.perf_counter() - start


def markdown(result: dict[str, Any]) -> str:
    lines = [f"Model: {result['model']}; {result['n']} characters per class, {result['frames']} frames per clip; "
             f"{result['machine']}. Command: `.venv/bin/python benchmarks/bench_motion.py`.", "",
             "Targets: head turn, nod, tilt: explained >= 0.6 at mean flow >= 1.5 px, peak residual <= 15 grey "
             "levels; idle >= 0.6.", "",
             "| class | clip | flow-explained share | mean flow px | peak residual (grey levels) |",
             "|---|---|---:|---:|---:|"]
    lines += [f"| {r['class']} | {r['clip']} | {r['explained']:.2f} | {r['flow_px']:.2f} | {r['peak_residual']:.1f} |"
              for r in result["clips"]]
    if result["fid"]:
        lines += ["", "FID against held-out photos (n per class; compare within the row): neutral frames vs each "
                  "head motion's peak pose.", "", "| class | n | neutral | " + " | ".join(HEAD_MOTIONS) + " |",
                  "|---|---:|---:|" + "---:|" * len(HEAD_MOTIONS)]
        lines += [f"| {r['class']} | {r['n']} | {r['neutral']} | " + " | ".join(str(r[m]) for m in HEAD_MOTIONS)
                  + " |" for r in result["fid"]]
    lines += ["", f"A whole character pack (7 motions x 96 frames, GIF previews, sheet, Godot resource), in-process: "
              f"{result['pack_seconds']:.1f} s."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=64, help="characters per class")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fid-n", type=int, default=250, help="characters per class for FID (0: skip)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    generator = Generator.load(args.model)
    result = {"model": generator.name, "n": args.n, "frames": args.frames,
              "machine": f"{platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}",
              "clips": motion_rows(generator, args.n, args.frames),
              "fid": peak_fid_rows(generator, args.fid_n) if args.fid_n else [],
              "pack_seconds": round(pack_seconds(generator), 2)}
    RESULTS.mkdir(exist_ok=True)
    atomic_write_json(RESULTS / "motion.json", result)
    atomic_write_text(RESULTS / "motion.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

"""Bad files, a fixed budget of them: do the decode and model-loading paths refuse cleanly or crash?

Usage: .venv/bin/python benchmarks/fuzz_files.py [--inputs 2000] [--seed 0]
Writes benchmarks/results/fuzz.json and fuzz.md.

Each input is a valid file (a PNG, a JPEG, a WebP, an animated GIF, a small MP4; a model folder's config.json and
model.safetensors) mutated at random: bytes flipped, a stretch deleted or repeated, random bytes inserted, the end
cut off, or a JSON value replaced. The file goes through the project's own readers (``decode_image``,
``decode_frames``, ``Generator.load``). An outcome is *refused* when the reader raises the project's one-line
:class:`MuybridgeError`, *accepted* when it reads the file, and a *crash* for anything else (another exception, a
hang past the per-input time limit). The target is 0 crashes.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image

from muybridge.data.decode import decode_frames, decode_image
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_json, atomic_write_text
from muybridge.generator import Generator
from muybridge.models import build_networks
from muybridge.models.format import save_model_folder

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TINY_MODEL = {"architecture": "gallop", "resolution": 16, "classes": ["cat", "dog"], "latent_dim": 8,
              "params": {"channel_base": 64, "channel_min": 4, "channel_max": 8, "embed_dim": 4, "refine_upto": 8,
                         "mbstd_group": 2}}


def seed_images() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    pixels = (rng.random((48, 40, 3)) * 255).astype(np.uint8)
    made = {}
    for name, fmt in (("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt)
        made[name] = buffer.getvalue()
    frames = [Image.fromarray(np.roll(pixels, 4 * i, axis=1)) for i in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    made["gif"] = buffer.getvalue()
    made["mp4"] = iio.imwrite("<bytes>", np.stack([np.asarray(f) for f in frames] * 2)[:, :48, :32], extension=".mp4",
                              fps=8)
    return made


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(("flip", "delete", "repeat", "insert", "truncate"))
        at = rng.randrange(max(1, len(out)))
        span = rng.randint(1, max(1, min(64, len(out) // 4)))
        if kind == "flip" and out:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == "delete":
            del out[at : at + span]
        elif kind == "repeat":
            out[at:at] = out[at : at + span] * rng.randint(1, 8)
        elif kind == "insert":
            out[at:at] = bytes(rng.randrange(256) for _ in range(span))
        else:
            del out[at:]
    return bytes(out)


def mutate_json(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    values: list[Any] = [None, -1, 0, 10**30, "", "x" * 300, [], {}, True, 1.5, "gallop", float("nan")]
    changed = json.loads(json.dumps(data))
    target = changed if rng.random() < 0.6 else changed.setdefault("params", {})
    key = rng.choice([*target.keys(), "extra"]) if target else "extra"
    if rng.random() < 0.2:
        target.pop(key, None)
    else:
        target[key] = rng.choice(values)
    return changed


def outcome(read: Callable[[], object]) -> tuple[str, str]:
    try:
        read()
    except MuybridgeError as exc:
        return "refused", str(exc)
    except Exception as exc:  # a crash: what this script is looking for
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return "crash", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]} ({where.filename}:{where.lineno})"
    return "accepted", ""


def run(inputs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    images = seed_images()
    tally: Counter[tuple[str, str]] = Counter()
    crashes: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch.manual_seed(0)
        networks = build_networks(TINY_MODEL)
        model = root / "model"
        save_model_folder(model, {**TINY_MODEL, "name": "fuzz"},
                          {"decoder": networks.decoder, "encoder": networks.encoder}, card="# fuzz\n")
        config = json.loads((model / "config.json").read_text())
        weights = (model / "model.safetensors").read_bytes()
        started = time.perf_counter()
        for index in range(inputs):
            target = rng.choice([*images, "config", "weights"])
            if target in images:
                data = mutate(images[target], rng)
                path = root / f"input.{target}"
                path.write_bytes(data)
                if target in ("gif", "mp4"):
                    result = outcome(lambda path=path: list(decode_frames(path, 32, 4.0)))
                else:
                    result = outcome(lambda data=data: decode_image(data, 32))
            else:
                broken = root / f"broken-{index}"
                shutil.copytree(model, broken)
                if target == "config":
                    (broken / "config.json").write_text(json.dumps(mutate_json(config, rng)))
                else:
                    (broken / "model.safetensors").write_bytes(mutate(weights, rng))
                result = outcome(lambda broken=broken: Generator.load(broken).generate("cat", 1))
                shutil.rmtree(broken)
            tally[(target, result[0])] += 1
            if result[0] == "crash":
                crashes.append({"input": target, "error": result[1]})
        seconds = time.perf_counter() - started
    per_input = {name: {kind: tally[(name, kind)] for kind in ("accepted", "refused", "crash")}
                 for name in [*images, "config", "weights"]}
    return {"inputs": inputs, "seed": seed, "seconds": round(seconds, 1), "crashes": len(crashes),
            "per_input": per_input, "crash_examples": crashes[:10]}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"{result['inputs']} mutated files (seed {result['seed']}), {result['seconds']} s; "
             f"**crashes: {result['crashes']}** (target 0). Command: `.venv/bin/python benchmarks/fuzz_files.py`.", "",
             "| input | accepted | refused (one-line error) | crash |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {row['accepted']} | {row['refused']} | {row['crash']} |"
              for name, row in result["per_input"].items()]
    lines += [f"- {c['input']}: {c['error']}" for c in result["crash_examples"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = run(args.inputs, args.seed)
    RESULTS.mkdir(exist_ok=True)
    atomic_write_json(RESULTS / "fuzz.json", result)
    atomic_write_text(RESULTS / "fuzz.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

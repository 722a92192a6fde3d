"""Rendering speed: decoder frames/s at batch 1 and 64 against this CPU's matmul limit, and a 4 s GIF loop.

Run:  .venv/bin/python benchmarks/bench_render.py [--model MODEL]
Writes benchmarks/results/render.json and render.md. Without --model it measures the bundled model.

* FLOPs per frame: ``torch.utils.flop_counter.FlopCounterMode`` on one decoder call (a multiply-add is 2).
* CPU limit: the best of 3 2048×2048 fp32 matmuls, in GFLOP/s.
* Rounds: this shared machine's speed drifts by a fifth between minutes, so the benchmark runs 7 rounds, each
  timing the matmul limit and, right after it, one pass per path (the decoder at batch 1 and 64; the public
  ``Generator.decode`` in fp32 and, in each reduced precision this CPU runs natively (bf16, fp16), with its
  convolutions in that precision); a ratio compares speeds of the same moment. The table gives the medians over
  rounds, and the CPU's model and extensions.
* "of limit" = frames/s × FLOPs per frame ÷ that round's matmul rate.
* Reduced precisions: each one's error against fp32 on the probe characters (``Generator.trial_precision``; where the
  CPU only emulates it, the error is the rounding's all the same and its speed is not reported) and what
  ``auto`` chooses from them.
* GIF loop: ``animate_to_file`` for 96 frames at 24 fps (render + encode), after the model is loaded;
  the CLI figure runs ``muybridge animate loop`` in a fresh process (Python start, imports, model load): once
  with an empty cache folder (on a CPU with a native reduced precision that run tries it on the model) and the median
  of 3 runs after it (the trial remembered), and beside it a fresh Python that only imports torch: the floor
  of any render through PyTorch. Then the model's graph is cached (``muybridge export-onnx MODEL --cache``) and
  the median of 3 runs gives the torch-free CLI (onnxruntime draws, :mod:`muybridge.animation.light`).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from per_cpu import write_per_cpu
from torch.utils.flop_counter import FlopCounterMode

from muybridge.animation.modes import animate_to_file, loop_builder
from muybridge.files import CACHE_ENV
from muybridge.generator import DECODE_CHUNK, Generator
from muybridge.memory import keep_freed_memory
from muybridge.models import gallop
from muybridge.precision import ERROR_BOUND, PROBE_COUNT, REDUCED, choose_precision, cpu_description, native

RESULTS = Path(__file__).parent / "results"
ROUNDS = 7
CLI_LATER_RUNS = 3
BATCHES = ((1, 32), (64, 256))  # (batch size, frames per timed pass)


HEADER = [
    "# Rendering benchmark", "",
    "One section per CPU kind this benchmark has run on (the machines change between sessions); the newest "
    "first. Command: `.venv/bin/python benchmarks/bench_render.py` (add `--model M` for another model).", "",
    "Where the time goes: the decoder's convolutions alone run near the matmul limit; the passes between "
    "them (modulation, demodulation, bias, activation, blur, RGB skips) take the rest, a larger share on a "
    "CPU whose matrix units are faster (the Xeon); layer by layer, and what was tried: "
    "[docs/rendering-speed.md](../../docs/rendering-speed.md). Reduced-precision convolutions are faster still "
    "where the CPU runs them natively; bf16 moves some pixels by more than the bound, fp16 (11 mantissa bits to "
    "bf16's 8) stays within it, and `auto` takes the fastest native one that stays within the bound and is faster than "
    "fp32 (`muybridge version --verbose` says what it chose and why). A command's start is bounded below by a "
    "fresh Python's `import torch` (its own row), most of what the CLI spends before its first frame; the rest "
    "is the model's load, the first decode and the encoding. On a CPU with a native reduced precision the first "
    "run of a model also tries it (six batches of decoding per precision); later runs read the verdict from the cache "
    "folder. Once the model's graphs are cached (`muybridge export-onnx MODEL --cache`, which `muybridge demo` "
    "runs), `animate loop`, `walk`, `morph`, `motion`, `character` and `timeline` draw without torch: the "
    "torch-free rows (loop and motion; walk, morph and timeline take the loop's graph, character packs the "
    "motion's).", "",
]


def matmul_gflops(size: int = 2048, repeats: int = 3) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def decoder_flops(generator: Generator) -> int:
    """The model's arithmetic for one frame. What the CPU computes for its own speed is not counted: gallop's last
    layer adds zero filters there (``SUBPIXEL_COMPUTED_OUTPUTS``; 0 computes only its own outputs), and upsamples
    its RGB skip by a fixed convolution, counted as the bilinear interpolation it computes (which, like every
    interpolation, the counter does not count)."""
    latents, weights = generator.latents([0]), generator.class_weights([generator.classes[0]])
    with (mock.patch.object(gallop, "SUBPIXEL_COMPUTED_OUTPUTS", 0),
          mock.patch.object(gallop, "upsampled_phases", interpolated_phases),
          FlopCounterMode(display=False) as counter, torch.inference_mode()):
        generator.decoder(latents, weights)
    return int(counter.get_total_flops())


def interpolated_phases(rgb: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """What ``gallop.upsampled_phases`` computes, by interpolation."""
    return F.pixel_unshuffle(gallop.upsample_rgb(rgb), 2) + bias.repeat_interleave(4)[:, None, None]


def decoder_pass(generator: Generator, batch: int, frames: int) -> Callable[[], None]:
    """The decoder module itself, ``batch`` frames per call (what the network reaches)."""
    latents = generator.latents(range(frames))
    weights = generator.class_weights([generator.classes[0]] * frames)

    def run() -> None:
        with torch.inference_mode():
            for i in range(0, frames, batch):
                generator.decoder(latents[i : i + batch], weights[i : i + batch])
    return run


def public_pass(generator: Generator, precision: str, frames: int) -> Callable[[], None]:
    """``Generator.decode`` on ``frames`` frames at once (what every caller gets: it runs chunks of
    DECODE_CHUNK) in ``precision``."""
    latents = generator.latents(range(frames))
    weights = generator.class_weights([generator.classes[0]] * frames)
    return lambda: generator.decode(latents, weights, precision=precision)  # type: ignore[return-value]


def onnx_pass(session: Any, generator: Generator, batch: int, frames: int) -> Callable[[], None]:
    """onnxruntime on the exported graph (`muybridge export-onnx`), ``batch`` frames per call."""
    latents = generator.latents(range(frames)).numpy()
    weights = generator.class_weights([generator.classes[0]] * frames).numpy()
    truncation = np.ones(1, np.float32)

    def run() -> None:
        for i in range(0, frames, batch):
            session.run(None, {"latents": latents[i : i + batch], "class_weights": weights[i : i + batch],
                               "truncation": truncation})
    return run


def onnx_session(generator: Generator, folder: Path) -> Any | None:
    """An onnxruntime session on this model's ONNX export, with as many threads as torch; None without the
    onnx extra."""
    try:
        import onnxruntime
    except ImportError:
        return None
    from muybridge.engines.onnx import export_onnx

    path = export_onnx(generator, folder / "model.onnx")[0]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def frames_per_second(run: Callable[[], None], frames: int) -> float:
    """One timed call of ``run`` (``frames`` frames) after a warm-up call."""
    run()
    start = time.perf_counter()
    run()
    return frames / (time.perf_counter() - start)


def passes(generator: Generator, session: Any | None) -> dict[str, tuple[Callable[[], None], int]]:
    """What is timed, by row label: the decoder at batch 1 and 64, the public decode in fp32 and in each reduced
    precision this CPU runs natively (elsewhere it is emulated and slower); onnxruntime at batch 1 and 64."""
    rows = {f"decoder, batch {batch}": (decoder_pass(generator, batch, frames), frames) for batch, frames in BATCHES}
    rows[f"Generator.decode, batch {DECODE_CHUNK}, fp32"] = (public_pass(generator, "fp32", 256), 256)
    for precision in filter(native, REDUCED):
        rows[f"Generator.decode, batch {DECODE_CHUNK}, {precision} convolutions"] = (
            public_pass(generator, precision, 256), 256)
    if session is not None:
        rows.update({f"onnxruntime (export-onnx), batch {batch}": (onnx_pass(session, generator, batch, frames), frames)
                     for batch, frames in BATCHES})
    return rows


def measure_rounds(generator: Generator, flops: int, session: Any | None) -> list[dict[str, Any]]:
    """Per timed pass, the medians over ROUNDS of frames/s, the matmul limit and their ratio."""
    timed = passes(generator, session)
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in timed}
    for _ in range(ROUNDS):
        limit = matmul_gflops()
        for label, (run, frames) in timed.items():
            samples[label].append((frames_per_second(run, frames), limit))
    rows = []
    for label, pairs in samples.items():
        fps = statistics.median(f for f, _ in pairs)
        rows.append({"path": label, "frames_per_s": fps, "gflops": fps * flops / 1e9,
                     "matmul_gflops": statistics.median(limit for _, limit in pairs),
                     "of_limit": statistics.median(f * flops / 1e9 / limit for f, limit in pairs)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model folder or bundled name (default: the bundled one)")
    args = parser.parse_args()
    keep_freed_memory()  # as the muybridge command does, so the figures are the command's
    generator = Generator.load(args.model)
    label = f"{generator.name} ({args.model})"
    load_average = os.getloadavg()[0]
    flops = decoder_flops(generator)
    with tempfile.TemporaryDirectory() as onnx_dir:
        rows = measure_rounds(generator, flops, onnx_session(generator, Path(onnx_dir)))
    trials = {precision: generator.trial_precision(precision) for precision in REDUCED}
    choice = choose_precision(trials.__getitem__)
    cpu = cpu_description()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        animate_to_file(generator, loop_builder("cat", 7), Path(tmp) / "loop.gif", fps=24, duration=4)
        gif_in_process = time.perf_counter() - start
        cache = Path(tmp) / "cache"
        gif_cli_first = cli_seconds(args.model, Path(tmp), cache, LOOP_VERB)
        gif_cli = statistics.median(cli_seconds(args.model, Path(tmp), cache, LOOP_VERB) for _ in range(CLI_LATER_RUNS))
        motion_cli = (statistics.median(cli_seconds(args.model, Path(tmp), cache, MOTION_VERB)
                                        for _ in range(CLI_LATER_RUNS)) if generator.takes_pose else None)
        subprocess.run([sys.executable, "-m", "muybridge", "export-onnx", args.model, "--cache"], check=True,
                       capture_output=True, env={**os.environ, CACHE_ENV: str(cache)})
        gif_cli_light = statistics.median(cli_seconds(args.model, Path(tmp), cache, LOOP_VERB)
                                          for _ in range(CLI_LATER_RUNS))
        motion_cli_light = (statistics.median(cli_seconds(args.model, Path(tmp), cache, MOTION_VERB)
                                              for _ in range(CLI_LATER_RUNS)) if generator.takes_pose else None)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    import_torch = time.perf_counter() - start
    result = {
        "model": label, "cpu": cpu, "resolution": generator.resolution, "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "load_average_at_start": load_average,
        "decoder_mflops_per_frame": flops / 1e6, "rounds": ROUNDS,
        "decode": rows, "gif_loop_4s_24fps_in_process_s": gif_in_process, "gif_loop_4s_24fps_cli_s": gif_cli,
        "gif_loop_4s_24fps_cli_first_s": gif_cli_first, "gif_loop_4s_24fps_cli_torch_free_s": gif_cli_light,
        "gif_motion_4s_24fps_cli_s": motion_cli, "gif_motion_4s_24fps_cli_torch_free_s": motion_cli_light,
        "python_import_torch_s": import_torch,
        "reduced_precision": {precision: {"mean": trial.error.mean, "largest": trial.error.largest,
                                          "native": native(precision),
                                          "speedup": trial.speedup if native(precision) else None}
                              for precision, trial in trials.items()},
        "bound": {"mean": ERROR_BOUND.mean, "largest": ERROR_BOUND.largest},
        "auto_precision": choice.precision, "auto_reason": choice.reason,
        "date": datetime.date.today().isoformat(),
    }
    text = write_per_cpu(RESULTS / "render.json", result, HEADER, section)
    print(text)


LOOP_VERB = ("loop", "cat", "--seed", "7")
MOTION_VERB = ("motion", "cat:7", "--motion", "nod")


def cli_seconds(model: str, folder: Path, cache: Path, verb: tuple[str, ...]) -> float:
    """Seconds from launch to exit of ``muybridge animate VERB`` (4 s at 24 fps) with ``cache`` as its cache."""
    cli = [sys.executable, "-m", "muybridge", "animate", *verb, "-m", model,
           "--duration", "4", "--fps", "24", "-o", str(folder / "cli.gif")]
    start = time.perf_counter()
    finished = subprocess.run(cli, capture_output=True, text=True, env={**os.environ, CACHE_ENV: str(cache)})
    if finished.returncode != 0:
        raise SystemExit(f"the CLI run failed: {finished.stderr.strip()}")
    return time.perf_counter() - start


def section(result: dict[str, Any]) -> list[str]:
    """One CPU's tables."""
    rows = result["decode"]
    reduced, bound = reduced_precision(result), result.get("bound") or result["bf16_bound"]
    native_here = any(entry["native"] for entry in reduced.values())
    first_run_note = " (tries the reduced precisions)" if native_here else ""
    return [
        f"CPU: {result['cpu']}. Model: {result['model']}; {result['resolution']} px; torch threads "
        f"{result['torch_threads']} of {result['cpu_count']} CPUs (load average {result['load_average_at_start']:.1f} "
        f"at start); decoder {result['decoder_mflops_per_frame']:.1f} MFLOP/frame. Medians over {result['rounds']} "
        "rounds, each timing the fp32 matmul limit (2048²) and right after it every path below.", "",
        "| path | frames/s | GFLOP/s | fp32 matmul limit GFLOP/s | of fp32 limit |", "|---|---:|---:|---:|---:|",
        *[f"| {r['path']} | {r['frames_per_s']:.1f} | {r['gflops']:.2f} | {r['matmul_gflops']:.1f} | "
          f"{r['of_limit']:.0%} |" for r in rows],
        "",
        f"Convolutions in a reduced precision against fp32 on {PROBE_COUNT} characters (the bound: mean <= "
        f"{bound['mean']:g} and largest <= {bound['largest']:g} grey levels):", "",
        "| precision | mean | largest | here |", "|---|---:|---:|---|",
        *[f"| {precision} | {entry['mean']:.2f} | {entry['largest']:.0f} | "
          + (f"native, {entry['speedup']:.2f}x fp32's speed |" if entry.get("speedup") else
             "native |" if entry["native"] else "emulated |")
          for precision, entry in reduced.items()],
        "",
        f"`Generator.load()` (precision auto) renders in **{result['auto_precision']}** there.",
        "",
        "| 4 s loop at 24 fps → GIF (96 frames) | seconds |", "|---|---:|",
        f"| in-process (render + encode, model loaded) | {result['gif_loop_4s_24fps_in_process_s']:.2f} |",
        *([f"| CLI end to end (`muybridge animate loop`), first run{first_run_note} | "
           f"{result['gif_loop_4s_24fps_cli_first_s']:.2f} |",
           f"| CLI end to end, later runs (the trial remembered in the cache folder; median of {CLI_LATER_RUNS}) | "
           f"{result['gif_loop_4s_24fps_cli_s']:.2f} |"] if "gif_loop_4s_24fps_cli_first_s" in result else
          [f"| CLI end to end (`muybridge animate loop`) | {result['gif_loop_4s_24fps_cli_s']:.2f} |"]),
        *([f"| of which a fresh Python's `import torch` alone | {result['python_import_torch_s']:.2f} |"]
          if "python_import_torch_s" in result else []),
        *([f"| CLI end to end without torch (the graph cached: `muybridge export-onnx MODEL --cache`; median of "
           f"{CLI_LATER_RUNS}) | {result['gif_loop_4s_24fps_cli_torch_free_s']:.2f} |"]
          if "gif_loop_4s_24fps_cli_torch_free_s" in result else []),
        *([f"| `animate motion cat:7 --motion nod`, CLI end to end: with torch / without (median of {CLI_LATER_RUNS}) "
           f"| {result['gif_motion_4s_24fps_cli_s']:.2f} / {result['gif_motion_4s_24fps_cli_torch_free_s']:.2f} |"]
          if result.get("gif_motion_4s_24fps_cli_torch_free_s") is not None else []), "",
    ]


def reduced_precision(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The reduced-precision trials of a result; results from before fp16 was tried have bf16's error alone (native
    where they timed a bf16 row)."""
    if "reduced_precision" in result:
        return dict(result["reduced_precision"])
    timed = any("bf16" in row["path"] for row in result["decode"])
    return {"bf16": {**result["bf16_error_grey_levels"], "native": timed}}


if __name__ == "__main__":
    main()

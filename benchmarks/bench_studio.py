"""Studio under load: latency and throughput of POST /v1/generate for 1, 8 and 32 concurrent clients.

Run:  .venv/bin/python benchmarks/bench_studio.py [--model MODEL] [--seconds 8] [--requests 160]
Writes benchmarks/results/studio.json and studio.md. The studio runs in this process (uvicorn in a thread)
on 127.0.0.1 and a random free port; clients are httpx.AsyncClient tasks. Each level stops after
``--requests`` requests or ``--seconds`` seconds, whichever comes first. Without --model (and until the
bundled model exists) it serves a randomly initialised default-architecture model (gallop, 64 px, latent
128, cat/dog): the cost of a request does not depend on the weights.

Concurrent requests are merged by the studio's batcher; "mean batch" is images decoded per
``Generator.generate`` call during the level.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import torch
import uvicorn

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_json, atomic_write_text
from muybridge.memory import keep_freed_memory
from muybridge.models import build_networks
from muybridge.models.format import save_model_folder
from muybridge.studio import StudioSettings, create_app
from muybridge.zoo import resolve_model_path

RESULTS = Path(__file__).parent / "results"
RANDOM_CONFIG = {"architecture": "gallop", "resolution": 64, "classes": ["cat", "dog"], "latent_dim": 128}
LEVELS = (1, 8, 32)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def place_model(workspace: Path, model: str | None) -> tuple[str, str]:
    """Put the model into the workspace; returns (its name there, a label for the table)."""
    if model is None:
        try:
            model = str(resolve_model_path(None))
        except MuybridgeError:
            torch.manual_seed(0)
            networks = build_networks(RANDOM_CONFIG)
            save_model_folder(workspace / "models" / "random-gallop-64", {**RANDOM_CONFIG, "name": "random"},
                              {"decoder": networks.decoder, "encoder": networks.encoder},
                              card="# random-init benchmark model\n")
            return "random-gallop-64", ("random-init gallop 64 px (the bundled model is absent; "
                                        "request cost does not depend on weights)")
    source = resolve_model_path(model)
    shutil.copytree(source, workspace / "models" / "bench")
    return "bench", f"{source.name} ({source})"


async def run_level(url: str, model: str, clients: int, max_requests: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    refused = 0
    issued = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        before = (await http.get("/v1/status")).json()["generate"]

        async def client(index: int) -> None:
            nonlocal refused, issued
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                body = {"model": model, "class": ("cat", "dog")[issued % 2], "seed": issued}
                start = time.perf_counter()
                response = await http.post("/v1/generate", json=body)
                if response.status_code == 503:
                    refused += 1
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                    continue
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
        after = (await http.get("/v1/status")).json()["generate"]
    batches = after["batches"] - before["batches"]
    ordered = sorted(latencies)
    return {"clients": clients, "requests": len(latencies), "refused_503": refused, "seconds": elapsed,
            "throughput_rps": len(latencies) / elapsed, "p50_ms": 1000 * statistics.median(ordered),
            "p95_ms": 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "mean_batch": (after["images"] - before["images"]) / max(1, batches)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder or bundled name (default: bundled, else random-init)")
    parser.add_argument("--seconds", type=float, default=8.0, help="time limit per concurrency level")
    parser.add_argument("--requests", type=int, default=160, help="request limit per concurrency level")
    args = parser.parse_args()
    keep_freed_memory()  # as the studio's serve does, so the figures are the command's
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        model, label = place_model(workspace, args.model)
        port = free_port()
        app = create_app(StudioSettings(workspace=workspace, bundled_dir=None))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(run_level(url, model, 1, 4, 30))  # warm-up: model load, first decode
            rows = [asyncio.run(run_level(url, model, clients, args.requests, args.seconds)) for clients in LEVELS]
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    result = {"model": label, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
              "limits": {"seconds_per_level": args.seconds, "requests_per_level": args.requests},
              "levels": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_json(RESULTS / "studio.json", result)
    lines = [
        "# Studio load benchmark", "",
        f"`POST /v1/generate` (one 1-image PNG per request) against an in-process uvicorn server on 127.0.0.1. "
        f"Model: {label}; torch threads {result['torch_threads']} of {result['cpu_count']} CPUs; each level "
        f"stops after {args.requests} requests or {args.seconds:g} s.", "",
        "| clients | requests | p50 ms | p95 ms | requests/s | mean batch | 503s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {r['clients']} | {r['requests']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
          f"{r['throughput_rps']:.1f} | {r['mean_batch']:.1f} | {r['refused_503']} |" for r in rows],
        "", "Command: `.venv/bin/python benchmarks/bench_studio.py` (add `--model M` for another model).", "",
    ]
    atomic_write_text(RESULTS / "studio.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

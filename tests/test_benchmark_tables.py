"""The benchmarks keep one result per kind of CPU, named by its model and extensions, and read older results."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
ZEN4 = "AMD EPYC (avx2, avx512_f, avx512_bf16; torch kernels AVX512)"
ZEN3 = "AMD EPYC (avx2; torch kernels AVX2)"
XEON = "Intel(R) Xeon(R) Processor (avx2, avx512_f, avx512_bf16, avx512_fp16, amx_bf16; torch kernels AVX512)"


def benchmark_module(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import each other as top-level modules
    return importlib.import_module(name)


def test_two_machines_of_one_model_name_keep_a_result_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    per_cpu = benchmark_module("per_cpu", monkeypatch)
    assert per_cpu.cpu_kind(ZEN4) == "AMD EPYC (avx2, avx512_f, avx512_bf16)"
    assert per_cpu.cpu_kind("unknown CPU") == "unknown CPU"
    results = tmp_path / "render.json"  # as written before the extensions were part of the key
    results.write_text(json.dumps({"by_cpu": {"AMD EPYC": {"cpu": ZEN4, "date": "2026-12-03", "figure": 1},
                                              "Intel(R) Xeon(R) Processor": {"cpu": XEON, "figure": 2}}}))
    by_cpu = per_cpu.merged_results(results, {"cpu": ZEN3, "date": "2026-12-07", "figure": 3})
    assert {kind: entry["figure"] for kind, entry in by_cpu.items()} == {
        "AMD EPYC (avx2, avx512_f, avx512_bf16)": 1, "AMD EPYC (avx2)": 3,
        "Intel(R) Xeon(R) Processor (avx2, avx512_f, avx512_bf16, avx512_fp16, amx_bf16)": 2}
    again = per_cpu.merged_results(results, {"cpu": ZEN4, "date": "2026-12-08", "figure": 4})
    assert again["AMD EPYC (avx2, avx512_f, avx512_bf16)"]["figure"] == 4 and len(again) == 2  # replaced, not added


def test_a_render_result_from_before_fp16_reads_as_bf16_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    bench_render = benchmark_module("bench_render", monkeypatch)
    row = {"frames_per_s": 1.0, "gflops": 1.0, "matmul_gflops": 1.0, "of_limit": 1.0}
    paths = ("decoder, batch 64", "Generator.decode, batch 64, bf16 convolutions")
    old = {"decode": [{**row, "path": path} for path in paths], "bf16_error_grey_levels": {"mean": 0.43, "largest": 10}}
    assert bench_render.reduced_precision(old) == {"bf16": {"mean": 0.43, "largest": 10, "native": True}}
    old["decode"] = old["decode"][:1]  # no bf16 row: this CPU only emulated it
    assert bench_render.reduced_precision(old)["bf16"]["native"] is False


def test_every_relative_link_in_the_docs_and_results_names_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """A results table's links are relative to its own folder (run_all.py makes them the README's), so a link
    written for the README in a benchmark's header breaks both copies. What counts as a relative link is
    run_all.py's own rule."""
    relative_link = benchmark_module("run_all", monkeypatch).RELATIVE_LINK
    root = BENCHMARKS.parent
    pages = [root / "README.md", *root.glob("docs/*.md"), *(BENCHMARKS / "results").rglob("*.md")]
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for link in relative_link.finditer(text):
            target = text[link.end():].split(")", 1)[0]
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(root)}: {target}")
    assert not broken, broken

"""Benchmark results kept per CPU kind: the machines change between sessions (AMD EPYC, Intel Xeon), and a
speed figure only means something beside the CPU it was measured on. A result replaces the one of its own
CPU kind and leaves the others; the Markdown has one section per CPU, the newest first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from muybridge.files import atomic_write_json, atomic_write_text


def cpu_kind(cpu: str) -> str:
    """The CPU model and its vector and matrix extensions, without torch's kernel level: the key one result per
    kind of machine is kept under. The hypervisor names every AMD machine here "AMD EPYC", so the extensions tell
    the kinds apart (AVX2 alone, or AVX-512 with BF16)."""
    name, _, rest = cpu.partition(" (")
    extensions = rest.split(";")[0].removesuffix(")")
    return f"{name} ({extensions})" if extensions else name


def merged_results(path: Path, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The results on disk per CPU kind (an older single-result file counts as its CPU's, when it names one),
    with ``result`` replacing its own kind's."""
    on_disk = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    by_cpu = {cpu_kind(entry["cpu"]): entry for entry in on_disk.get("by_cpu", {}).values()}
    if "cpu" in on_disk:
        by_cpu.setdefault(cpu_kind(on_disk["cpu"]), on_disk)
    by_cpu[cpu_kind(result["cpu"])] = result
    return by_cpu


def write_per_cpu(json_path: Path, result: dict[str, Any], header: list[str],
                  section: Callable[[dict[str, Any]], list[str]]) -> str:
    """Merge ``result`` (which has ``cpu`` and ``date``) into ``json_path`` and write the Markdown beside it:
    ``header``, then for each CPU kind a ``## kind (date)`` heading and its ``section``. Returns the Markdown."""
    by_cpu = merged_results(json_path, result)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(json_path, {"by_cpu": by_cpu})
    lines = list(header)
    for entry in sorted(by_cpu.values(), key=lambda e: e.get("date", ""), reverse=True):
        lines += [f"## {cpu_kind(entry['cpu'])}" + (f" ({entry['date']})" if "date" in entry else ""), "",
                  *section(entry)]
    text = "\n".join(lines)
    atomic_write_text(json_path.with_suffix(".md"), text)
    return text

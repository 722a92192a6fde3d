"""Render precision: float32, or the decoder's convolutions in bfloat16 where that stays faithful.

On a CPU with AMX or AVX512-BF16 a bf16 convolution runs several times faster than a float32 one (Intel Xeon
with AMX: the decoder's 8-px 3x3 convolution at batch 64 in 0.57 ms against 3.33). Rounding to bf16 changes
pixels, so ``auto`` renders in bf16 only on such a CPU **and** only where this model's frames stay within
:data:`ERROR_BOUND` of its float32 frames, measured on :data:`PROBE_COUNT` fixed characters (two batches of
decoding) and remembered in the cache folder for these weights on this kind of CPU (:func:`remembered_error`), so
a command pays for it once, not at every start. Otherwise everything runs in float32. Under bf16 only the
convolutions are rounded: styles, demodulation, biases and the RGB layers stay float32 (the architecture marks
them, e.g. ``gallop.full_precision``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_json, cache_dir

#: What ``Generator.load(precision=...)`` accepts.
PRECISIONS = ("auto", "fp32", "bf16")
#: Characters (seeds 0.., classes in turn) the error is measured on.
PROBE_COUNT = 64


@dataclass(frozen=True)
class ErrorBound:
    """The most a reduced-precision frame may differ from the float32 one, in grey levels of uint8 pixels."""

    mean: float = 0.5
    largest: int = 4

    def holds(self, error: RenderError) -> bool:
        return error.mean <= self.mean and error.largest <= self.largest

    def __str__(self) -> str:
        return f"mean <= {self.mean} and largest <= {self.largest} grey levels"


ERROR_BOUND = ErrorBound()


@dataclass(frozen=True)
class RenderError:
    """How far bf16 frames are from float32 ones: mean and largest absolute difference of uint8 pixels."""

    mean: float
    largest: int

    def __str__(self) -> str:
        return f"mean {self.mean:.2f}, largest {self.largest} grey levels"


def native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware (AMX tiles or AVX512-BF16); elsewhere bf16 is
    emulated and slower than float32."""
    cpu: Any = torch.cpu
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in probes)


def cpu_description() -> str:
    """The CPU's model name and the vector/matrix extensions that decide kernel speed here (benchmarks print it
    beside every figure: the same code reaches a different share of the limit on another CPU)."""
    capabilities: dict[str, Any] = dict(getattr(torch.cpu, "get_capabilities", dict)())
    name = _model_name() or str(capabilities.get("cpu_name", "unknown CPU"))
    flags = [flag for flag in ("avx2", "avx512_f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_fp16")
             if capabilities.get(flag)]
    return f"{name} ({', '.join(flags) or 'no AVX2'}; torch kernels {torch.backends.cpu.get_cpu_capability()})"


def _model_name() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            lines = [line for line in cpuinfo if line.startswith("model name")]
    except OSError:
        return None
    return lines[0].split(":", 1)[1].strip() if lines else None


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise MuybridgeError(f"precision {precision!r}: choose {', '.join(PRECISIONS)}")
    return precision


def render_context(precision: str) -> contextlib.AbstractContextManager[Any]:
    """The autocast a decoder runs under: bf16 for ``"bf16"``, nothing for ``"fp32"``."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def render_error(exact: np.ndarray, rounded: np.ndarray) -> RenderError:
    """How far the uint8 frames ``rounded`` are from ``exact``."""
    difference = np.abs(rounded.astype(np.int16) - exact.astype(np.int16))
    return RenderError(float(difference.mean()), int(difference.max()))


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``auto`` chose for a model, and why."""

    precision: str
    reason: str
    error: RenderError | None = None


def choose_precision(measure_bf16: Callable[[], RenderError], bound: ErrorBound = ERROR_BOUND) -> PrecisionChoice:
    """bf16 where the CPU runs it natively and the model's measured error (``measure_bf16()``, e.g.
    ``Generator.measure_bf16_error``) is within ``bound``; else fp32."""
    if not native_bf16():
        return PrecisionChoice("fp32", "this CPU has no native bf16 (AMX or AVX512-BF16)")
    error = measure_bf16()
    if bound.holds(error):
        return PrecisionChoice("bf16", f"bf16 error {error} is within the bound ({bound})", error)
    return PrecisionChoice("fp32", f"bf16 error {error} exceeds the bound ({bound})", error)


def remembered_error(weights_digest: str, measure: Callable[[], RenderError]) -> RenderError:
    """``measure()`` for the decoder whose weights hash to ``weights_digest``, read from the cache folder when
    it was measured before with these weights, this CPU (model and extensions), torch and probe.

    The error is a property of exactly those: the same kernels round the same way every time. Measuring costs
    two batches of decoding, a third of what ``muybridge animate loop`` spends after its imports on a 2-core
    AMD EPYC. An unreadable or unwritable cache only means measuring again.
    """
    identity = {"weights": weights_digest, "cpu": cpu_description(), "torch": torch.__version__,
                "muybridge": _installed_version(), "probe_count": PROBE_COUNT}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    path = cache_dir("precision") / f"{key}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        stored = json.loads(path.read_text(encoding="utf-8"))
        return RenderError(float(stored["mean"]), int(stored["largest"]))
    error = measure()
    with contextlib.suppress(OSError):
        atomic_write_json(path, {**identity, "mean": error.mean, "largest": error.largest})
    return error


def _installed_version() -> str:
    """muybridge's version as installed (the decoder's code is part of what the error depends on)."""
    try:
        return importlib.metadata.version("muybridge")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"

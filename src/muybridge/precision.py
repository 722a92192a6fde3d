"""Render precision: float32, or the decoder's convolutions in a reduced precision where that is native, faithful
and faster.

Two reduced precisions are candidates (:data:`REDUCED`): bfloat16 (8-bit mantissa; AMX or AVX512-BF16) and
float16 (11-bit mantissa; AMX-FP16 or AVX512-FP16). On such a CPU a reduced-precision convolution can run several
times faster than a float32 one (Intel Xeon with AMX: the decoder's 8-px 3x3 convolution at batch 64 in 0.57 ms in
bf16 against 3.33). Rounding changes pixels, so ``auto`` renders in a reduced precision only where this CPU runs it
natively **and** this model's frames stay within :data:`ERROR_BOUND` of its float32 frames **and** it is measured
at least :data:`MIN_SPEEDUP` times as fast as float32, on :data:`PROBE_COUNT` fixed characters. The trial (three
batches of decoding each way) is remembered in the cache folder for these weights on this kind of CPU
(:func:`remembered_trial`), so a command pays for it once, not at every start. Otherwise everything runs in
float32. Under a reduced precision only the convolutions are rounded: styles, demodulation, biases and the RGB
layers stay float32 (the architecture marks them, e.g. ``gallop.full_precision``).

Measured on the bundled 64-px model (64 characters): bf16 moves pixels by mean 0.4-0.5, largest 10 grey levels
(outside the bound), float16 by mean 0.06-0.07, largest 1-2 (inside it). Whether float16 is faster is the CPU's
affair, hence the timing: AMX-FP16 (Granite Rapids) multiplies fp16 tiles with float32 sums, while AVX512-FP16
alone (Sapphire Rapids) has no fp16 dot product, and oneDNN's fp16 convolutions there are reported slower than
float32 ones (pytorch/pytorch#99496).
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

#: The reduced precisions a decoder's convolutions may run in, and their dtypes.
REDUCED = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: What ``Generator.load(precision=...)`` accepts.
PRECISIONS = ("auto", "fp32", *REDUCED)
#: The CPU extensions (``torch.cpu.get_capabilities()`` names) that compute each reduced precision's products in
#: hardware; elsewhere it is emulated and slower than float32.
NATIVE_EXTENSIONS = {"bf16": ("amx_bf16", "avx512_bf16"), "fp16": ("amx_fp16", "avx512_fp16")}
#: Characters (seeds 0.., classes in turn) a reduced precision is tried on.
PROBE_COUNT = 64
#: How much faster than float32 a reduced precision must be measured before ``auto`` takes it (the trial times
#: single batches, so a margin keeps a noisy tie in float32).
MIN_SPEEDUP = 1.1


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
    """How far reduced-precision frames are from float32 ones: mean and largest absolute difference of uint8
    pixels."""

    mean: float
    largest: int

    def __str__(self) -> str:
        return f"mean {self.mean:.2f}, largest {self.largest} grey levels"


@dataclass(frozen=True)
class Trial:
    """A reduced precision tried on a model: its frames' error, and its speed as a multiple of float32's."""

    error: RenderError
    speedup: float


def cpu_capabilities() -> dict[str, Any]:
    """torch's view of this CPU: its name and which vector and matrix extensions it has."""
    return dict(getattr(torch.cpu, "get_capabilities", dict)())


def native(precision: str) -> bool:
    """Whether this CPU computes ``precision`` (a key of :data:`REDUCED`) matrix products in hardware."""
    capabilities = cpu_capabilities()
    return any(capabilities.get(extension) for extension in NATIVE_EXTENSIONS[precision])


def cpu_description() -> str:
    """The CPU's model name and the vector/matrix extensions that decide kernel speed here (benchmarks print it
    beside every figure: the same code reaches a different share of the limit on another CPU)."""
    capabilities = cpu_capabilities()
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
    """The autocast a decoder runs under: the reduced precision's, or nothing for ``"fp32"``."""
    dtype = REDUCED.get(precision)
    return torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def render_error(exact: np.ndarray, rounded: np.ndarray) -> RenderError:
    """How far the uint8 frames ``rounded`` are from ``exact``."""
    difference = np.abs(rounded.astype(np.int16) - exact.astype(np.int16))
    return RenderError(float(difference.mean()), int(difference.max()))


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``auto`` chose for a model, and why (``trials``: each reduced precision tried, by name)."""

    precision: str
    reason: str
    trials: dict[str, Trial] | None = None


def choose_precision(trial: Callable[[str], Trial], bound: ErrorBound = ERROR_BOUND) -> PrecisionChoice:
    """The fastest reduced precision that this CPU runs natively, that keeps the model's frames within ``bound``
    and that is at least :data:`MIN_SPEEDUP` times as fast as float32, by ``trial(precision)`` (e.g.
    ``Generator.trial_precision``); else fp32. Precisions this CPU only emulates are not tried."""
    candidates = [precision for precision in REDUCED if native(precision)]
    if not candidates:
        return PrecisionChoice("fp32", "this CPU computes no reduced precision natively (bf16: AMX or AVX512-BF16; "
                                       "fp16: AMX-FP16 or AVX512-FP16)")
    trials = {precision: trial(precision) for precision in candidates}
    taken = [precision for precision, result in trials.items()
             if bound.holds(result.error) and result.speedup >= MIN_SPEEDUP]
    if taken:
        best = max(taken, key=lambda precision: trials[precision].speedup)
        return PrecisionChoice(best, f"{best}: {_described(trials[best], bound)}", trials)
    return PrecisionChoice("fp32", "; ".join(f"{precision}: {_described(result, bound)}"
                                             for precision, result in trials.items()), trials)


def _described(trial: Trial, bound: ErrorBound) -> str:
    where = "within" if bound.holds(trial.error) else "outside"
    return f"error {trial.error}, {where} the bound ({bound}); {trial.speedup:.2f}x float32's speed"


def remembered_trial(weights_digest: str, precision: str, measure: Callable[[], Trial]) -> Trial:
    """``measure()`` (``precision`` tried on the decoder whose weights hash to ``weights_digest``), read from the
    cache folder when it was measured before with these weights, this CPU (model and extensions), torch and probe.

    The error is a property of exactly those: the same kernels round the same way every time; the speed is this
    kind of CPU's at this many threads. Measuring costs six batches of decoding per native precision, more than
    ``muybridge animate loop`` spends rendering after its imports. An unreadable or unwritable cache only means
    measuring again.
    """
    identity = {"weights": weights_digest, "precision": precision, "cpu": cpu_description(),
                "threads": torch.get_num_threads(), "torch": torch.__version__, "muybridge": _installed_version(),
                "probe_count": PROBE_COUNT}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    path = cache_dir("precision") / f"{key}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        stored = json.loads(path.read_text(encoding="utf-8"))
        return Trial(RenderError(float(stored["mean"]), int(stored["largest"])), float(stored["speedup"]))
    result = measure()
    with contextlib.suppress(OSError):
        atomic_write_json(path, {**identity, "mean": result.error.mean, "largest": result.error.largest,
                                 "speedup": result.speedup})
    return result


def _installed_version() -> str:
    """muybridge's version as installed (the decoder's code is part of what the error depends on)."""
    try:
        return importlib.metadata.version("muybridge")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"

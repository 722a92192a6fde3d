"""Render precision: bf16 only where the CPU runs it natively and the model's frames stay within the bound."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from muybridge import Generator, files
from muybridge import precision as precision_module
from muybridge.errors import MuybridgeError
from muybridge.models.format import state_digest
from muybridge.precision import (
    ERROR_BOUND,
    ErrorBound,
    RenderError,
    choose_precision,
    remembered_error,
    render_error,
)


def test_render_error_counts_grey_levels_without_wrapping() -> None:
    exact = np.array([[0, 255, 10, 10]], dtype=np.uint8)
    rounded = np.array([[3, 250, 10, 10]], dtype=np.uint8)  # uint8 subtraction would wrap 0 - 3 to 253
    assert render_error(exact, rounded) == RenderError(mean=2.0, largest=5)


def test_auto_takes_bf16_only_on_native_hardware_within_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    measured: list[int] = []

    def measure(error: RenderError):  # type: ignore[no-untyped-def]
        return lambda: measured.append(1) or error

    monkeypatch.setattr(precision_module, "native_bf16", lambda: False)
    assert choose_precision(measure(RenderError(0.0, 0))).precision == "fp32" and not measured  # not even measured
    monkeypatch.setattr(precision_module, "native_bf16", lambda: True)
    assert choose_precision(measure(RenderError(0.5, 4))).precision == "bf16"
    too_far = choose_precision(measure(RenderError(0.2, 5)))
    assert too_far.precision == "fp32" and "exceeds the bound" in too_far.reason
    assert choose_precision(measure(RenderError(0.6, 1)), ErrorBound(mean=0.5, largest=4)).precision == "fp32"


def test_an_unknown_precision_is_refused_in_one_line() -> None:
    with pytest.raises(MuybridgeError, match="precision 'fp8': choose auto, fp32, bf16"):
        Generator.load(precision="fp8")


def test_bf16_rounds_only_the_convolutions_of_the_bundled_model() -> None:
    """The bundled model's bf16 frames, measured: everything under autocast would be 1.4 grey levels off on
    average; with styles, demodulation, biases and RGB layers kept in float32 it is 0.43 (largest 10-13)."""
    generator = Generator.load(precision="fp32")
    error = generator.measure_bf16_error()
    assert 0 < error.mean <= ERROR_BOUND.mean  # rounded, yet within the mean bound
    assert generator.precision_choice.precision == "fp32"  # requested: never changed behind the caller's back
    auto = Generator.load()
    expected = "bf16" if precision_module.native_bf16() and ERROR_BOUND.holds(error) else "fp32"
    assert auto.precision_choice.precision == expected
    seeds = auto.generate("cat", [3, 4])
    assert np.array_equal(seeds, generator.generate("cat", [3, 4])) == (expected == "fp32")


def counting(error: RenderError, calls: list[RenderError]) -> Callable[[], RenderError]:
    """A measurement that returns ``error`` and records that it ran."""
    def measure() -> RenderError:
        calls.append(error)
        return error
    return measure


def test_the_measured_error_is_remembered_for_the_same_weights_on_the_same_cpu(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    calls: list[RenderError] = []
    assert remembered_error("a" * 64, counting(RenderError(0.3, 2), calls)) == RenderError(0.3, 2)
    assert remembered_error("a" * 64, counting(RenderError(9.0, 99), calls)) == RenderError(0.3, 2)
    assert len(calls) == 1
    assert remembered_error("b" * 64, counting(RenderError(0.1, 1), calls)) == RenderError(0.1, 1)  # other weights
    monkeypatch.setattr(precision_module, "cpu_description", lambda: "another CPU (avx2)")
    assert remembered_error("a" * 64, counting(RenderError(0.2, 3), calls)) == RenderError(0.2, 3)
    assert len(calls) == 3
    for stored in (tmp_path / "cache" / "precision").iterdir():
        stored.write_text("{", encoding="utf-8")  # a torn or foreign file: measured again, never an error
    assert remembered_error("a" * 64, counting(RenderError(0.4, 1), calls)) == RenderError(0.4, 1)


def test_an_unwritable_cache_only_means_measuring_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(files.CACHE_ENV, str(blocker))
    calls: list[RenderError] = []
    for _ in range(2):
        assert remembered_error("a" * 64, counting(RenderError(0.3, 2), calls)) == RenderError(0.3, 2)
    assert len(calls) == 2


def test_a_model_is_measured_once_per_weights_across_loads(tiny_model_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(precision_module, "native_bf16", lambda: True)
    measured: list[str] = []
    real_measure = Generator.measure_bf16_error

    def measure(self: Generator) -> RenderError:
        measured.append(self.name)
        return real_measure(self)

    monkeypatch.setattr(Generator, "measure_bf16_error", measure)
    first, second = Generator.load(tiny_model_dir), Generator.load(tiny_model_dir)
    assert first.precision_choice == second.precision_choice and len(measured) == 1
    changed = Generator.load(tiny_model_dir)
    with torch.no_grad():
        next(changed.decoder.parameters()).add_(1e-3)
    assert state_digest(changed.decoder) != state_digest(first.decoder)
    assert changed.precision_choice.error is not None and len(measured) == 2

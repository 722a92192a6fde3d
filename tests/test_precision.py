"""Render precision: a reduced one (bf16, fp16) only where the CPU runs it natively, the model's frames stay within the
bound and it is faster than float32."""

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
    MIN_SPEEDUP,
    REDUCED,
    ErrorBound,
    RenderError,
    Trial,
    choose_precision,
    remembered_trial,
    render_context,
    render_error,
)


def test_render_error_counts_grey_levels_without_wrapping() -> None:
    exact = np.array([[0, 255, 10, 10]], dtype=np.uint8)
    rounded = np.array([[3, 250, 10, 10]], dtype=np.uint8)  # uint8 subtraction would wrap 0 - 3 to 253
    assert render_error(exact, rounded) == RenderError(mean=2.0, largest=5)


def natives(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Pretend this CPU runs exactly the reduced precisions ``names`` natively."""
    monkeypatch.setattr(precision_module, "native", lambda precision: precision in names)


def trials(**by_precision: Trial):  # type: ignore[no-untyped-def]
    """A trial function that answers from ``by_precision`` and records what it was asked."""
    asked: list[str] = []

    def trial(precision: str) -> Trial:
        asked.append(precision)
        return by_precision[precision]
    return trial, asked


FAITHFUL, COARSE = RenderError(0.5, 4), RenderError(0.2, 5)


def test_auto_takes_a_reduced_precision_only_where_native_within_the_bound_and_faster(
        monkeypatch: pytest.MonkeyPatch) -> None:
    natives(monkeypatch)
    trial, asked = trials(bf16=Trial(FAITHFUL, 3.0), fp16=Trial(FAITHFUL, 3.0))
    nothing = choose_precision(trial)
    assert nothing.precision == "fp32" and not asked and "no reduced precision natively" in nothing.reason
    natives(monkeypatch, "bf16")
    assert choose_precision(trial).precision == "bf16" and asked == ["bf16"]  # fp16 is emulated: not tried
    too_far = choose_precision(trials(bf16=Trial(COARSE, 3.0))[0])
    assert too_far.precision == "fp32" and "outside the bound" in too_far.reason
    assert choose_precision(trials(bf16=Trial(RenderError(0.6, 1), 3.0))[0],
                            ErrorBound(mean=0.5, largest=4)).precision == "fp32"
    slow = choose_precision(trials(bf16=Trial(FAITHFUL, MIN_SPEEDUP - 0.01))[0])
    assert slow.precision == "fp32" and "within the bound" in slow.reason and "1.09x" in slow.reason
    natives(monkeypatch, "bf16", "fp16")
    assert choose_precision(trials(bf16=Trial(COARSE, 4.0), fp16=Trial(FAITHFUL, 2.0))[0]).precision == "fp16"
    fastest = choose_precision(trials(bf16=Trial(FAITHFUL, 4.0), fp16=Trial(FAITHFUL, 2.0))[0])
    assert fastest.precision == "bf16" and fastest.trials is not None and set(fastest.trials) == {"bf16", "fp16"}


def test_an_unknown_precision_is_refused_in_one_line() -> None:
    with pytest.raises(MuybridgeError, match="precision 'fp8': choose auto, fp32, bf16, fp16"):
        Generator.load(precision="fp8")


def test_fp16_is_faithful_and_bf16_is_not_on_the_bundled_model(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled model's frames with reduced-precision convolutions, measured: bf16 (8 mantissa bits) moves pixels
    by mean 0.4-0.5 and largest 10 grey levels with styles, demodulation, biases and RGB layers kept in float32
    (everything under autocast: mean 1.4); fp16 (11 bits) by mean 0.07, largest 2, within the bound. The rounding is
    the precision's, native or emulated; on a CPU that runs both natively and fast, auto takes fp16."""
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    generator = Generator.load(precision="fp32")
    errors = {precision: generator.trial_precision(precision, rounds=1).error for precision in REDUCED}
    assert 0 < errors["bf16"].mean <= ERROR_BOUND.mean and errors["bf16"].largest > ERROR_BOUND.largest
    assert ERROR_BOUND.holds(errors["fp16"]) and 0 < errors["fp16"].mean < errors["bf16"].mean / 3
    assert generator.precision_choice.precision == "fp32"  # requested: never changed behind the caller's back

    natives(monkeypatch, *REDUCED)
    monkeypatch.setattr(Generator, "trial_precision", lambda self, precision: Trial(errors[precision], 2.0))
    auto = Generator.load()
    assert auto.precision_choice.precision == "fp16"
    assert not np.array_equal(auto.generate("cat", [3, 4]), generator.generate("cat", [3, 4]))


def test_render_context_rounds_the_convolutions_to_the_precision_asked() -> None:
    x, w = torch.randn(1, 4, 5, 5), torch.randn(4, 4, 3, 3)
    for precision, dtype in {"fp32": torch.float32, **REDUCED}.items():
        with render_context(precision):
            assert torch.nn.functional.conv2d(x, w).dtype == dtype


def counting(result: Trial, calls: list[Trial]) -> Callable[[], Trial]:
    """A measurement that returns ``result`` and records that it ran."""
    def measure() -> Trial:
        calls.append(result)
        return result
    return measure


def test_a_trial_is_remembered_for_the_same_weights_precision_and_cpu(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    calls: list[Trial] = []
    first, other = Trial(RenderError(0.3, 2), 2.5), Trial(RenderError(9.0, 99), 0.5)
    assert remembered_trial("a" * 64, "bf16", counting(first, calls)) == first
    assert remembered_trial("a" * 64, "bf16", counting(other, calls)) == first
    assert len(calls) == 1
    assert remembered_trial("b" * 64, "bf16", counting(other, calls)) == other  # other weights
    assert remembered_trial("a" * 64, "fp16", counting(other, calls)) == other  # another precision
    monkeypatch.setattr(precision_module, "cpu_description", lambda: "another CPU (avx2)")
    assert remembered_trial("a" * 64, "bf16", counting(other, calls)) == other
    assert len(calls) == 4
    for stored in (tmp_path / "cache" / "precision").iterdir():
        stored.write_text("{", encoding="utf-8")  # a torn or foreign file: measured again, never an error
    assert remembered_trial("a" * 64, "bf16", counting(first, calls)) == first and len(calls) == 5


def test_an_unwritable_cache_only_means_measuring_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(files.CACHE_ENV, str(blocker))
    calls: list[Trial] = []
    for _ in range(2):
        assert remembered_trial("a" * 64, "bf16", counting(Trial(RenderError(0.3, 2), 2.0), calls)).speedup == 2.0
    assert len(calls) == 2


def test_a_model_is_tried_once_per_weights_and_precision_across_loads(tiny_model_dir: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path / "cache"))
    natives(monkeypatch, *REDUCED)
    tried: list[str] = []
    real_trial = Generator.trial_precision

    def trial(self: Generator, precision: str) -> Trial:
        tried.append(precision)
        result = real_trial(self, precision)
        assert result.speedup > 0 and 0 <= result.error.mean <= result.error.largest <= 255
        return result

    monkeypatch.setattr(Generator, "trial_precision", trial)
    first, second = Generator.load(tiny_model_dir), Generator.load(tiny_model_dir)
    assert first.precision_choice == second.precision_choice and sorted(tried) == sorted(REDUCED)
    changed = Generator.load(tiny_model_dir)
    with torch.no_grad():
        next(changed.decoder.parameters()).add_(1e-3)
    assert state_digest(changed.decoder) != state_digest(first.decoder)
    assert changed.precision_choice.trials is not None and len(tried) == 2 * len(REDUCED)


def test_trying_a_precision_that_is_not_reduced_is_refused(tiny_model_dir: Path) -> None:
    with pytest.raises(MuybridgeError, match="precision 'fp32' is not a reduced one: try bf16, fp16"):
        Generator.load(tiny_model_dir).trial_precision("fp32")


def test_training_takes_bf16_where_rendering_calls_it_native(monkeypatch: pytest.MonkeyPatch) -> None:
    from muybridge.training.config import resolve_config

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for native_here, expected in ((True, "bf16"), (False, "fp32")):
        natives(monkeypatch, *(["bf16"] if native_here else []))
        assert resolve_config(overrides={"precision": "auto"}).precision == expected

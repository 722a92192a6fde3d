"""``muybridge tune``: a hyper-parameter search with Optuna (seeded TPE), scored by held-out KID.

Every trial trains a fresh run in a temporary folder for the same CPU time (``cpu_minutes`` of
:func:`~muybridge.training.session.start_or_resume`, so trials compare fairly on a shared machine), exports it
and scores it with :func:`~muybridge.metrics.evaluation.quick_kid`. Trial 0 is always the architecture's default
configuration (plus the caller's base settings), so the result says whether tuning beat the default.

The search space, each range built around the default so that the default is one of its points:
``lr_g``, ``lr_d`` (log-uniform, default /4 .. x4), ``betas`` (beta1 in {0, 0.5}, beta2 in
{0.9, 0.99, 0.999}), ``r1_gamma`` (log-uniform, default /10 .. x10; for an architecture without R1, R1 on or
off and then 1e-3 .. 1), ``augment`` (any subset of the registered augmentations) and the architecture's own
parameters, as its ``search_space`` declares them (gallop: ``channel_base`` in {512, 1024, 2048}; dcgan: ``ngf``,
``ndf`` in {32, 64, 128}).
"""

from __future__ import annotations

import itertools
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from muybridge.data import open_dataset
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_text
from muybridge.generator import Generator
from muybridge.metrics.evaluation import quick_kid
from muybridge.models import get_architecture
from muybridge.progress import Progress, report
from muybridge.training.augment import AUGMENTATIONS
from muybridge.training.config import TrainConfig, at_resolution, resolve_config
from muybridge.training.export import export_run
from muybridge.training.session import start_or_resume

BETA1, BETA2 = (0.0, 0.5), (0.9, 0.99, 0.999)
LR_SPAN, R1_SPAN = 4.0, 10.0
R1_RANGE_WITHOUT_DEFAULT = (1e-3, 1.0)


@dataclass
class TrialRecord:
    number: int
    settings: dict[str, Any]  # the TrainConfig values this trial set (the tuned keys only)
    kid: float | None  # None when training failed (``error`` says why)
    kimg: float
    error: str | None = None


@dataclass
class TuneResult:
    trials: list[TrialRecord]
    base: dict[str, Any]  # the caller's base settings, architecture included

    @property
    def default(self) -> TrialRecord:
        return self.trials[0]

    @property
    def best(self) -> TrialRecord:
        scored = [t for t in self.trials if t.kid is not None]
        if not scored:
            raise MuybridgeError("every tuning trial failed; see the trials table for the reasons")
        return min(scored, key=lambda t: (t.kid, t.number))

    @property
    def beat_default(self) -> bool:
        default_kid = self.default.kid
        return self.best.number != 0 and (default_kid is None or self.best.kid < default_kid)  # type: ignore[operator]

    def best_config(self) -> dict[str, Any]:
        """The YAML content: the base settings with the best trial's values on top."""
        return merge_settings(self.base, self.best.settings)


def subset_name(names: list[str] | tuple[str, ...]) -> str:
    return "+".join(names) if names else "none"


def subset_names(name: str) -> list[str]:
    return [] if name == "none" else name.split("+")


def augment_choices(default: list[str]) -> list[str]:
    """Every subset of the registered augmentations (in registration order), plus the default's own spelling."""
    known = list(AUGMENTATIONS)
    subsets = [subset_name(list(c)) for r in range(len(known) + 1) for c in itertools.combinations(known, r)]
    own = subset_name(default)
    return subsets if own in subsets else [*subsets, own]


def with_default(choices: tuple[Any, ...], default: Any) -> list[Any]:
    return sorted({*choices, default})


def default_point(config: TrainConfig) -> dict[str, Any]:
    """The Optuna parameters that reproduce ``config`` (trial 0)."""
    point: dict[str, Any] = {"lr_g": config.lr_g, "lr_d": config.lr_d, "beta1": config.betas[0],
                             "beta2": config.betas[1], "augment": subset_name(config.augment)}
    if base_has_r1(config):
        point["r1_gamma"] = config.r1_gamma
    else:
        point["use_r1"] = False
    for name in architecture_space(config):
        point[name] = config.params[name]
    return point


def architecture_space(config: TrainConfig) -> dict[str, tuple[Any, ...]]:
    """The architecture's own parameters to search, as it declares them (``Architecture.search_space``)."""
    return get_architecture(config.architecture).search_space


def base_has_r1(config: TrainConfig) -> bool:
    return config.r1_gamma > 0


def suggest(trial: optuna.Trial, default: TrainConfig) -> dict[str, Any]:
    """Sample one trial's settings (TrainConfig keys) from the space built around ``default``."""
    settings: dict[str, Any] = {
        "lr_g": trial.suggest_float("lr_g", default.lr_g / LR_SPAN, default.lr_g * LR_SPAN, log=True),
        "lr_d": trial.suggest_float("lr_d", default.lr_d / LR_SPAN, default.lr_d * LR_SPAN, log=True),
        "betas": [trial.suggest_categorical("beta1", with_default(BETA1, default.betas[0])),
                  trial.suggest_categorical("beta2", with_default(BETA2, default.betas[1]))],
        "augment": subset_names(trial.suggest_categorical("augment", augment_choices(default.augment))),
    }
    if base_has_r1(default):
        settings["r1_gamma"] = trial.suggest_float("r1_gamma", default.r1_gamma / R1_SPAN,
                                                   default.r1_gamma * R1_SPAN, log=True)
    elif trial.suggest_categorical("use_r1", [False, True]):
        settings["r1_gamma"] = trial.suggest_float("r1_gamma", *R1_RANGE_WITHOUT_DEFAULT, log=True)
    else:
        settings["r1_gamma"] = 0.0
    widths = {name: trial.suggest_categorical(name, with_default(choices, default.params[name]))
              for name, choices in architecture_space(default).items()}
    if widths:
        settings["params"] = widths
    return settings


def merge_settings(base: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **settings}
    if "params" in settings:
        merged["params"] = {**base.get("params", {}), **settings["params"]}
    return merged


def run_trial(data_dir: Path, dataset: Any, settings: dict[str, Any], cpu_minutes: float, kid_n: int,
              seed: int, progress: Progress | None) -> tuple[float, float]:
    """Train a fresh run for ``cpu_minutes`` in a temporary folder and score it; returns (KID, kimg).

    A trial stopped early (SIGTERM, Ctrl-C) stops the whole search: its score would not be comparable.
    """
    with tempfile.TemporaryDirectory(prefix="muybridge-tune-") as tmp:
        result = start_or_resume(data_dir, Path(tmp) / "run", settings=settings, cpu_minutes=cpu_minutes,
                                 progress=progress)
        if result.stopped_by != "length":
            raise KeyboardInterrupt
        generator = Generator.load(export_run(Path(tmp) / "run", Path(tmp) / "model"))
        return float(quick_kid(generator, dataset, n=kid_n, seed=seed)), result.kimg


def trial_progress(progress: Progress | None, number: int, trials: int, stage: str) -> Progress:
    """Training progress inside trial ``number``, reported on the bar over trials."""

    def update(done: int, total: int | None, /, **info: float | str) -> None:
        report(progress, number, trials, stage=stage, kimg=float(info.get("kimg", 0.0)))

    return update


def tune(data_dir: str | Path, *, trials: int, cpu_minutes_per_trial: float, arch: str | None = None,
         base: dict[str, Any] | None = None, seed: int = 0, kid_n: int = 500,
         progress: Progress | None = None) -> TuneResult:
    """Search ``trials`` configurations (trial 0: the default) and return every trial's KID.

    ``base`` holds training settings (as in a ``--config`` YAML) that every trial starts from; ``arch``
    overrides its architecture. Progress reports count finished trials.
    """
    data_dir = Path(data_dir)
    if trials < 1:
        raise MuybridgeError(f"--trials must be at least 1, got {trials}")
    if not cpu_minutes_per_trial > 0:
        raise MuybridgeError(f"--minutes-per-trial must be positive, got {cpu_minutes_per_trial}")
    dataset = open_dataset(data_dir)
    if dataset.count("heldout") == 0:
        raise MuybridgeError(f"{data_dir}: has no held-out images to score trials on (prepare it with --holdout)")
    base_values = {**(base or {})}
    base_values["architecture"] = arch or base_values.get("architecture") or TrainConfig.architecture
    default = at_resolution(resolve_config(base_values), dataset.resolution)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(default_point(default))
    records: list[TrialRecord] = []
    for number in range(trials):
        trial = study.ask()
        settings = suggest(trial, default)
        stage = f"trial {number + 1}/{trials}"
        try:
            kid, kimg = run_trial(data_dir, dataset, merge_settings(base_values, settings), cpu_minutes_per_trial,
                                  kid_n, seed,
                                  trial_progress(progress, number, trials, stage))
        except MuybridgeError as exc:  # a diverged trial is a result, not the end of the search
            records.append(TrialRecord(number, settings, None, 0.0, str(exc)))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            records.append(TrialRecord(number, settings, kid, kimg))
            study.tell(trial, kid if math.isfinite(kid) else float("inf"))
        best = min((r.kid for r in records if r.kid is not None), default=float("nan"))
        report(progress, number + 1, trials, stage=stage, best_kid=best)
    return TuneResult(records, base_values)


def write_best_config(result: TuneResult, path: str | Path) -> Path:
    """Write the best configuration as a ``muybridge train --config`` YAML (atomically)."""
    best = result.best
    header = (f"# muybridge tune: best of {len(result.trials)} trials (trial {best.number}, "
              f"KID {best.kid:.5f}; default KID {describe_kid(result.default.kid)})\n")
    text = header + yaml.safe_dump(result.best_config(), sort_keys=False)
    atomic_write_text(path, text)
    return Path(path)


TABLE_COLUMNS = ("trial", "KID x1e3", "kimg", "lr_g", "lr_d", "betas", "r1_gamma", "augment", "width", "note")


def table_rows(result: TuneResult) -> list[list[str]]:
    """One row of text per trial, in :data:`TABLE_COLUMNS` order (the CLI renders them)."""
    best = result.best.number if any(t.kid is not None for t in result.trials) else None
    rows = []
    for trial in result.trials:
        s = trial.settings
        note = ", ".join(filter(None, ["default" if trial.number == 0 else "",
                                       "best" if trial.number == best else "", trial.error or ""]))
        rows.append([str(trial.number), "-" if trial.kid is None else f"{trial.kid * 1e3:.2f}", f"{trial.kimg:.1f}",
                     f"{s['lr_g']:.2e}", f"{s['lr_d']:.2e}", "/".join(f"{b:g}" for b in s["betas"]),
                     f"{s['r1_gamma']:.3g}", subset_name(s["augment"]),
                     " ".join(f"{k}={v}" for k, v in s.get("params", {}).items()) or "-", note])
    return rows


def describe_kid(kid: float | None) -> str:
    return "failed" if kid is None else f"{kid:.5f}"


def verdict(result: TuneResult) -> str:
    """One line: did tuning beat the default?"""
    best, default = result.best, result.default
    if result.beat_default:
        return (f"tuning beat the default: KID {best.kid:.5f} (trial {best.number}) vs "
                f"{describe_kid(default.kid)} (default)")
    return f"tuning did not beat the default (KID {describe_kid(default.kid)}; best other trial " + (
        f"{min(t.kid for t in result.trials[1:] if t.kid is not None):.5f})"
        if any(t.kid is not None for t in result.trials[1:]) else "none scored)")

"""Training configuration: generic defaults < the architecture's tuned defaults < a YAML file < CLI flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from muybridge.errors import MuybridgeError
from muybridge.models import get_architecture


@dataclass
class TrainConfig:
    architecture: str = "gallop"
    params: dict[str, Any] = field(default_factory=dict)
    latent_dim: int = 128
    loss: str = "nonsaturating"
    lr_g: float = 2e-3
    lr_d: float = 2e-3
    betas: tuple[float, float] = (0.0, 0.99)
    batch: int = 32
    #: Show every class as often as the largest one (a smaller class's photos repeat more often), so a class
    #: with fewer photos is not also drawn, and judged, less often; off: each photo once per epoch.
    class_balance: bool = False
    augment: list[str] = field(default_factory=lambda: ["color", "translation", "cutout"])
    #: ADA: the mean sign of D's logits on reals the augmentation probability steers to (StyleGAN2-ADA: 0.6);
    #: 0: off, every augmentation reaches every image.
    ada_target: float = 0.0
    ada_kimg: float = 100.0  # ADA: thousands of images for the probability to go from 0 to 1
    #: Probability that a fake is rendered in a random pose (and a real shown to D warped alike), so the layers
    #: after the decoder's pose warp learn to render warped features; 0: off.
    pose_p: float = 0.0
    pose_strength: float = 1.0  # scales the pose ranges (models/pose.py TRAINING_RANGES)
    #: A run grown from a lower resolution (``--init-from``) blends its new layers in over this many kimg
    #: (ProGAN's fade-in), where its architecture can; 0: the grown networks alone from the first step.
    fade_kimg: float = 40.0
    r1_gamma: float = 0.05
    #: R2: the same penalty on fakes (R3GAN's pairing with the relativistic loss); 0: off.
    r2_gamma: float = 0.0
    r1_every: int = 16  # steps between the lazy R1 and R2 penalties
    ema_kimg: float = 5.0
    ema_rampup: float = 0.05
    encoder_every: int = 4
    encoder_lr: float = 1e-3
    encoder_pixel_weight: float = 1.0
    precision: str = "fp32"  # fp32, bf16 (autocast), or auto: bf16 where the hardware runs it natively
    seed: int = 0
    snapshot_kimg: float = 5.0
    sample_kimg: float = 5.0
    tick_kimg: float = 1.0
    keep_checkpoints: int = 3
    eval_kimg: float = 0.0
    eval_n: int = 500
    collapse_steps: int = 200
    max_rollbacks: int = 3

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data


FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def _check_keys(values: dict[str, Any], source: str) -> None:
    unknown = sorted(set(values) - FIELDS)
    if unknown:
        raise MuybridgeError(
            f"{source}: unknown training setting {', '.join(unknown)}; known: {', '.join(sorted(FIELDS))}"
        )


def read_yaml_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MuybridgeError(f"{path}: config file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MuybridgeError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise MuybridgeError(f"{path}: expected a mapping of training settings, got {type(values).__name__}")
    _check_keys(values, str(path))
    return values


def resolve_config(file_values: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Merge the layers; ``overrides`` entries that are ``None`` are ignored (flags the user did not give)."""
    file_values = dict(file_values or {})
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    _check_keys(file_values, "config")
    _check_keys(overrides, "command line")
    arch_name = overrides.get("architecture") or file_values.get("architecture") or TrainConfig.architecture
    arch = get_architecture(arch_name)
    merged: dict[str, Any] = {**arch.training_defaults, **file_values, **overrides, "architecture": arch_name}
    if "betas" in merged:
        merged["betas"] = tuple(float(b) for b in merged["betas"])
    # Only the parameters given: the rest depend on the dataset's resolution (loop.model_config fills them in).
    merged["params"] = dict(merged.get("params", {}))
    config = TrainConfig(**merged)
    validate(config)
    if config.precision == "auto":
        config.precision = "bf16" if native_bf16() else "fp32"
    return config


def at_resolution(config: TrainConfig, resolution: int) -> TrainConfig:
    """``config`` with every architecture parameter set: the given ones, and the architecture's defaults for
    a model of ``resolution`` (some sizes follow the picture's: ``Architecture.defaults_for``)."""
    defaults = get_architecture(config.architecture).defaults_for(resolution)
    return dataclasses.replace(config, params={**defaults, **config.params})


def native_bf16() -> bool:
    """Whether bf16 matrix work runs natively here: a CUDA GPU with bf16, or a CPU with AMX or AVX512-BF16
    (:func:`muybridge.precision.native`)."""
    import torch

    from muybridge.precision import native

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    return native("bf16")


#: Settings that change how a run is watched and saved, never the training arithmetic: ``--resume`` may change them.
RESUMABLE_OVERRIDES = {"snapshot_kimg", "sample_kimg", "tick_kimg", "keep_checkpoints", "eval_kimg", "eval_n"}


def resume_config(stored: dict[str, Any], overrides: dict[str, Any]) -> TrainConfig:
    """The stored config of a run with the given overrides, which must not change the training arithmetic."""
    given = {k: v for k, v in overrides.items() if v is not None}
    _check_keys(given, "command line")
    current = resolve_config(stored)
    changed = sorted(k for k, v in given.items() if getattr(current, k) != v and k not in RESUMABLE_OVERRIDES)
    if changed:
        raise MuybridgeError(
            f"cannot change {', '.join(changed)} when resuming (it would not continue the same run); "
            f"resumable changes: {', '.join(sorted(RESUMABLE_OVERRIDES))}"
        )
    return dataclasses.replace(current, **{k: v for k, v in given.items() if k in RESUMABLE_OVERRIDES})


def validate(config: TrainConfig) -> None:
    arch = get_architecture(config.architecture)(64, 1, config.latent_dim, config.params)  # rejects unknown params
    if config.fade_kimg < 0:
        raise MuybridgeError(f"fade_kimg must be at least 0, got {config.fade_kimg}")
    if not isinstance(config.class_balance, bool):
        raise MuybridgeError(f"class_balance must be true or false, got {config.class_balance!r}")
    if not 0.0 <= config.pose_p <= 1.0 or config.pose_strength < 0:
        raise MuybridgeError(f"pose_p must be in [0, 1] and pose_strength at least 0, got {config.pose_p} "
                             f"and {config.pose_strength}")
    if config.pose_p > 0 and not arch.build_decoder().takes_pose:
        raise MuybridgeError(f"pose_p: the {config.architecture} decoder takes no pose; set pose_p 0")
    if config.r1_gamma < 0 or config.r2_gamma < 0:
        raise MuybridgeError(f"r1_gamma and r2_gamma must be at least 0, got {config.r1_gamma} and {config.r2_gamma}")
    if not 0.0 <= config.ada_target < 1.0 or config.ada_kimg <= 0:
        raise MuybridgeError(f"ada_target must be in [0, 1) and ada_kimg above 0, got {config.ada_target} and "
                             f"{config.ada_kimg}")
    if config.r1_every < 1:
        raise MuybridgeError(f"r1_every must be at least 1, got {config.r1_every}")
    if config.batch < 1:
        raise MuybridgeError(f"batch must be at least 1, got {config.batch}")
    if config.precision not in ("fp32", "bf16", "auto"):
        raise MuybridgeError(f"precision must be fp32, bf16 or auto, got {config.precision!r}")
    for name in ("lr_g", "lr_d", "encoder_lr"):
        if getattr(config, name) <= 0:
            raise MuybridgeError(f"{name} must be positive, got {getattr(config, name)}")
    if config.snapshot_kimg <= 0 or config.tick_kimg <= 0:
        raise MuybridgeError("snapshot_kimg and tick_kimg must be positive")
    if config.keep_checkpoints < 1:
        raise MuybridgeError("keep_checkpoints must be at least 1")

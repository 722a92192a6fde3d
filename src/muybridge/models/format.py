"""The model folder: ``config.json`` + ``model.safetensors`` + ``model_card.md``; never pickle.

``config.json`` describes the model completely (architecture and its parameters, resolution, classes,
latent size, training summary: :mod:`muybridge.models.config`), so the networks are rebuilt from it alone
and the weights are loaded as plain tensors. Anything that is not such a folder is refused with a one-line error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_dir, atomic_path, atomic_write_json, atomic_write_text
from muybridge.models.config import MODEL_FORMAT, ModelConfig, as_model_config
from muybridge.zoo import CARD_NAME as CARD_NAME  # re-exported: a model folder's file names live with the zoo
from muybridge.zoo import CONFIG_NAME as CONFIG_NAME
from muybridge.zoo import WEIGHTS_NAME as WEIGHTS_NAME


def read_config(folder: str | Path) -> ModelConfig:
    """Read and check ``config.json`` of a model folder."""
    path = Path(folder) / CONFIG_NAME
    if not Path(folder).is_dir():
        raise MuybridgeError(f"{folder}: not a model folder (no such directory)")
    if not path.is_file():
        raise MuybridgeError(f"{folder}: not a model folder (no {CONFIG_NAME})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MuybridgeError(f"{path}: not valid JSON ({exc})") from None
    return ModelConfig.from_dict(data, path)


def read_model_config(folder: str | Path) -> dict[str, Any]:
    """``config.json`` of a model folder as a checked dict, for the training code that still indexes it."""
    return read_config(folder).to_dict()


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file; a truncated or foreign file gives a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise MuybridgeError(f"{path}: weights file is missing")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MuybridgeError(f"{path}: not a readable safetensors file (truncated or foreign: {reason})") from None


def load_state(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, source: Path, arch: str) -> None:
    """Load the tensors under ``prefix`` into ``module``, refusing any mismatch in names or shapes."""
    state = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing (e.g. {prefix}{missing[0]})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected (e.g. {prefix}{unexpected[0]})")
        if wrong_shape:
            detail.append(f"{len(wrong_shape)} of another shape (e.g. {prefix}{wrong_shape[0]})")
        raise MuybridgeError(
            f"{source}: weights do not match architecture '{arch}' as configured: {'; '.join(detail)}"
        )
    module.load_state_dict(state, strict=True)


def state_digest(module: nn.Module) -> str:
    """sha256 of a network's tensors (names, dtypes, shapes and bytes): the same digest means the same weights,
    wherever they were loaded from."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def prefixed(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}{key}": value.detach().contiguous().clone() for key, value in module.state_dict().items()}


def save_model_folder(
    folder: str | Path,
    config: ModelConfig | Mapping[str, Any],
    modules: dict[str, nn.Module],
    card: str,
    extra_files: dict[str, str] | None = None,
) -> Path:
    """Write a complete model folder atomically. ``modules`` maps a prefix ("decoder", "encoder") to a network;
    ``config`` may be a dict as training builds it (``config.json`` without its ``format`` header)."""
    model = as_model_config(config)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update(prefixed(f"{name}.", module))
    metadata = {"format": MODEL_FORMAT, "architecture": model.architecture}
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        atomic_write_json(tmp / CONFIG_NAME, model.to_dict())
        with atomic_path(tmp / WEIGHTS_NAME) as weights:
            save_file(tensors, str(weights), metadata=metadata)
        atomic_write_text(tmp / CARD_NAME, card)
        for name, text in (extra_files or {}).items():
            atomic_write_text(tmp / name, text)
    return folder

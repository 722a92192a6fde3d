"""Training checkpoints: one safetensors file per snapshot holding every tensor of the training state
(G, G_ema, D, E, optimizer moments, RNG states) with the rest of the state as JSON in its metadata.

Written to a temporary name and renamed, so ``kill -9`` during a save never corrupts the latest one;
the oldest are pruned to keep the last k. Nothing is pickled, so loading runs no code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path
from muybridge.models.format import read_weights

CHECKPOINT_FORMAT = "muybridge-checkpoint"
NAME = re.compile(r"^ckpt-(\d{9})\.safetensors$")


def checkpoint_name(step: int) -> str:
    return f"ckpt-{step:09d}.safetensors"


def optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    state = optimizer.state_dict()
    tensors = {
        f"{prefix}.{index}.{key}": value.detach().clone().contiguous()
        for index, slots in state["state"].items()
        for key, value in slots.items()
        if isinstance(value, torch.Tensor)
    }
    return tensors, state["param_groups"]


#: Param-group keys that say how an optimizer steps, not where it stands: the running code's choice wins over a
#: checkpoint's (a run saved before Adam was fused resumes fused).
IMPLEMENTATION_KEYS = ("foreach", "fused", "capturable", "differentiable")


def restore_optimizer(optimizer: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor],
                      param_groups: list) -> None:
    param_groups = [{**saved, **{key: current[key] for key in IMPLEMENTATION_KEYS if key in current}}
                    for saved, current in zip(param_groups, optimizer.param_groups, strict=False)]
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            index, slot = key[len(prefix) + 1 :].split(".", 1)
            slots.setdefault(int(index), {})[slot] = value
    optimizer.load_state_dict({"state": slots, "param_groups": param_groups})


def save_checkpoint(path: Path, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    rng_states: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update({f"{name}.{k}": v.detach().clone().contiguous() for k, v in module.state_dict().items()})
    groups = {}
    for name, optimizer in optimizers.items():
        opt_tensors, groups[name] = optimizer_tensors(f"optim_{name}", optimizer)
        tensors.update(opt_tensors)
    tensors.update({f"rng.{name}": value.clone() for name, value in rng_states.items()})
    metadata = {"format": CHECKPOINT_FORMAT, "state": json.dumps({**state, "param_groups": groups})}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a checkpoint's tensors and state; a truncated or foreign file gives a one-line error."""
    tensors = read_weights(path)
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != CHECKPOINT_FORMAT or "state" not in metadata:
        raise MuybridgeError(f"{path}: not a muybridge training checkpoint")
    return tensors, json.loads(metadata["state"])


def module_state(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = name + "."
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if NAME.match(p.name))


def prune_checkpoints(folder: Path, keep: int) -> None:
    for old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)


def remove_stale_temporaries(folder: Path) -> None:
    """Drop temporary files a killed save left behind (they are never read)."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

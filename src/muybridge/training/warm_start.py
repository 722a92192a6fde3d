"""Starting a run from networks trained before (``muybridge train --init-from``): fine-tuning.

The source is a checkpoint of another run, or a model folder (a bundled one too), whose ``model.safetensors``
holds the discriminator beside the generator and encoder. Its classes are matched to the new dataset's by
name: a class both know keeps what it learned, a new class starts at the mean of the source's classes, and a
class the dataset lacks is dropped. Which tensor axes count classes is found by building the networks with one
class more and comparing shapes, so every architecture (a user's too) gets the same treatment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from muybridge.errors import MuybridgeError
from muybridge.generator import resolve_model_path
from muybridge.models import build_networks
from muybridge.models.format import CONFIG_NAME, WEIGHTS_NAME, read_model_config, read_weights
from muybridge.training import checkpoint as ckpt

#: The trainer's networks and the prefixes a model folder stores them under (the generator is the EMA one).
MODEL_PREFIXES = {"G": "decoder.", "G_ema": "decoder.", "D": "discriminator.", "E": "encoder."}


@dataclass
class WarmStart:
    """Where a run starts from: a state dict per trainer network (``None``: not in the source) and its classes."""

    path: Path
    states: dict[str, dict[str, torch.Tensor] | None]
    classes: list[str] | None


def resolve_source(text: str | Path) -> Path:
    """A checkpoint file, a run folder (its latest checkpoint), a model folder, or a bundled model's name."""
    from muybridge.training.export import find_checkpoint
    from muybridge.training.loop import RUN_FILE

    path = Path(text)
    if path.is_file():
        return path
    if (path / RUN_FILE).is_file():
        return find_checkpoint(path, "latest")
    if path.is_dir() and not (path / CONFIG_NAME).is_file():
        raise MuybridgeError(f"{path}: neither a run folder ({RUN_FILE}) nor a model folder ({CONFIG_NAME})")
    try:
        return resolve_model_path(text)
    except MuybridgeError:
        raise MuybridgeError(f"{text}: no such checkpoint, run folder or model folder, and no bundled model of "
                             "that name") from None


def read_source(path: Path) -> WarmStart:
    """The networks and classes of a checkpoint file or a model folder (see :func:`resolve_source`)."""
    from muybridge.training.loop import RUN_FILE, read_run

    if path.is_dir():
        config = read_model_config(path)
        tensors = read_weights(path / WEIGHTS_NAME)
        states = {name: _strip(tensors, prefix) for name, prefix in MODEL_PREFIXES.items()}
        return WarmStart(path, states, list(config["classes"]))
    tensors, _ = ckpt.read_checkpoint(path)
    run_dir = path.parent.parent  # runs/NAME/checkpoints/FILE
    classes = read_run(run_dir)["dataset"]["classes"] if (run_dir / RUN_FILE).is_file() else None
    return WarmStart(path, {name: _strip(tensors, name + ".") for name in MODEL_PREFIXES}, classes)


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor] | None:
    state = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
    return state or None


def class_axes(model_config: dict[str, Any]) -> dict[str, dict[str, int]]:
    """For each trainer network, the tensors whose size follows the number of classes, and along which axis."""
    more = {**model_config, "classes": [*model_config["classes"], "\0probe"]}
    axes: dict[str, dict[str, int]] = {}
    for name, (one, other) in _networks_by_trainer_name(model_config, more).items():
        shapes = {key: value.shape for key, value in other.state_dict().items()}
        axes[name] = {key: next(i for i, (a, b) in enumerate(zip(value.shape, shapes[key], strict=True)) if a != b)
                      for key, value in one.state_dict().items() if value.shape != shapes[key]}
    return axes


def _networks_by_trainer_name(config: dict[str, Any], other: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    torch_state = torch.get_rng_state()  # building networks draws initial weights: leave the run's stream alone
    try:
        a, b = build_networks(config), build_networks(other)
    finally:
        torch.set_rng_state(torch_state)
    return {"G": (a.decoder, b.decoder), "G_ema": (a.decoder, b.decoder), "D": (a.discriminator, b.discriminator),
            "E": (a.encoder, b.encoder)}


def match_classes(state: dict[str, torch.Tensor], axes: dict[str, int], source: list[str],
                  target: list[str]) -> dict[str, torch.Tensor]:
    """Re-index the class axes of ``state`` from the ``source`` classes to the ``target`` ones, by name."""
    matched = dict(state)
    for key, axis in axes.items():
        if key not in state or state[key].shape[axis] != len(source):
            continue
        per_class = state[key].unbind(axis)
        mean = state[key].mean(axis)
        matched[key] = torch.stack([per_class[source.index(c)] if c in source else mean for c in target], axis)
    return matched

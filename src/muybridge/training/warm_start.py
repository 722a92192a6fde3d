"""Starting a run from networks trained before (``muybridge train --init-from``): fine-tuning.

The source is a checkpoint of another run, or a model folder (a bundled one too), whose ``model.safetensors``
holds the discriminator beside the generator and encoder. Its classes are matched to the new dataset's by
name: a class both know keeps what it learned, a new class starts at the mean of the source's classes, and a
class the dataset lacks is dropped. Which tensor axes count classes is found by building the networks with one
class more and comparing shapes, so every architecture (a user's too) gets the same treatment.

A source trained at a lower resolution is grown to the dataset's (progressive growing, as ProGAN and StyleGAN
did between resolutions) where its architecture says how (:meth:`Architecture.grown_state`): a 128-px model
starts from the bundled 64-px one instead of from nothing. A source of the same resolution whose levels are
narrower than the run's parameters ask is widened (:meth:`Architecture.widened_state`, Net2Net's widening), so a
wider model starts from the bundled one and first computes what it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from muybridge.errors import MuybridgeError
from muybridge.files import file_sha256
from muybridge.models import Architecture, build_networks, get_architecture
from muybridge.models.config import ModelConfig, as_model_config
from muybridge.models.format import CONFIG_NAME, WEIGHTS_NAME, read_config, read_weights
from muybridge.training import checkpoint as ckpt
from muybridge.training.run import RUN_FILE, RunFolder
from muybridge.zoo import resolve_model_path

State = dict[str, torch.Tensor]

#: The trainer's networks and the parts of :class:`~muybridge.models.Networks` they are built as, which are also
#: the prefixes a model folder stores them under (its decoder is the EMA generator: G and G_ema start from it).
TRAINER_PARTS = {"G": "decoder", "G_ema": "decoder", "D": "discriminator", "E": "encoder"}


@dataclass
class WarmStart:
    """Where a run starts from: a state dict per trainer network (``None``: not in the source) and its classes."""

    path: Path
    states: dict[str, State | None]
    classes: list[str] | None
    #: The resolution its networks were trained at (``None``: a checkpoint outside its run folder).
    resolution: int | None = None
    #: sha256 of the weights file, taken when it was read: a run records which bytes it started from.
    sha256: str = ""


def resolve_source(text: str | Path) -> Path:
    """A checkpoint file, a run folder (its latest checkpoint), a model folder, or a bundled model's name."""
    path = Path(text)
    if path.is_file():
        return path
    if RunFolder(path).exists():
        return RunFolder(path).find_checkpoint("latest")
    if path.is_dir() and not (path / CONFIG_NAME).is_file():
        raise MuybridgeError(f"{path}: neither a run folder ({RUN_FILE}) nor a model folder ({CONFIG_NAME})")
    try:
        return resolve_model_path(text)
    except MuybridgeError:
        raise MuybridgeError(f"{text}: no such checkpoint, run folder or model folder, and no bundled model of "
                             "that name") from None


def weights_file(path: Path) -> Path:
    """The file holding a resolved source's networks: the checkpoint itself, or a model folder's weights."""
    return path / WEIGHTS_NAME if path.is_dir() else path


def network_settings(path: Path) -> dict[str, Any]:
    """The training settings that shape the source's networks (architecture, its parameters, latent size), so a
    fine-tuning run builds networks that fit without being told; empty for a checkpoint outside its run folder."""
    run = RunFolder.of_checkpoint(path)
    if path.is_dir():
        model = read_config(path)
    elif run is not None:
        model = as_model_config(run.read()["model"])
    else:
        return {}
    # A grown run's checkpoint is continued as the grown model alone (read_source).
    return {"architecture": model.architecture, "params": faded_params(model.params), "latent_dim": model.latent_dim}


def faded_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A grown model's parameters once its new layers are fully blended in: the grown model alone, no fade layers."""
    return {**params, "fade_from": 0} if params.get("fade_from") else dict(params)


def faded_model(model: dict[str, Any], config: dict[str, Any], kimg: float, source: Path) -> dict[str, Any]:
    """A grown run's model config once its new layers are fully blended in (``fade_kimg`` reached): the grown
    model alone, without its fade layers. A checkpoint from before then is refused: it draws a blend that the
    model alone could not (exporting it, or starting another run from it, would change the picture)."""
    fade_from = model["params"].get("fade_from")
    if not fade_from:
        return model
    fade_kimg = float(config.get("fade_kimg", 0))
    if kimg < fade_kimg:
        raise MuybridgeError(f"{source.name}: at {kimg:g} kimg the run still fades in its new layers (until "
                             f"{fade_kimg:g} kimg); use a later checkpoint")
    return {**model, "params": faded_params(model["params"])}


def without_fade_layers(state: State, model: Mapping[str, Any]) -> State:
    """``state`` without a fading run's fade layers (see :func:`faded_model`)."""
    if not model["params"].get("fade_from"):
        return state
    return {key: value for key, value in state.items() if not key.startswith("fade_")}


def read_source(path: Path) -> WarmStart:
    """The networks and classes of a checkpoint file or a model folder (see :func:`resolve_source`)."""
    if path.is_dir():
        tensors = read_weights(weights_file(path))
        sha256 = file_sha256(weights_file(path))
        states = {name: _strip(tensors, part + ".") for name, part in TRAINER_PARTS.items()}
        model = read_config(path)
        return WarmStart(path, states, list(model.classes), model.resolution, sha256)
    tensors, state = ckpt.read_checkpoint(path)
    sha256 = file_sha256(path)
    run = RunFolder.of_checkpoint(path)
    record = run.read() if run is not None else None
    classes = record["dataset"]["classes"] if record is not None else None
    resolution = as_model_config(record["model"]).resolution if record is not None else None
    states = {name: _strip(tensors, name + ".") for name in TRAINER_PARTS}
    if record is not None:  # a grown run's checkpoint starts the new run as the grown model, its fade done
        faded_model(record["model"], record["config"], float(state["kimg"]), path)
        states = {name: None if part is None else without_fade_layers(part, record["model"])
                  for name, part in states.items()}
    return WarmStart(path, states, classes, resolution, sha256)


def _strip(tensors: State, prefix: str) -> State | None:
    state = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
    return state or None


def fit_states(source: WarmStart, model_config: ModelConfig | Mapping[str, Any]) -> dict[str, State | None]:
    """The source's state dicts with their classes matched to ``model_config``'s, checked against the networks
    it describes (names and shapes), so that a source that does not fit is refused before a run is created."""
    config = as_model_config(model_config)
    fresh, axes = _fresh_states_and_class_axes(config)
    classes = list(config.classes)
    states = {name: match_classes(state, axes[name], source.classes, classes)
              if state is not None and source.classes is not None and source.classes != classes else state
              for name, state in source.states.items()}
    growing = _growing_architecture(source, config, states, fresh)
    fitted: dict[str, State | None] = {}
    for name, state in states.items():
        if state is not None and growing is not None:
            state = _grow(growing, source, TRAINER_PARTS[name], state, fresh[name])
        if state is not None:
            _check_fits(state, {key: value.shape for key, value in fresh[name].items()}, source, name)
        fitted[name] = state
    return fitted


def _growing_architecture(source: WarmStart, config: ModelConfig, states: dict[str, State | None],
                          fresh: dict[str, State]) -> Architecture | None:
    """The architecture that lays the source's networks out at ``config``'s higher resolution, or at its wider
    levels (``None``: neither, the networks fit as they are or are refused by :func:`_check_fits`); a source at a
    higher resolution is refused in one line."""
    if source.resolution is None:
        return None
    if source.resolution > config.resolution:
        raise MuybridgeError(_other_resolution(source, config.resolution))
    if source.resolution == config.resolution and not _only_widths_differ(states, fresh):
        return None
    return get_architecture(config.architecture)(config.resolution, len(config.classes), config.latent_dim,
                                                 dict(config.params))


def _only_widths_differ(states: dict[str, State | None], fresh: dict[str, State]) -> bool:
    """Whether the source's networks have this run's tensors, some of them in other shapes."""
    present = {name: state for name, state in states.items() if state is not None}
    return all(state.keys() == fresh[name].keys() for name, state in present.items()) and any(
        tensor.shape != fresh[name][key].shape for name, state in present.items() for key, tensor in state.items())


def _grow(architecture: Architecture, source: WarmStart, part: str, state: State, fresh: State) -> State:
    """``state`` laid out for ``architecture``: grown to its higher resolution, or widened at the same one."""
    assert source.resolution is not None
    if source.resolution == architecture.resolution:
        widened = architecture.widened_state(part, state, fresh)
        if widened is None:
            raise MuybridgeError(f"{source.path}: its networks' widths differ from this run's (architecture "
                                 f"'{architecture.name}' cannot widen a model's levels)")
        return widened
    grown = architecture.grown_state(part, state, fresh, source.resolution)
    if grown is None:
        raise MuybridgeError(f"{_other_resolution(source, architecture.resolution)} (architecture "
                             f"'{architecture.name}' cannot grow a model to a higher resolution)")
    return grown


def _other_resolution(source: WarmStart, resolution: int) -> str:
    return (f"{source.path}: the model draws {source.resolution} px and the dataset is {resolution} px: prepare "
            f"the dataset with --size {source.resolution}")


def _check_fits(state: State, shapes: dict[str, torch.Size], source: WarmStart, name: str) -> None:
    missing = sorted(set(shapes) - set(state))
    unexpected = sorted(set(state) - set(shapes))
    other_shape = sorted(k for k in set(state) & set(shapes) if state[k].shape != shapes[k])
    if not (missing or unexpected or other_shape):
        return
    if other_shape:
        key = other_shape[0]
        detail = f"{name}.{key} is {tuple(state[key].shape)}, this run's is {tuple(shapes[key])}"
    else:
        detail = f"{name}.{(missing or unexpected)[0]} is {'missing' if missing else 'unexpected'}"
    hint = "; its classes are unknown (a checkpoint outside its run folder)" if source.classes is None else ""
    raise MuybridgeError(f"{source.path}: its networks do not fit this run's architecture and resolution "
                         f"({detail}){hint}")


def _fresh_states_and_class_axes(model_config: ModelConfig) -> tuple[dict[str, State], dict[str, dict[str, int]]]:
    """Per trainer network: its newly initialised state, and which of its tensors count classes along which
    axis (found by building the networks with one class more)."""
    more = replace(model_config, classes=(*model_config.classes, "\0probe"))
    torch_state = torch.get_rng_state()  # building networks draws initial weights: leave the run's stream alone
    try:
        built, bigger = build_networks(model_config), build_networks(more)
    finally:
        torch.set_rng_state(torch_state)
    fresh, axes = {}, {}
    for name, part in TRAINER_PARTS.items():
        fresh[name] = getattr(built, part).state_dict()
        one = {k: v.shape for k, v in fresh[name].items()}
        other = {k: v.shape for k, v in getattr(bigger, part).state_dict().items()}
        axes[name] = {k: next(i for i, (a, b) in enumerate(zip(one[k], other[k], strict=True)) if a != b)
                      for k in one if one[k] != other[k]}
    return fresh, axes


def match_classes(state: State, axes: dict[str, int], source: list[str], target: list[str]) -> State:
    """Re-index the class axes of ``state`` from the ``source`` classes to the ``target`` ones, by name."""
    matched = dict(state)
    for key, axis in axes.items():
        if key not in state or state[key].shape[axis] != len(source):
            continue
        per_class = state[key].unbind(axis)
        mean = state[key].mean(axis)
        matched[key] = torch.stack([per_class[source.index(c)] if c in source else mean for c in target], axis)
    return matched

"""The decoder as an ONNX graph, for game engines and browsers (Unity's Inference Engine, onnxruntime in Godot
or on the web).

Inputs: ``latents`` (N, latent_dim) float32, ``class_weights`` (N, classes) float32 (one-hot for a class, or a
mix summing to 1), ``truncation`` (1,) float32 and, in the pose graph, ``pose`` (N, 6) float32 (the head pose of
:mod:`muybridge.models.pose`: the motions). Output: ``rgb`` (N, 3, R, R) float32 in [0, 1]. The plain graph uses
opset 15 (what Unity's Inference Engine takes, 7-15); the pose graph needs opset 20 (GridSample with cubic
sampling: onnxruntime 1.17 and newer, onnxruntime-web, not Unity). The metadata (classes, resolution, latent
size, the seed → latent rule of :mod:`muybridge.keys`, which any language can follow, and the latents of seeds
0..SEED_LATENTS-1 to check it against, and the strongest semantic directions of :mod:`muybridge.animation.directions`
to swing a character along) goes into the ONNX ``metadata_props`` and a JSON file beside the model.
:func:`cache_runtime_graphs` keeps the graphs where the CLI draws loops, walks, morphs and motions from them without
torch.

torch's exporter (``torch.onnx.export(dynamo=True)``) writes opset 18; :func:`as_opset_15` lowers the graph by
hand where the two opsets differ only in attributes left at their defaults, and refuses anything else.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path, atomic_write_json, json_floats
from muybridge.generator import Generator
from muybridge.pose_fields import POSE_DIM, POSE_FIELDS

OPSET = 15
#: The pose graph's opset: its warp is a GridSample with cubic sampling.
POSE_OPSET = 20
#: Latents shipped with the model: seeds 0.. this - 1.
SEED_LATENTS = 64
SEED_RULE = ("z = torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed)), or without torch: "
             "MT19937 seeded with seed (init_genrand); each 32-bit output x gives u = (x & 0xFFFFFF) / 2**24; each "
             "block of 16 uniforms gives 16 normals by Box-Muller, r = sqrt(-2 ln(1 - u[j])), t = 2 pi u[j + 8], "
             "z[j] = r cos t, z[j + 8] = r sin t (j < 8); a count that is not a multiple of 16 redraws its last 16 "
             "values from uniforms count..count+15 (those between the last whole block and count are skipped). "
             "seeds 0..63 are listed in seed_latents to check against "
             "(muybridge generate CLASS:SEED draws the same picture)")
#: Resize attributes that opset 18 added, with the default value that opset 15's Resize always behaves as.
RESIZE_ADDITIONS = {"antialias": 0, "keep_aspect_ratio_policy": b"stretch"}


class RenderGraph(nn.Module):
    """What the ONNX file computes: the decoder on truncated latents, mapped from [-1, 1] to [0, 1]."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, latents: torch.Tensor, class_weights: torch.Tensor, truncation: torch.Tensor) -> torch.Tensor:
        return ((self.decoder(latents * truncation, class_weights) + 1) * 0.5).clamp(0, 1)


class PoseRenderGraph(RenderGraph):
    """The render graph with the head pose as a fourth input."""

    def forward(self, latents: torch.Tensor, class_weights: torch.Tensor, truncation: torch.Tensor,  # type: ignore[override]
                pose: torch.Tensor) -> torch.Tensor:
        return ((self.decoder(latents * truncation, class_weights, pose) + 1) * 0.5).clamp(0, 1)


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise MuybridgeError("ONNX export needs the onnx extra: pip install 'muybridge[onnx]'") from None
    return onnx


def as_opset_15(model: Any) -> Any:
    """An opset-18 graph from torch's exporter, declared and checked as opset 15 (in place)."""
    onnx = _onnx()
    for node in model.graph.node:
        if node.op_type == "Resize":
            kept = []
            for attribute in node.attribute:
                default = RESIZE_ADDITIONS.get(attribute.name)
                if default is None:
                    kept.append(attribute)
                elif onnx.helper.get_attribute_value(attribute) != default:
                    raise MuybridgeError(f"ONNX export: Resize uses {attribute.name}, which opset {OPSET} lacks")
            del node.attribute[:]
            node.attribute.extend(kept)
        if node.op_type == "Pad" and len(node.input) > 3:
            raise MuybridgeError(f"ONNX export: Pad with axes needs opset 18, not {OPSET}")
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = OPSET
    return _checked(model, OPSET)


def _checked(model: Any, opset: int) -> Any:
    """``model``, once the onnx checker has found it valid at ``opset``."""
    onnx = _onnx()
    declared = {entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")}
    if declared != {opset}:
        raise MuybridgeError(f"ONNX export: the graph declares opset {sorted(declared)}, not {opset}")
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0]
        raise MuybridgeError(f"ONNX export: the graph is not valid at opset {opset} ({first})") from None
    return model


def onnx_metadata(generator: Generator, pose: bool = False) -> dict[str, Any]:
    """What an engine needs beside the graph."""
    from muybridge import __version__
    from muybridge.animation.directions import strongest_directions
    from muybridge.inversion.latent_file import config_sha256

    inputs: dict[str, list[int | str]] = {"latents": ["N", generator.latent_dim],
                                          "class_weights": ["N", len(generator.classes)], "truncation": [1]}
    if pose:
        inputs["pose"] = ["N", POSE_DIM]
    return {"format": "muybridge-onnx", "muybridge_version": __version__, "model": generator.name,
            "config_sha256": config_sha256(generator.config.to_dict()), "classes": generator.classes,
            "resolution": generator.resolution, "latent_dim": generator.latent_dim,
            "pixel_art": generator.config.pixel_art,
            "opset": POSE_OPSET if pose else OPSET, "inputs": inputs,
            **({"pose_fields": list(POSE_FIELDS)} if pose else {}),
            "output": {"rgb": ["N", 3, generator.resolution, generator.resolution], "range": [0, 1]},
            "seed_rule": SEED_RULE,
            "seed_latents": [json_floats(row) for row in generator.latents(range(SEED_LATENTS)).tolist()],
            "directions": strongest_directions(generator)}


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """torch's exporter logs what it skips (torchvision ops) and warns about its own internals: none of it
    concerns the user, and the one-line errors above say what does."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def require_pose_input(generator: Generator, consequence: str) -> None:
    """Refuse in one line a model that has no pose input, saying what that prevents (``consequence``)."""
    if not generator.takes_pose:
        raise MuybridgeError(f"model {generator.name} ({generator.config.architecture}) has no pose input, so "
                             f"{consequence}")


def onnx_model(generator: Generator, pose: bool = False) -> Any:
    """The decoder as an ``onnx.ModelProto`` with its metadata: opset 15 without the pose input, 20 with it.
    Refused in one line without the onnx extra, or for a pose graph of a model that has no pose input."""
    onnx = _onnx()
    if pose:
        require_pose_input(generator, "its graph cannot move the head: export it without the pose, or use a "
                                      "gallop model")
    graph = (PoseRenderGraph if pose else RenderGraph)(generator.decoder).eval()
    classes = generator.classes
    example: tuple[torch.Tensor, ...] = (
        generator.latents(range(2)), generator.class_weights([classes[i % len(classes)] for i in range(2)]),
        torch.ones(1))
    batch = torch.export.Dim("batch")
    dynamic: tuple[dict[int, Any] | None, ...] = ({0: batch}, {0: batch}, None)
    names = ["latents", "class_weights", "truncation"]
    if pose:
        example, dynamic, names = (*example, torch.zeros(2, POSE_DIM)), (*dynamic, {0: batch}), [*names, "pose"]
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), _quiet_exporter():
        raw = Path(tmp) / "raw.onnx"
        torch.onnx.export(graph, example, str(raw), input_names=names, output_names=["rgb"],
                          dynamic_shapes=dynamic, opset_version=POSE_OPSET if pose else None, dynamo=True,
                          verbose=False)
        model = onnx.load(str(raw))
    model = _checked(model, POSE_OPSET) if pose else as_opset_15(model)
    for key, value in onnx_metadata(generator, pose).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    model.producer_name = "muybridge"
    return model


def cache_runtime_graphs(generator: Generator, pose_graph: Path | None = None) -> list[Path]:
    """Write the model's plain graph (loop, walk, morph) and, for a model with a pose input, its pose graph (motion)
    where the CLI draws from them without torch (:func:`muybridge.engines.runtime.runtime_graph_path`); returns
    where. ``pose_graph``: this model's pose graph already exported (the web page's), copied rather than exported
    again. Only a model folder has cache entries."""
    from muybridge.engines.runtime import runtime_graph_path

    if generator.path is None:
        raise MuybridgeError("only a model read from its folder can be cached (save it with its config first)")
    written = [runtime_graph_path(generator.path)]
    save_onnx(onnx_model(generator), written[0])
    if generator.takes_pose:
        written.append(runtime_graph_path(generator.path, pose=True))
        if pose_graph is None:
            save_onnx(onnx_model(generator, pose=True), written[1])
        else:
            with atomic_path(written[1], suffix=".onnx") as tmp_path:
                shutil.copyfile(pose_graph, tmp_path)
    return written


def save_onnx(model: Any, path: Path) -> None:
    with atomic_path(path, suffix=".onnx") as tmp_path:
        _onnx().save(model, str(tmp_path))


def export_onnx(generator: Generator, path: str | Path, pose: bool = False) -> list[Path]:
    """Write ``path`` (the ONNX graph with its metadata) and ``path`` with ``.json`` (the same metadata);
    returns both. Refused in one line without the onnx extra or for a path not ending in ``.onnx``."""
    target = Path(path)
    if target.suffix.lower() != ".onnx":
        raise MuybridgeError(f"{target}: the ONNX file must end in .onnx")
    save_onnx(onnx_model(generator, pose), target)
    sidecar = target.with_suffix(".json")
    atomic_write_json(sidecar, onnx_metadata(generator, pose))
    return [target, sidecar]

"""The decoder as an ONNX graph, for game engines and browsers (Unity's Inference Engine, onnxruntime in Godot
or on the web).

Inputs: ``latents`` (N, latent_dim) float32, ``class_weights`` (N, classes) float32 (one-hot for a class, or a
mix summing to 1) and ``truncation`` (1,) float32. Output: ``rgb`` (N, 3, R, R) float32 in [0, 1]. The graph uses
opset 15 (what Unity's Inference Engine takes, 7-15); the pose input is left out, as the warp needs GridSample
(opset 16). The metadata (classes, resolution, latent size, the seed → latent rule and the latents of seeds
0..SEED_LATENTS-1, since torch's generator is not something an engine can reproduce) goes into the ONNX
``metadata_props`` and a JSON file beside the model.

torch's exporter (``torch.onnx.export(dynamo=True)``) writes opset 18; :func:`as_opset_15` lowers the graph by
hand where the two opsets differ only in attributes left at their defaults, and refuses anything else.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path, atomic_write_json
from muybridge.generator import Generator

OPSET = 15
#: Latents shipped with the model: seeds 0.. this - 1.
SEED_LATENTS = 64
SEED_RULE = ("z = torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed)); seeds 0..63 are "
             "listed in seed_latents (muybridge generate CLASS:SEED draws the same picture)")
#: Resize attributes that opset 18 added, with the default value that opset 15's Resize always behaves as.
RESIZE_ADDITIONS = {"antialias": 0, "keep_aspect_ratio_policy": b"stretch"}


class RenderGraph(nn.Module):
    """What the ONNX file computes: the decoder on truncated latents, mapped from [-1, 1] to [0, 1]."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, latents: torch.Tensor, class_weights: torch.Tensor, truncation: torch.Tensor) -> torch.Tensor:
        return ((self.decoder(latents * truncation, class_weights) + 1) * 0.5).clamp(0, 1)


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
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0]
        raise MuybridgeError(f"ONNX export: the graph is not valid at opset {OPSET} ({first})") from None
    return model


def onnx_metadata(generator: Generator) -> dict[str, Any]:
    """What an engine needs beside the graph."""
    from muybridge import __version__
    from muybridge.inversion.latent_file import config_sha256

    return {"format": "muybridge-onnx", "muybridge_version": __version__, "model": generator.name,
            "config_sha256": config_sha256(generator.config.to_dict()), "classes": generator.classes,
            "resolution": generator.resolution, "latent_dim": generator.latent_dim, "opset": OPSET,
            "inputs": {"latents": ["N", generator.latent_dim], "class_weights": ["N", len(generator.classes)],
                       "truncation": [1]},
            "output": {"rgb": ["N", 3, generator.resolution, generator.resolution], "range": [0, 1]},
            "seed_rule": SEED_RULE,
            "seed_latents": [[round(float(v), 7) for v in row] for row in generator.latents(range(SEED_LATENTS))]}


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


def export_onnx(generator: Generator, path: str | Path) -> list[Path]:
    """Write ``path`` (the ONNX graph with its metadata) and ``path`` with ``.json`` (the same metadata);
    returns both. Refused in one line without the onnx extra or for a path not ending in ``.onnx``."""
    target = Path(path)
    if target.suffix.lower() != ".onnx":
        raise MuybridgeError(f"{target}: the ONNX file must end in .onnx")
    onnx = _onnx()
    graph = RenderGraph(generator.decoder).eval()
    classes = generator.classes
    example = (generator.latents(range(2)), generator.class_weights([classes[i % len(classes)] for i in range(2)]),
               torch.ones(1))
    batch = torch.export.Dim("batch")
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), _quiet_exporter():
        raw = Path(tmp) / "raw.onnx"
        torch.onnx.export(graph, example, str(raw), input_names=["latents", "class_weights", "truncation"],
                          output_names=["rgb"], dynamic_shapes=({0: batch}, {0: batch}, None), dynamo=True,
                          verbose=False)
        model = as_opset_15(onnx.load(str(raw)))
    metadata = onnx_metadata(generator)
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    model.producer_name = "muybridge"
    with atomic_path(target, suffix=".onnx") as tmp_path:
        onnx.save(model, str(tmp_path))
    sidecar = target.with_suffix(".json")
    atomic_write_json(sidecar, metadata)
    return [target, sidecar]

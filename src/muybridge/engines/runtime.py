"""The decoder without torch: a model's ONNX graphs (:mod:`muybridge.engines.onnx`), run by onnxruntime.

``import torch`` alone takes about 2 s, longer than rendering a 4-second loop. So a model's graphs can be kept in the
cache (``muybridge export-onnx MODEL --cache``; ``muybridge demo`` does it for the model it shows): the plain graph,
from which ``muybridge animate loop``, ``walk``, ``morph`` and ``timeline`` draw, and for a model with motions the
graph with the pose input (its entry's name ends in :data:`POSE_SUFFIX`), from which ``animate motion`` and
``character`` draw; none of them loads torch (:mod:`muybridge.animation.light`). An entry is named by the sha256 of
the model's config and weights, so a changed model is never drawn by the graph of its older self, and by muybridge's
version, so a released upgrade exports its graphs anew (a decoder edited in a development install is not noticed:
export again). Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from muybridge.files import cache_dir, file_sha256
from muybridge.progress import Progress, report
from muybridge.zoo import CONFIG_NAME, WEIGHTS_NAME, model_name, resolve_model_path

#: The cache folder of the graphs (:func:`muybridge.files.cache_dir`).
RUNTIME_CACHE = "runtime"
#: The pose graph's entry is the plain one's name with this before ``.onnx``: onnxruntime draws the plain graph about
#: twice as fast (its bicubic warp is slow), so loops, walks and morphs keep it and only motions take the pose graph.
POSE_SUFFIX = "-pose"
#: Images per graph call, which bounds the memory of a long animation. The frames do not depend on it (the same uint8
#: frames at 1, 32 and 64, measured); the speed does a little: 1,227 frames/s at 64, 991 at 1 (render.md, AMD EPYC).
RUNTIME_BATCH = 64


def runtime_graph_path(folder: Path, pose: bool = False) -> Path:
    """Where the plain graph (``pose``: the graph with the pose input, for motions) of the model in ``folder`` is
    cached: named by its config's and weights' sha256 and by muybridge's version."""
    from muybridge import __version__

    named = f"{file_sha256(folder / CONFIG_NAME)} {file_sha256(folder / WEIGHTS_NAME)} {__version__}"
    digest = hashlib.sha256(named.encode())
    return cache_dir(RUNTIME_CACHE) / f"{digest.hexdigest()[:32]}{POSE_SUFFIX if pose else ''}.onnx"


class RuntimeDecoder:
    """The cached graph of the model in ``folder`` in an onnxruntime session; what it draws is described by the
    graph's own metadata."""

    def __init__(self, graph: Path, folder: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # its warnings are about its own optimiser, not the user's input
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        meta: dict[str, str] = self.session.get_modelmeta().custom_metadata_map
        self.classes: list[str] = json.loads(meta["classes"])
        self.resolution = int(meta["resolution"])
        self.latent_dim = int(meta["latent_dim"])
        self.pixel_art = bool(json.loads(meta.get("pixel_art", "false")))
        #: The strongest directions of each method, by index (graphs exported before they were carried have none).
        self.directions: dict[str, list[list[float]]] = json.loads(meta.get("directions", "{}"))
        # The folder's own name, not the metadata's: graphs are cached by content, so an unnamed model's copy in
        # another folder shares the graph its first folder exported.
        self.name = model_name(json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8")).get("name"), folder)
        self.folder = folder

    def decode(self, latents: np.ndarray, class_weights: np.ndarray, truncation: float = 1.0,
               progress: Progress | None = None, poses: np.ndarray | None = None) -> np.ndarray:
        """Latents ``(N, latent_dim)`` + class weights ``(N, C)`` (+ head poses ``(N, 6)`` for the pose graph) →
        uint8 images ``(N, R, R, 3)``, as ``muybridge.generator.to_uint8(Generator.decode(...))`` draws them
        (within a grey level)."""
        chunks = []
        scale = np.array([truncation], np.float32)
        for start in range(0, len(latents), RUNTIME_BATCH):
            stop = min(start + RUNTIME_BATCH, len(latents))
            feeds: dict[str, Any] = {"latents": latents[start:stop].astype(np.float32),
                                     "class_weights": class_weights[start:stop].astype(np.float32),
                                     "truncation": scale}
            if poses is not None:
                feeds["pose"] = poses[start:stop].astype(np.float32)
            rgb = self.session.run(["rgb"], feeds)[0]
            chunks.append((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8).transpose(0, 2, 3, 1))
            report(progress, stop, len(latents), stage="render")
        empty = np.zeros((0, self.resolution, self.resolution, 3), np.uint8)
        return np.ascontiguousarray(np.concatenate(chunks)) if chunks else empty


def open_runtime(model: str | Path | None, pose: bool = False) -> RuntimeDecoder | None:
    """The model's cached graph (``pose``: the one with the pose input) in a session, or None where there is none,
    or none that onnxruntime can read, or no onnxruntime: then torch draws, and refuses what is not a model folder
    in its own words. An unknown name is refused in one line here."""
    folder = resolve_model_path(model)
    if not ((folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()):
        return None
    graph = runtime_graph_path(folder, pose)
    if not graph.is_file():
        return None
    try:
        return RuntimeDecoder(graph, folder)
    except ImportError:
        return None
    except Exception:  # onnxruntime's errors derive from Exception alone; a damaged entry is as good as none
        return None


def runtime_status(model: str | Path | None = None, pose: bool = False) -> str:
    """How ``muybridge animate loop``, ``walk``, ``morph`` and ``timeline`` (``pose``: ``motion`` and
    ``character``) draw ``model`` here, and how to make them start sooner where they can."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "with torch (drawing without it needs onnxruntime: pip install 'muybridge[onnx]')"
    if runtime_graph_path(resolve_model_path(model), pose).is_file():
        return "without torch (its graph is cached)"
    return f"with torch (to start about 2 s sooner: muybridge export-onnx {model or 'default'} --cache)"

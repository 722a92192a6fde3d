"""A static web page that draws the model's characters in the visitor's browser, with no server.

``export_web`` writes a folder that any static file server can serve (``python -m http.server``; opening
``index.html`` from disk does not work, as browsers refuse to fetch files from ``file://``):

- ``index.html`` and ``page.js``: pick a class, a seed and a motion; the page computes the motion's poses (the
  motion library's curves, carried in ``model.json``), renders every frame with onnxruntime-web and plays them;
- ``model.onnx``: the decoder with its pose input (:func:`muybridge.engines.onnx.onnx_model`);
- ``model.json``: the ONNX metadata (classes, resolution, the seed rule and the latents of seeds 0-63 to check it
  against) and ``web``: the motions with this model's strengths, the CLI's defaults for frames, fps and truncation,
  and the largest seed (the page draws any seed's latent by the rule of :mod:`muybridge.keys`);
- ``vendor/onnxruntime-web/``: onnxruntime-web's WebAssembly build from the npm registry, unchanged, with its
  licence (``SOURCE.md`` says which version and files).

The same class, seed and motion give the frames of ``muybridge animate motion CLASS:SEED --motion NAME``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from muybridge.animation.motions import MOTIONS, stored_strengths
from muybridge.animation.options import AnimationOptions
from muybridge.engines.onnx import onnx_metadata, onnx_model, require_pose_input, save_onnx
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_dir, atomic_write_json
from muybridge.generator import Generator
from muybridge.keys import MAX_SEED
from muybridge.pose_fields import POSE_FIELDS
from muybridge.progress import Progress

#: The page's own files, copied as they are.
PAGE = Path(__file__).with_name("page")
MODEL_FILE = "model.onnx"
METADATA_FILE = "model.json"
#: Frames per onnxruntime-web call: memory for a batch stays small in the browser.
WEB_BATCH = 24


def web_settings(generator: Generator) -> dict[str, Any]:
    """What the page needs beyond the ONNX metadata: the motions (with this model's strengths) and the CLI's
    defaults for a motion clip."""
    defaults = AnimationOptions()
    strengths = stored_strengths(generator.path)
    motions = {name: {"description": motion.description, "strength": strengths.get(name, 1.0),
                      "terms": [{"field": term.field, "amplitude": term.amplitude, "curve": term.curve,
                                 "cycles": term.cycles} for term in motion.terms]}
               for name, motion in MOTIONS.items()}
    return {"pose_fields": list(POSE_FIELDS), "motions": motions, "motion": defaults.motion,
            "frames": defaults.frame_count(), "fps": defaults.fps, "truncation": defaults.truncation,
            "batch": WEB_BATCH, "max_seed": MAX_SEED}


def export_web(generator: Generator, folder: str | os.PathLike[str], progress: Progress | None = None) -> Path:
    """Write the page for ``generator`` into ``folder`` (new, empty, or an earlier page: replaced only when
    complete); returns the folder. Refused in one line for a folder of other files or a model without poses."""
    target = Path(folder)
    if target.exists() and (not target.is_dir() or (any(target.iterdir())
                                                    and not (target / METADATA_FILE).is_file())):
        raise MuybridgeError(f"{target}: holds other files; the web page goes to a new or empty folder, or "
                             "replaces an earlier page")
    require_pose_input(generator, "the page cannot animate its motions: use a gallop model")
    if progress:
        progress(0, 2)
    model = onnx_model(generator, pose=True)
    if progress:
        progress(1, 2)
    with atomic_dir(target) as tmp:
        shutil.copytree(PAGE, tmp, dirs_exist_ok=True)
        save_onnx(model, tmp / MODEL_FILE)
        atomic_write_json(tmp / METADATA_FILE, {**onnx_metadata(generator, pose=True), "onnx": MODEL_FILE,
                                                "web": web_settings(generator)})
    if progress:
        progress(2, 2)
    return target

"""LATENTS.json: inverted photos as latents, tied to the model they belong to.

A latent means something only to the decoder it was fitted to, so the file records the model's identity
(name, architecture, latent size and the sha256 of its canonical ``config.json``) and refuses to load
against another model. Layout::

    {"format": "muybridge-latents", "format_version": 1,
     "model": {"name", "architecture", "config_sha256", "latent_dim", "resolution", "classes"},
     "latents": [{"source", "class", "latent": [...], "encoder_latent": [...], "losses": {...},
                  "face_box": [l, t, w, h] | null, "detected": bool, "preview": "NAME-0.png"}, ...]}

The model's ``name`` is left out of the hash: renaming a model folder does not change what its latents mean.

With pivotal tuning the file also names its tuned decoder, ``"tuned_decoder": {"file": "NAME.tuned.safetensors",
"sha256": ...}``: tensors of (tuned − base) decoder, whose safetensors metadata repeats the base model's
``config_sha256``. :func:`generator_for_latents` applies it; a delta made for another model, or a file that is not
the one the JSON names, is refused in one line.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from muybridge.characters import Character, character_from_latent
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path, atomic_write_json, file_sha256
from muybridge.generator import Generator
from muybridge.inversion.invert import InversionResult
from muybridge.inversion.tune import Delta, tuned_generator
from muybridge.keys import ClassSpec
from muybridge.models.format import read_weights

LATENTS_FORMAT = "muybridge-latents"
LATENTS_VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
DELTA_FORMAT = "muybridge-decoder-delta"


def config_sha256(config: Mapping[str, Any]) -> str:
    """sha256 of ``config.json``'s canonical JSON (sorted keys, no spaces), without its ``name``."""
    identity = {key: value for key, value in config.items() if key != "name"}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def model_identity(generator: Generator) -> dict[str, Any]:
    return {"name": generator.name, "architecture": generator.config.architecture,
            "config_sha256": config_sha256(generator.config.to_dict()), "latent_dim": generator.latent_dim,
            "resolution": generator.resolution, "classes": generator.classes}


def preview_paths(path: Path, count: int) -> list[Path]:
    """Where the side-by-side PNGs go: ``NAME-0.png``, ``NAME-1.png``... beside ``NAME.json``."""
    return [path.with_name(f"{path.stem}-{i}.png") for i in range(count)]


def delta_path(path: Path) -> Path:
    """Where a latent file's tuned decoder goes: ``NAME.tuned.safetensors`` beside ``NAME.json``."""
    return path.with_name(f"{path.stem}.tuned.safetensors")


def _write_delta(target: Path, generator: Generator, delta: Delta) -> dict[str, str]:
    destination = delta_path(target)
    metadata = {"format": DELTA_FORMAT, "base_config_sha256": config_sha256(generator.config.to_dict()),
                "base_model": generator.name}
    with atomic_path(destination, suffix=".safetensors") as tmp:
        save_file({name: value.contiguous() for name, value in delta.items()}, str(tmp), metadata=metadata)
    return {"file": destination.name, "sha256": file_sha256(destination)}


def write_latent_file(path: str | os.PathLike[str], generator: Generator,
                      results: Sequence[InversionResult]) -> list[Path]:
    """Write the side-by-side PNGs and the tuned decoder (if any), then the JSON (each atomically); returns
    every file written."""
    target = Path(path)
    if target.suffix.lower() != ".json":
        raise MuybridgeError(f"{target}: the latent file must end in .json")
    if target.is_dir():
        raise MuybridgeError(f"{target}: is a folder")
    deltas = {id(result.delta): result.delta for result in results}
    if len(deltas) > 1:
        raise MuybridgeError(f"{target}: one latent file holds photos inverted together (one tuned decoder); "
                             "write the others to another file")
    delta = next(iter(deltas.values()), None)
    previews = preview_paths(target, len(results))
    for result, preview in zip(results, previews, strict=True):
        with atomic_path(preview, suffix=".png") as tmp:
            Image.fromarray(result.side_by_side()).save(tmp, format="PNG")
    tuned = _write_delta(target, generator, delta) if delta is not None else None
    entries = [{"source": result.source, "class": result.class_name,
                "latent": [float(v) for v in result.latent.tolist()],
                "encoder_latent": [float(v) for v in result.encoder_latent.tolist()],
                "losses": result.losses, "face_box": result.box.as_list() if result.box else None,
                "detected": result.detected, "preview": preview.name}
               for result, preview in zip(results, previews, strict=True)]
    document: dict[str, Any] = {"format": LATENTS_FORMAT, "format_version": LATENTS_VERSION,
                                "model": model_identity(generator), "latents": entries}
    if tuned is not None:
        document["tuned_decoder"] = tuned
    atomic_write_json(target, document)
    return [*previews, *([delta_path(target)] if tuned else []), target]


def read_latent_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a latent file's structure (not yet against a model)."""
    source = Path(path)
    try:
        if source.stat().st_size > MAX_FILE_BYTES:
            raise MuybridgeError(f"{source}: too large for a latent file")
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MuybridgeError(f"{source}: no such latent file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MuybridgeError(f"{source}: not a readable latent file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != LATENTS_FORMAT:
        raise MuybridgeError(f"{source}: not a muybridge latent file (missing \"format\": \"{LATENTS_FORMAT}\"; "
                             "make one with `muybridge invert`)")
    if not isinstance(data.get("format_version"), int) or data["format_version"] > LATENTS_VERSION:
        raise MuybridgeError(f"{source}: latent file version {data.get('format_version')!r} is not one this "
                             f"muybridge reads (≤ {LATENTS_VERSION})")
    entries = data.get("latents")
    if not isinstance(data.get("model"), dict) or not isinstance(entries, list) or not entries:
        raise MuybridgeError(f"{source}: latent file has no model identity or no latents")
    for i, entry in enumerate(entries):
        latent = entry.get("latent") if isinstance(entry, dict) else None
        if (not isinstance(latent, list) or not latent
                or not all(isinstance(v, int | float) and math.isfinite(v) for v in latent)):
            raise MuybridgeError(f"{source}: latents[{i}].latent is not a list of finite numbers")
        if not isinstance(entry.get("class"), str):
            raise MuybridgeError(f"{source}: latents[{i}].class is missing")
    return data


def check_model(data: dict[str, Any], generator: Generator, path: str | os.PathLike[str]) -> None:
    """Refuse latents fitted to another model, in one line saying which."""
    model = data["model"]
    mine = model_identity(generator)
    if model.get("latent_dim") != mine["latent_dim"]:
        raise MuybridgeError(f"{path}: latents of size {model.get('latent_dim')} from model "
                             f"'{model.get('name')}' cannot drive model '{mine['name']}' "
                             f"(latent size {mine['latent_dim']}); invert the photo again with this model")
    if model.get("config_sha256") != mine["config_sha256"]:
        raise MuybridgeError(f"{path}: made with another model ('{model.get('name')}', config "
                             f"{str(model.get('config_sha256'))[:12]}…), not '{mine['name']}' (config "
                             f"{mine['config_sha256'][:12]}…); invert the photo again with this model")


def generator_for_latents(path: str | os.PathLike[str], generator: Generator) -> Generator:
    """The generator that draws a latent file's characters: ``generator`` itself, or with the file's tuned
    decoder applied (a copy). Refuses a file made with another model, or a delta that is not the file's own."""
    data = read_latent_file(path)
    check_model(data, generator, path)
    tuned = data.get("tuned_decoder")
    if tuned is None:
        return generator
    if not isinstance(tuned, dict) or not isinstance(tuned.get("file"), str) or "/" in tuned["file"] \
            or "\\" in tuned["file"]:
        raise MuybridgeError(f"{path}: tuned_decoder must name a file beside it")
    source = Path(path).with_name(tuned["file"])
    if not source.is_file():
        raise MuybridgeError(f"{source}: the tuned decoder of {Path(path).name} is missing (copy it along with "
                             "the latent file, or invert the photo again)")
    if file_sha256(source) != tuned.get("sha256"):
        raise MuybridgeError(f"{source}: is not the tuned decoder {Path(path).name} was written with (sha256 "
                             "differs)")
    try:
        with safe_open(str(source), "pt") as opened:
            metadata = opened.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise MuybridgeError(f"{source}: not a readable safetensors file ({exc})") from None
    mine = config_sha256(generator.config.to_dict())
    if metadata.get("format") != DELTA_FORMAT or metadata.get("base_config_sha256") != mine:
        raise MuybridgeError(f"{source}: tunes another model ('{metadata.get('base_model')}', config "
                             f"{str(metadata.get('base_config_sha256'))[:12]}…), not '{generator.name}' (config "
                             f"{mine[:12]}…); invert the photo again with this model")
    return tuned_generator(generator, read_weights(source), str(source))


def read_latents(path: str | os.PathLike[str], generator: Generator,
                 class_spec: ClassSpec | None = None) -> list[Character]:
    """The characters of a latent file, checked against ``generator``; ``class_spec`` overrides their class
    (e.g. your cat's latent rendered as a dog)."""
    data = read_latent_file(path)
    check_model(data, generator, path)
    characters = []
    for i, entry in enumerate(data["latents"]):
        latent = torch.tensor(entry["latent"], dtype=torch.float32)
        if latent.shape != (generator.latent_dim,):
            raise MuybridgeError(f"{path}: latents[{i}] has {latent.numel()} values, the model needs "
                                 f"{generator.latent_dim}")
        spec = class_spec if class_spec is not None else entry["class"]
        found = character_from_latent(generator, spec, latent)
        label = Path(str(entry.get("source") or f"latent {i}")).stem
        characters.append(Character(found.latent, found.class_weights, label))
    return characters

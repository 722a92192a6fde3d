"""The model config: what a model folder's ``config.json`` holds, read once into a typed :class:`ModelConfig`.

``config.json`` is::

    {"format": "muybridge-model", "format_version": 1,
     "architecture": "gallop", "params": {...},          # a registered architecture and its parameters
     "resolution": 64, "classes": ["cat", "dog"], "latent_dim": 128,
     "name": "cats-dogs-64",                              # optional: the title (else the folder's name)
     "pixel_art": true,                                   # optional: resize with nearest-neighbour
     "training": {...}}                                   # optional: provenance, kept as written

:meth:`ModelConfig.from_dict` is the one place it is checked: a bad field is refused in one line naming the
file and the field. Keys muybridge does not know are **kept** in ``extra`` and written back unchanged: a
newer muybridge of the same format version, or a person (``"license": ...``), may add some, and a model
folder must still load and re-export as it was. :meth:`ModelConfig.to_dict` gives the file's dict back
exactly (same keys, order and values), so hashes of it (``config_sha256`` of latent files) stay valid.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muybridge.errors import MuybridgeError
from muybridge.models.registry import Networks, get_architecture

MODEL_FORMAT = "muybridge-model"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("architecture", "resolution", "classes", "latent_dim")
#: What an optional key means when the file leaves it out; to_dict leaves it out again when it still does.
ABSENT: dict[str, Any] = {"format_version": 0, "params": {}, "name": None, "pixel_art": False, "training": None}


@dataclass(frozen=True)
class ModelConfig:
    """A model's description, as read from ``config.json`` (see the module docstring for the file)."""

    architecture: str
    resolution: int
    classes: tuple[str, ...]
    latent_dim: int
    params: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    pixel_art: bool = False
    #: Provenance written by ``muybridge export`` (dataset, kimg, hours, the run's config...), kept as is.
    training: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION
    #: Keys muybridge does not know, kept to be written back.
    extra: dict[str, Any] = field(default_factory=dict)
    #: The keys of the dict this was read from, in its order, so that to_dict writes that dict back.
    key_order: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path = "model config") -> ModelConfig:
        """Check ``data`` (``config.json`` as parsed) and read it; ``source`` (the file) starts every error."""
        if not isinstance(data, Mapping) or data.get("format") != MODEL_FORMAT:
            raise MuybridgeError(f"{source}: not a muybridge model config (missing \"format\": \"{MODEL_FORMAT}\")")
        version = checked(data, "format_version", source, is_count, "a whole number", ABSENT["format_version"])
        if version > FORMAT_VERSION:
            raise MuybridgeError(f"{source}: model format version {version} is newer than this muybridge "
                                 f"understands ({FORMAT_VERSION}); upgrade muybridge")
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise MuybridgeError(f"{source}: config lacks {', '.join(missing)}")
        known = {"format", *REQUIRED_KEYS, *ABSENT}
        return cls(
            architecture=checked(data, "architecture", source, is_text, "an architecture name"),
            resolution=checked(data, "resolution", source, is_resolution,
                               f"a power of two from 8 to {MAX_RESOLUTION}"),
            classes=tuple(checked(data, "classes", source, is_class_list, "a list of distinct class names")),
            latent_dim=checked(data, "latent_dim", source, is_latent_size,
                               f"a whole number from 1 to {MAX_LATENT_DIM}"),
            params=copy.deepcopy(checked(data, "params", source, is_object, "an object", {})),
            name=checked(data, "name", source, is_optional_text, "a string", None),
            pixel_art=checked(data, "pixel_art", source, is_bool, "true or false", False),
            training=copy.deepcopy(checked(data, "training", source, is_optional_object, "an object", None)),
            format_version=version,
            extra={key: copy.deepcopy(value) for key, value in data.items() if key not in known},
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` dict: the source's keys in its order, then any other key not left at its default."""
        values = {"format": MODEL_FORMAT, "format_version": self.format_version, "architecture": self.architecture,
                  "params": self.params, "resolution": self.resolution, "classes": list(self.classes),
                  "latent_dim": self.latent_dim, "name": self.name, "pixel_art": self.pixel_art,
                  "training": self.training, **self.extra}
        keys = [key for key in self.key_order if key in values]
        keys += [key for key in values if key not in keys and (key not in ABSENT or values[key] != ABSENT[key])]
        return {key: copy.deepcopy(values[key]) for key in keys}


def as_model_config(config: ModelConfig | Mapping[str, Any]) -> ModelConfig:
    """A :class:`ModelConfig` as is; a dict is checked, the ``format`` header added if it lacks one (training
    builds its model config as ``config.json`` without the header)."""
    if isinstance(config, ModelConfig):
        return config
    return ModelConfig.from_dict({"format": MODEL_FORMAT, "format_version": FORMAT_VERSION, **config})


def build_networks(config: ModelConfig | Mapping[str, Any]) -> Networks:
    """Build the (randomly initialised) networks a model config describes."""
    config = as_model_config(config)
    architecture = get_architecture(config.architecture)
    return architecture(resolution=config.resolution, num_classes=len(config.classes),
                        latent_dim=config.latent_dim, params=dict(config.params)).build()


def checked(data: Mapping[str, Any], key: str, source: str | Path, ok: Callable[[Any], bool], what: str,
            default: Any = None) -> Any:
    """``data[key]`` (``default`` if absent), refused in one line unless ``ok`` accepts it."""
    if key not in data:
        return default
    value = data[key]
    if not ok(value):
        shown = json.dumps(value, default=str)
        shown = shown if len(shown) <= 40 else f"{shown[:39]}…"
        raise MuybridgeError(f"{source}: field \"{key}\" must be {what}, got {shown}")
    return value


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_positive(value: Any) -> bool:
    return is_count(value) and value > 0


#: Bounds of what a model folder may declare (far beyond anything this project trains), so a damaged or
#: hostile config.json is refused in one line instead of asking torch for a tensor that cannot exist.
MAX_RESOLUTION = 1024
MAX_LATENT_DIM = 4096


def is_resolution(value: Any) -> bool:
    return is_positive(value) and 8 <= value <= MAX_RESOLUTION and value & (value - 1) == 0


def is_latent_size(value: Any) -> bool:
    return is_positive(value) and value <= MAX_LATENT_DIM


def is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def is_optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_object(value: Any) -> bool:
    return isinstance(value, dict)


def is_optional_object(value: Any) -> bool:
    return value is None or is_object(value)


def is_class_list(value: Any) -> bool:
    return (isinstance(value, list | tuple) and bool(value) and all(is_text(name) for name in value)
            and len(set(value)) == len(value))

"""The models the studio offers: the bundled ones (read-only) and every model folder in the workspace.

Models are only ever read as ``config.json`` (through :func:`read_config`) and safetensors weights
(through :meth:`Generator.load`). Loaded generators are kept in a small LRU cache, keyed by folder and
config modification time, so a renamed or replaced model is never served stale.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_path, atomic_write_json
from muybridge.generator import Generator
from muybridge.models.config import ModelConfig
from muybridge.models.format import CARD_NAME, CONFIG_NAME, read_config
from muybridge.pictures import class_grid
from muybridge.studio.errors import Conflict, NotFound, StudioError
from muybridge.studio.workspace import Workspace, check_name
from muybridge.zoo import ZOO

METRICS_FILES = ("metrics.json", "evaluation.json")
SAMPLE_SEEDS = list(range(8))
MAX_SAMPLE_CLASSES = 8


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    bundled: bool


class ModelCatalog:
    def __init__(self, workspace: Workspace, bundled_dir: Path | None = ZOO, cache_size: int = 4) -> None:
        self.workspace = workspace
        self.bundled_dir = bundled_dir
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, float], Generator] = OrderedDict()
        self._samples: dict[tuple[str, float], bytes] = {}
        self._lock = threading.Lock()

    def _bundled(self) -> list[ModelEntry]:
        if self.bundled_dir is None or not self.bundled_dir.is_dir():
            return []
        return [ModelEntry(p.name, p, True) for p in sorted(self.bundled_dir.iterdir())
                if (p / CONFIG_NAME).is_file()]

    def _local(self) -> list[ModelEntry]:
        folder = self.workspace.root / "models"
        return [ModelEntry(p.name, p, False) for p in sorted(folder.iterdir())
                if not p.name.startswith(".") and (p / CONFIG_NAME).is_file()]

    def entries(self) -> list[ModelEntry]:
        return self._bundled() + self._local()

    def find(self, name: str) -> ModelEntry:
        """A workspace model by name (checked, symlinks kept inside), else a bundled one."""
        path = self.workspace.area("models", name, "model")
        if (path / CONFIG_NAME).is_file():
            return ModelEntry(name, path, False)
        for entry in self._bundled():
            if entry.name == name:
                return entry
        raise NotFound(f"no model named {name!r}")

    def default_name(self) -> str:
        entries = self.entries()
        if not entries:
            raise NotFound("no models yet: train one, or copy a model folder into the workspace's models/")
        return entries[0].name

    def summary(self, entry: ModelEntry) -> dict[str, Any]:
        config = read_config(entry.path)
        return {"name": entry.name, "bundled": entry.bundled, "architecture": config.architecture,
                "resolution": config.resolution, "classes": list(config.classes),
                "latent_dim": config.latent_dim, "title": config.name or entry.name}

    def details(self, entry: ModelEntry) -> dict[str, Any]:
        config = read_config(entry.path)
        card_path = entry.path / CARD_NAME
        card = card_path.read_text(encoding="utf-8", errors="replace") if card_path.is_file() else ""
        return {**self.summary(entry), "card": card, "metrics": read_metrics(entry.path, config),
                "size_bytes": sum(p.stat().st_size for p in entry.path.iterdir() if p.is_file())}

    def load(self, name: str) -> Generator:
        entry = self.find(name)
        key = (str(entry.path), (entry.path / CONFIG_NAME).stat().st_mtime)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        generator = Generator.load(entry.path)
        with self._lock:
            self._cache[key] = generator
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return generator

    def forget(self, path: Path) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == str(path)]:
                del self._cache[key]
            for key in [k for k in self._samples if k[0] == str(path)]:
                del self._samples[key]

    def sample_grid_png(self, name: str) -> bytes:
        """One row per class (8 at most), one column per seed 0-7; computed once per model version."""
        entry = self.find(name)
        key = (str(entry.path), (entry.path / CONFIG_NAME).stat().st_mtime)
        if key not in self._samples:
            generator = self.load(name)
            picture = class_grid(generator, SAMPLE_SEEDS, generator.classes[:MAX_SAMPLE_CLASSES])
            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, format="PNG")
            self._samples[key] = buffer.getvalue()
        return self._samples[key]

    def writable(self, name: str) -> ModelEntry:
        entry = self.find(name)
        if entry.bundled:
            raise StudioError(f"{name} is a bundled model and read-only; only workspace models change")
        return entry

    def rename(self, name: str, new_name: str) -> ModelEntry:
        entry = self.writable(name)
        target = self.workspace.area("models", check_name(new_name, "model name"), "model name")
        if target.exists() or any(e.name == new_name for e in self._bundled()):
            raise Conflict(f"a model named {new_name!r} exists already")
        config = read_config(entry.path)
        self.forget(entry.path)
        os.replace(entry.path, target)
        atomic_write_json(target / CONFIG_NAME, replace(config, name=new_name).to_dict())
        return ModelEntry(new_name, target, False)

    def delete(self, name: str) -> None:
        entry = self.writable(name)
        self.forget(entry.path)
        trash = self.workspace.inside(".tmp", f"deleted-{name}-{os.getpid()}-{threading.get_ident()}")
        os.replace(entry.path, trash)  # gone from the list at once, even if removing the files takes a while
        shutil.rmtree(trash, ignore_errors=True)

    def zip_to(self, name: str, target: Path) -> Path:
        """Write ``target`` atomically: the model folder's regular files under a ``NAME/`` prefix."""
        entry = self.find(name)
        with atomic_path(target, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w") as archive:
            for path in sorted(entry.path.iterdir()):
                if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
                    method = zipfile.ZIP_DEFLATED if path.suffix in (".json", ".md") else zipfile.ZIP_STORED
                    archive.write(path, f"{entry.name}/{path.name}", compress_type=method)
        return target


def read_metrics(folder: Path, config: ModelConfig) -> dict[str, Any]:
    """Scores kept beside a model (``metrics.json``/``evaluation.json``) and its training summary."""
    metrics: dict[str, Any] = {}
    training = config.training or {}
    for key in ("kimg", "train_hours", "cpu_hours", "best_kid"):
        if key in training:
            metrics[key] = training[key]
    if "init_from" in training:  # the source's name only: the server's paths stay private
        metrics["init_from"] = Path(str(training["init_from"])).name
    for filename in METRICS_FILES:
        path = folder / filename
        if path.is_file():
            try:
                metrics[path.stem] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise MuybridgeError(f"{path}: not valid JSON ({exc})") from None
    return metrics

"""The bundled models (one folder each), how a model name finds its folder, and the names of a model folder's
files (:mod:`muybridge.models.format` reads and writes them). No torch here: the CLI's torch-free loop resolves
names too."""

from __future__ import annotations

from pathlib import Path

from muybridge.errors import MuybridgeError

ZOO = Path(__file__).parent
DEFAULT_MODEL = "cats-dogs-64"

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "model_card.md"


def model_name(configured: str | None, folder: Path | None) -> str:
    """What a model is called: its config's ``name``, else its folder's (a copied folder has its own)."""
    return configured or (folder.name if folder is not None else "model")


def resolve_model_path(path_or_name: str | Path | None = None) -> Path:
    """``None`` or ``"default"`` is the bundled model; a bare name is looked up in the zoo; else a path."""
    if path_or_name is None or str(path_or_name) == "default":
        path_or_name = DEFAULT_MODEL
    candidate = Path(path_or_name)
    if candidate.exists():
        return candidate
    zoo_entry = ZOO / str(path_or_name)
    if zoo_entry.is_dir():
        return zoo_entry
    bundled = sorted(p.name for p in ZOO.iterdir() if (p / CONFIG_NAME).is_file())
    raise MuybridgeError(
        f"{path_or_name}: no such model folder, and no bundled model of that name "
        f"(bundled: {', '.join(bundled) or 'none'})"
    )

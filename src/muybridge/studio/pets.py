"""Your pet: one uploaded photo inverted into a model's latent space, kept in the workspace's ``pets/``.

A pet is ``pets/ID.json`` (a latent file, the same format ``muybridge invert`` writes) and ``pets/ID-0.png``
(the side-by-side preview: the crop, the encoder's guess, the refined and the tuned reconstruction), and with
the default fidelity ``pets/ID.tuned.safetensors`` (the decoder tuned to the photo). Animations can start
from it instead of a ``CLASS:SEED`` key.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from muybridge.data.decode import IMAGE_EXTENSIONS
from muybridge.errors import MuybridgeError
from muybridge.generator import Generator
from muybridge.inversion.fidelity import TuneSettings
from muybridge.inversion.latent_file import check_model, preview_paths, read_latent_file
from muybridge.inversion.photo import Box
from muybridge.progress import Progress
from muybridge.studio.errors import NotFound, StudioError, TooLarge
from muybridge.studio.uploads import safe_filename
from muybridge.studio.workspace import Workspace, check_name

PETS = "pets"
MAX_STEPS = 500
READ_CHUNK = 1 << 20


def read_photo_upload(name: str, stream: IO[bytes], max_bytes: int) -> bytes:
    """An uploaded photo's bytes: refuses other extensions (a 400 now) and anything over ``max_bytes``.

    The bytes are decoded later by the inversion's safe decoder (non-images, bombs, too-small photos).
    """
    suffix = Path(safe_filename(name, 0)).suffix
    if suffix not in IMAGE_EXTENSIONS:
        raise StudioError(f"{name}: not a photo (extension '{suffix or 'none'}'); "
                          f"send one of {', '.join(sorted(IMAGE_EXTENSIONS))}")
    data = bytearray()
    while chunk := stream.read(READ_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise TooLarge(f"{name}: larger than the upload limit of {max_bytes // 2**20} MiB")
    if not data:
        raise StudioError(f"{name}: the file is empty")
    return bytes(data)


def check_steps(steps: int) -> int:
    if not 1 <= steps <= MAX_STEPS:
        raise StudioError(f"steps {steps}: choose 1 to {MAX_STEPS} refinement steps")
    return steps


def studio_message(error: MuybridgeError, photo_name: str) -> str:
    """The library's one-line error, worded for the studio: it names the upload, the checkbox and the crop
    field, not the CLI's ``--no-detect`` and ``--crop``."""
    message = str(error).splitlines()[0] if str(error) else "the photo could not be inverted"
    if message.startswith("photo: "):
        message = f"{photo_name}: {message.removeprefix('photo: ')}"
    return (message.replace("pass --no-detect", "untick 'find the face'")
            .replace("--crop LEFT,TOP,SIDE", "give a crop box").replace("--crop ", "crop "))


def invert_pet(generator: Generator, photo: bytes, photo_name: str, class_name: str, steps: int, detect: bool,
               target: Path, progress: Progress | None = None, tune: TuneSettings | None = None,
               crop: Box | None = None) -> dict[str, Any]:
    """Invert one photo (tuning the decoder around it with ``tune``) and write ``target`` (``ID.json``) with its
    preview and tuned decoder; returns the pet's summary."""
    from muybridge.inversion import invert_image
    from muybridge.inversion.latent_file import write_latent_file

    try:
        result = invert_image(generator, photo, class_name, steps=steps, detect=detect, progress=progress,
                              tune=tune, crop=crop)
    except MuybridgeError as exc:
        raise MuybridgeError(studio_message(exc, photo_name)) from None
    result.source = photo_name
    write_latent_file(target, generator, [result])
    return pet_summary(target)


def pet_file(workspace: Workspace, pet_id: str) -> Path:
    """``pets/ID.json`` for a checked id (it may not exist yet)."""
    return workspace.inside(PETS, f"{check_name(pet_id, 'pet id')}.json")


def existing_pet(workspace: Workspace, pet_id: str) -> Path:
    path = pet_file(workspace, pet_id)
    if not path.is_file():
        raise NotFound(f"no pet {pet_id!r}: upload a photo first")
    return path


def pet_preview(path: Path) -> Path:
    return preview_paths(path, 1)[0]


def pet_summary(path: Path) -> dict[str, Any]:
    """What the pet list shows: id, model, class, photo name, losses and the preview's URL."""
    data = read_latent_file(path)
    entry = data["latents"][0]
    return {"id": path.stem, "model": data["model"].get("name"), "class": entry["class"],
            "source": entry.get("source"), "detected": bool(entry.get("detected")),
            "losses": entry.get("losses", {}), "created": path.stat().st_mtime,
            "preview": f"/v1/{PETS}/{path.stem}/preview.png"}


def list_pets(workspace: Workspace) -> list[dict[str, Any]]:
    """Every pet, newest first; a broken file is listed with its problem."""
    listed = []
    for path in workspace.inside(PETS).glob("*.json"):
        try:
            listed.append(pet_summary(path))
        except MuybridgeError as exc:
            listed.append({"id": path.stem, "error": str(exc), "created": path.stat().st_mtime})
    return sorted(listed, key=lambda pet: pet["created"], reverse=True)


def check_pet_model(path: Path, generator: Generator) -> None:
    """Refuse, before any rendering, a pet inverted with another model."""
    check_model(read_latent_file(path), generator, f"pet {path.stem}")

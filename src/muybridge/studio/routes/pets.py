"""Your pet: upload a photo (an inversion job), list pets, their previews."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from muybridge.errors import MuybridgeError
from muybridge.inversion.fidelity import DEFAULT_FIDELITY, FIDELITIES, get_fidelity
from muybridge.inversion.invert import default_class
from muybridge.inversion.photo import parse_crop
from muybridge.studio.errors import StudioError
from muybridge.studio.jobs import Job
from muybridge.studio.pets import (
    MAX_STEPS,
    check_steps,
    existing_pet,
    invert_pet,
    list_pets,
    pet_file,
    pet_preview,
    read_photo_upload,
    studio_message,
)
from muybridge.studio.routes.common import file_response, form_int, job_json, studio_of

router = APIRouter()


PET_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["photo"], "properties": {
        "photo": {"type": "string", "format": "binary", "description": "One photo of your pet."},
        "model": {"type": "string", "description": "Model name (default: the first listed)."},
        "class": {"type": "string", "default": "cat"},
        "steps": {"type": "integer", "default": FIDELITIES[DEFAULT_FIDELITY].refine.steps, "maximum": MAX_STEPS,
                  "description": "Refinement steps (default: the fidelity's)."},
        "fidelity": {"type": "string", "enum": list(FIDELITIES), "default": DEFAULT_FIDELITY,
                     "description": "; ".join(f"{name}: {preset.description}" for name, preset in FIDELITIES.items())},
        "detect": {"type": "boolean", "default": True,
                   "description": "Find the face (cats); off: the photo's centre square."},
        "crop": {"type": "string", "description": "Frame the face yourself: 'left,top,side' of a square in "
                 "photo pixels (replaces finding it)."}}}}}}}


@router.post("/pets", tags=["pets"], status_code=202, openapi_extra=PET_SCHEMA)
async def upload_pet(request: Request) -> JSONResponse:
    """Upload a photo → an inversion job; when done, the pet's id is ``result.pet`` (use it in animate)."""
    studio = studio_of(request)
    async with request.form(max_files=2, max_fields=8) as form:
        photo = form.get("photo")
        if photo is None or isinstance(photo, str):
            raise StudioError("no photo uploaded: send one image as the 'photo' field")
        photo_name = photo.filename or "photo"
        data = await asyncio.to_thread(read_photo_upload, photo_name, photo.file, studio.settings.upload.max_bytes)
        model = str(form.get("model") or "").strip() or studio.catalog.default_name()
        class_field = str(form.get("class") or "").strip() or None
        preset = get_fidelity(str(form.get("fidelity") or DEFAULT_FIDELITY))
        steps = check_steps(form_int(form.get("steps"), preset.refine.steps, "steps"))
        detect = str(form.get("detect") or "true").lower() in ("1", "true", "on", "yes")
        crop_field = str(form.get("crop") or "").strip()
    try:
        crop = parse_crop(crop_field) if crop_field else None
    except MuybridgeError as exc:
        raise StudioError(studio_message(exc, photo_name)) from None
    generator = await asyncio.to_thread(studio.catalog.load, model)
    class_name = class_field or default_class(generator)
    generator.class_index(class_name)

    def work(job: Job) -> None:
        target = pet_file(studio.workspace, job.id)
        summary = invert_pet(generator, data, photo_name, class_name, steps, detect, target, job.progress,
                             preset.tune, crop)
        job.update(files=[studio.workspace.relative(pet_preview(target)), studio.workspace.relative(target)],
                   result={"pet": job.id, **summary})

    title = f"invert {photo_name} as {class_name} ({model})"
    return job_json(studio.jobs.submit("invert", title, work), 202)


@router.get("/pets/fidelities", tags=["pets"])
async def list_fidelities() -> list[dict[str, Any]]:
    """How far an upload's inversion may go (the ``fidelity`` field), the default first."""
    names = sorted(FIDELITIES, key=lambda name: name != DEFAULT_FIDELITY)
    return [{"id": name, "description": FIDELITIES[name].description, "default": name == DEFAULT_FIDELITY}
            for name in names]


@router.get("/pets", tags=["pets"])
async def get_pets(request: Request) -> list[dict[str, Any]]:
    """Your pets (inverted photos), newest first: id, model, class, photo name, losses, preview URL."""
    return await asyncio.to_thread(list_pets, studio_of(request).workspace)


@router.get("/pets/{pet_id}/preview.png", tags=["pets"], response_class=FileResponse)
async def pet_preview_png(request: Request, pet_id: str) -> FileResponse:
    """The pet's side-by-side strip: the photo's crop, the encoder's guess, the refined reconstruction."""
    return file_response(pet_preview(existing_pet(studio_of(request).workspace, pet_id)), False)

"""The REST API under ``/v1``: models, generate, preview, animate, jobs, pets, datasets, training, outputs.

Routes stay thin: they check input, hand work to the batcher (generate) or a job (animate, prepare,
train) and shape the answer. Nothing here blocks the event loop: model loading, decoding and file work
run in threads, training in its own process.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import re
import shutil
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.background import BackgroundTask

from muybridge import __version__
from muybridge.animation.options import AnimationOptions, option_fields, pydantic_fields
from muybridge.characters import parse_key
from muybridge.data.format import DATASET_FILE
from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_bytes
from muybridge.inversion.invert import default_class
from muybridge.pictures import resample_filter, resize_images, tile_images
from muybridge.studio.app import Studio
from muybridge.studio.errors import Conflict, NotFound, StudioError
from muybridge.studio.jobs import Job
from muybridge.studio.pets import (
    DEFAULT_STEPS,
    MAX_STEPS,
    check_pet_model,
    check_steps,
    existing_pet,
    invert_pet,
    list_pets,
    pet_file,
    pet_preview,
    read_photo_upload,
)
from muybridge.studio.render import (
    FORMAT_SUFFIXES,
    MEDIA_TYPES,
    list_directions,
    render_animation_file,
    render_preview,
    studio_animation,
)
from muybridge.studio.training import latest_sample, resume_run, start_run
from muybridge.studio.training import list_runs as list_workspace_runs
from muybridge.studio.uploads import stage_upload
from muybridge.studio.workspace import check_name

router = APIRouter(prefix="/v1")
MAX_SEED = 2**31 - 1
EVENT_POLL_S = 0.25
HEARTBEAT_S = 15.0
_SAFE_PART = re.compile(r"[^A-Za-z0-9_-]+")


def studio_of(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def png_response(data: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store", **(headers or {})})


def job_json(job: Job, status_code: int = 200) -> JSONResponse:
    data = job.public()
    data["urls"] = [f"/v1/jobs/{job.id}/result/{i}" for i in range(len(job.files))]
    return JSONResponse(data, status_code=status_code)


# ---- models ----
class RenameBody(BaseModel):
    name: str = Field(description="The new folder name: letters, digits, '.', '_' or '-'.")


@router.get("/status", tags=["system"])
async def status(request: Request) -> dict[str, Any]:
    """Version, workspace and load: generate batches so far, jobs running."""
    studio = studio_of(request)
    return {"version": __version__, "workspace": str(studio.workspace.root),
            "generate": {"batches": studio.batcher.batches, "images": studio.batcher.images,
                         "max_queue": studio.batcher.max_queue},
            "jobs_running": sum(1 for job in studio.jobs.all() if job.status == "running"),
            "token_required": studio.settings.token is not None}


@router.get("/models", tags=["models"])
async def list_models(request: Request) -> list[dict[str, Any]]:
    """The bundled models (read-only) and every model folder in the workspace."""
    catalog = studio_of(request).catalog
    listed = []
    for entry in catalog.entries():
        try:
            listed.append(catalog.summary(entry))
        except MuybridgeError as exc:  # a broken folder is listed with its problem, not hidden
            listed.append({"name": entry.name, "bundled": entry.bundled, "error": str(exc)})
    return listed


@router.get("/models/{name}", tags=["models"])
async def get_model(request: Request, name: str) -> dict[str, Any]:
    """A model's config summary, card (Markdown) and metrics."""
    catalog = studio_of(request).catalog
    return await asyncio.to_thread(lambda: catalog.details(catalog.find(name)))


@router.patch("/models/{name}", tags=["models"])
async def rename_model(request: Request, name: str, body: RenameBody) -> dict[str, Any]:
    """Rename a workspace model (bundled models are read-only)."""
    catalog = studio_of(request).catalog
    entry = await asyncio.to_thread(catalog.rename, name, body.name)
    return catalog.summary(entry)


@router.delete("/models/{name}", tags=["models"])
async def delete_model(request: Request, name: str,
                       confirm: Annotated[str | None, Query(description="Repeat the model's name.")] = None
                       ) -> dict[str, Any]:
    """Delete a workspace model: ``?confirm=NAME`` is the confirmation step."""
    if confirm != name:
        raise StudioError(f"deleting {name!r} cannot be undone: repeat its name as ?confirm={name}")
    await asyncio.to_thread(studio_of(request).catalog.delete, name)
    return {"deleted": name}


@router.get("/models/{name}/download", tags=["models"], response_class=FileResponse)
async def download_model(request: Request, name: str) -> FileResponse:
    """The model folder as a zip (config.json, model.safetensors, model_card.md...)."""
    studio = studio_of(request)
    stamp = time.monotonic_ns()
    target = studio.workspace.inside(".tmp", f"download-{check_name(name, 'model')}-{stamp}.zip")
    await asyncio.to_thread(studio.catalog.zip_to, name, target)
    return FileResponse(target, media_type="application/zip", filename=f"{name}.zip",
                        background=BackgroundTask(target.unlink, missing_ok=True))


@router.get("/models/{name}/samples.png", tags=["models"], response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
async def model_samples(request: Request, name: str) -> Response:
    """A sample grid: one row per class, seeds 0-7."""
    catalog = studio_of(request).catalog
    return png_response(await asyncio.to_thread(catalog.sample_grid_png, name))


@router.get("/models/{name}/directions", tags=["models"])
async def model_directions(request: Request, name: str) -> list[dict[str, str]]:
    """Directions the sliders offer: named ones first, then the strongest SeFa directions."""
    catalog = studio_of(request).catalog
    return await asyncio.to_thread(lambda: list_directions(catalog.load(name)))


# ---- generate and preview ----
class GenerateBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    model: str | None = Field(None, description="Model name (default: the first listed).")
    class_name: str = Field(alias="class", description="A class, or a mix such as cat*0.7+dog*0.3.")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Names the character; random when absent.")
    n: int = Field(1, ge=1, le=64, description="Images in a grid (seeds seed .. seed+n-1).")
    truncation: float = Field(1.0, ge=0.0, le=2.0)
    size: int | None = Field(None, ge=8, le=1024, description="Side of each image in pixels.")
    save: bool = Field(False, description="Also save the picture under outputs/images/ in the workspace.")


def wants_json(request: Request, format_param: str | None) -> bool:
    if format_param is not None:
        return format_param == "json"
    return "application/json" in request.headers.get("accept", "")


def _output_name(*parts: str) -> str:
    return "-".join(_SAFE_PART.sub("_", part).strip("_") or "x" for part in parts)[:120]


@router.post("/generate", tags=["generate"], response_class=Response, responses={
    200: {"content": {"image/png": {}, "application/json": {}},
          "description": "PNG bytes, or JSON with base64 when Accept: application/json or ?format=json"},
    503: {"description": "Queue full; retry after the Retry-After header's seconds"}})
async def generate(request: Request, body: GenerateBody,
                   format: Annotated[Literal["png", "json"] | None, Query()] = None) -> Response:
    """Render one character (or a grid of ``n``); concurrent requests are batched together."""
    studio = studio_of(request)
    model = body.model or studio.catalog.default_name()
    class_spec, key_seed = parse_key(body.class_name)
    if key_seed is not None and body.seed is not None and key_seed != body.seed:
        raise StudioError(f"'{body.class_name}' names seed {key_seed} but seed is {body.seed}")
    first = body.seed if body.seed is not None else key_seed
    if first is None:
        first = random.randrange(MAX_SEED - 64)
    seeds = [min(first + i, MAX_SEED) for i in range(body.n)]
    generator = await asyncio.to_thread(studio.catalog.load, model)
    images = await studio.batcher.submit(model, [class_spec] * body.n, seeds, body.truncation)
    cells = resize_images(images, body.size or generator.resolution, resample_filter(generator, None))
    picture = images[0] if body.n == 1 and body.size is None else tile_images(cells)
    small = picture.size <= 256 * 256 * 3  # encoding a small PNG is quicker than a hop to a thread
    data = png_bytes(picture) if small else await asyncio.to_thread(png_bytes, picture)
    saved = None
    if body.save:
        grid_suffix = f"-n{body.n}" if body.n > 1 else ""
        name = _output_name(model, body.class_name, str(first)) + grid_suffix + ".png"
        target = studio.workspace.inside("outputs", "images", name)
        await asyncio.to_thread(atomic_write_bytes, target, data)
        saved = studio.workspace.relative(target)
    facts = {"model": model, "class": body.class_name, "seed": first, "seeds": seeds,
             "width": int(picture.shape[1]), "height": int(picture.shape[0]), "saved": saved}
    if wants_json(request, format):
        encoded = base64.b64encode(data).decode()
        return JSONResponse({**facts, "media_type": "image/png", "image_base64": encoded})
    headers = {"X-Seed": str(first), "X-Model": model}
    if saved:
        headers["X-Saved"] = saved
    return png_response(data, headers)


class PreviewBody(BaseModel):
    model: str | None = None
    character: str = Field(description="CLASS:SEED, e.g. cat:7.")
    offsets: dict[str, float] = Field(default_factory=dict,
                                      description="Direction → offset, e.g. {\"sefa:0\": 1.5}.")
    truncation: float = Field(1.0, ge=0.0, le=2.0)
    size: int | None = Field(None, ge=8, le=512)


@router.post("/preview", tags=["animate"], response_class=Response,
             responses={200: {"content": {"image/png": {}}}})
async def preview(request: Request, body: PreviewBody) -> Response:
    """One frame of a character moved along directions: the live preview of the sliders."""
    studio = studio_of(request)
    model = body.model or studio.catalog.default_name()
    generator = await asyncio.to_thread(studio.catalog.load, model)
    loop = asyncio.get_running_loop()
    frame = await loop.run_in_executor(studio.batcher.executor, render_preview, generator, body.character,
                                       body.offsets, body.truncation, body.size)
    return png_response(png_bytes(frame))


# ---- animate and jobs ----
AnimationOptionsBody = create_model("AnimationOptionsBody", **pydantic_fields())


class AnimateBody(AnimationOptionsBody):  # type: ignore[valid-type,misc]
    """An animation: what (mode, characters, keyframes, pet) and how (every field of ``AnimationOptions``, with
    its limits; checked by ``AnimationOptions.check`` before the job is accepted)."""

    model: str | None = None
    mode: Literal["loop", "walk", "morph", "motion", "timeline"] = "loop"
    characters: list[str] = Field(default_factory=lambda: ["cat:0"], max_length=16,
                                  description="Keys CLASS:SEED; walk and timeline take several, morph two.")
    format: Literal["gif", "mp4", "webp", "sprites"] = "gif"
    offsets: dict[str, float] = Field(default_factory=dict, description="Slider offsets for every frame.")
    keyframes: list[dict[str, Any]] | None = Field(None, max_length=64, description=(
        "timeline: [{time, class, seed, directions, easing}]; default: the characters spread evenly."))
    pet: str | None = Field(None, description=(
        "A pet's id (POST /v1/pets): its latent replaces the first character (loop, walk, morph, motion)."))

    def options(self) -> AnimationOptions:
        return AnimationOptions(**{item.name: getattr(self, item.name) for item in option_fields()}).check()


@router.post("/animate", tags=["animate"], status_code=202)
async def animate(request: Request, body: AnimateBody) -> JSONResponse:
    """Start an animation job; follow it at ``/v1/jobs/{id}`` (or ``/events``), then download the result."""
    studio = studio_of(request)
    model = body.model or studio.catalog.default_name()
    studio.catalog.find(model)
    options = body.options()
    pet = existing_pet(studio.workspace, body.pet) if body.pet else None
    if pet is not None:
        await asyncio.to_thread(lambda: check_pet_model(pet, studio.catalog.load(model)))
    animation = studio_animation(body.mode, body.characters, body.keyframes, options, pet)
    animation.builder(options)  # refuses bad keys now, not in the job
    animation.frame_count(options)
    characters = [f"pet-{body.pet}", *body.characters[1:]] if body.pet else body.characters
    title = f"{body.mode} {' '.join(characters)} ({body.format})"

    def work(job: Job) -> None:
        generator = studio.catalog.load(model)
        name = _output_name(body.mode, *characters[:2], job.id) + FORMAT_SUFFIXES[body.format]
        output = studio.workspace.inside("outputs", "animations", name)
        rendered = render_animation_file(generator, animation, options, body.offsets, output, job.progress)
        job.update(files=[studio.workspace.relative(path) for path in rendered.files],
                   result={"frames": rendered.frames, "width": rendered.width, "height": rendered.height,
                           "format": body.format, "fps": options.fps, "model": model})

    return job_json(studio.jobs.submit("animate", title, work), 202)


@router.get("/jobs", tags=["jobs"])
async def list_jobs(request: Request) -> list[dict[str, Any]]:
    """Recent jobs, newest first."""
    return [job.public() for job in studio_of(request).jobs.all()]


@router.get("/jobs/{job_id}", tags=["jobs"])
async def get_job(request: Request, job_id: str) -> JSONResponse:
    """A job's status, progress (done, total, info), error and result files."""
    return job_json(studio_of(request).jobs.get(job_id))


@router.post("/jobs/{job_id}/cancel", tags=["jobs"])
async def cancel_job(request: Request, job_id: str) -> JSONResponse:
    """Cancel a queued or running job; a training job stops at the next step and keeps its checkpoint."""
    return job_json(studio_of(request).jobs.cancel(job_id))


@router.get("/jobs/{job_id}/events", tags=["jobs"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    """Server-sent events: the job as JSON each time it changes, until it ends."""
    job = studio_of(request).jobs.get(job_id)

    async def stream() -> Any:
        seen = -1
        quiet_since = time.monotonic()
        while True:
            if job.version != seen:
                seen = job.version
                quiet_since = time.monotonic()
                yield f"data: {json.dumps(job.public())}\n\n"
                if job.finished_or_failed:
                    return
            elif time.monotonic() - quiet_since > HEARTBEAT_S:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(EVENT_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/jobs/{job_id}/result/{index}", tags=["jobs"], response_class=FileResponse)
async def job_result(request: Request, job_id: str, index: int,
                     download: Annotated[bool, Query()] = False) -> FileResponse:
    """A finished job's result file (0: the animation; 1: a sprite sheet's JSON atlas)."""
    studio = studio_of(request)
    job = studio.jobs.get(job_id)
    if job.status != "done" or not 0 <= index < len(job.files):
        raise NotFound(f"job {job_id} has no result {index} (status: {job.status})")
    return _file_response(studio.workspace.inside(job.files[index]), download)


def _file_response(path: Path, download: bool) -> FileResponse:
    if not path.is_file():
        raise NotFound(f"{path.name}: no such file")
    media_type = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=path.name if download else None,
                        content_disposition_type="attachment" if download else "inline")


@router.get("/outputs", tags=["outputs"])
async def list_outputs(request: Request) -> list[dict[str, Any]]:
    """Saved images and animations in the workspace, newest first."""
    root = studio_of(request).workspace.inside("outputs")
    files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [{"path": p.relative_to(root).as_posix(), "bytes": p.stat().st_size} for p in files[:500]]


@router.get("/outputs/{path:path}", tags=["outputs"], response_class=FileResponse)
async def get_output(request: Request, path: str, download: Annotated[bool, Query()] = False) -> FileResponse:
    """One saved file under ``outputs/`` (paths are checked: no ``..``, no absolute path, no link out)."""
    return _file_response(studio_of(request).workspace.inside("outputs", path), download)


# ---- datasets ----
def _dataset_meta(folder: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((folder / DATASET_FILE).read_text(encoding="utf-8"))
        return meta
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MuybridgeError(f"{folder.name}: not a readable dataset ({exc})") from None


@router.get("/datasets", tags=["datasets"])
async def list_datasets(request: Request) -> list[dict[str, Any]]:
    """Prepared datasets in the workspace."""
    folder = studio_of(request).workspace.inside("datasets")
    listed = []
    for path in sorted(folder.iterdir()):
        if (path / DATASET_FILE).is_file() and not path.name.startswith("."):
            meta = _dataset_meta(path)
            listed.append({"name": path.name, "count": meta.get("count"), "classes": meta.get("classes"),
                           "resolution": meta.get("resolution")})
    return listed


@router.get("/datasets/{name}", tags=["datasets"])
async def dataset_info(request: Request, name: str) -> dict[str, Any]:
    """Counts per class and split, what was skipped and why."""
    from muybridge.data import summarize

    folder = studio_of(request).workspace.existing("datasets", name, "dataset")
    meta = _dataset_meta(folder)
    return {"name": name, "count": meta["count"], "classes": meta["classes"],
            "resolution": meta["resolution"], "counts": meta["counts"], "skipped": meta.get("skipped", {}),
            "summary": summarize(meta)}


@router.get("/datasets/{name}/sheet.png", tags=["datasets"], response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
async def dataset_sheet(request: Request, name: str) -> Response:
    """A contact sheet of random images per class."""
    from muybridge.data import contact_sheet, open_dataset

    folder = studio_of(request).workspace.existing("datasets", name, "dataset")
    picture = await asyncio.to_thread(lambda: np.asarray(contact_sheet(open_dataset(folder), per_class=8)))
    return png_response(png_bytes(picture))


UPLOAD_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["name", "files"], "properties": {
        "name": {"type": "string", "description": "Dataset name."},
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": "Images, or zip archives (one class per folder)."},
        "size": {"type": "integer", "default": 64}, "class_name": {"type": "string"},
        "holdout": {"type": "string", "description": "A fraction held out for evaluation, e.g. 0.1."},
        "overwrite": {"type": "boolean", "default": False}}}}}}}


@router.post("/datasets", tags=["datasets"], status_code=202, openapi_extra=UPLOAD_SCHEMA)
async def upload_dataset(request: Request) -> JSONResponse:
    """Upload images or a zip → a prepare job (same decoding and checks as ``muybridge prepare``)."""
    studio = studio_of(request)
    limits = studio.settings.upload
    async with request.form(max_files=limits.max_files + 1, max_fields=16) as form:
        name = check_name(str(form.get("name") or ""), "dataset name")
        size = _form_int(form.get("size"), 64, "size")
        class_name = str(form.get("class_name") or "").strip() or None
        holdout = str(form.get("holdout") or "").strip() or None
        overwrite = str(form.get("overwrite") or "").lower() in ("1", "true", "on", "yes")
        if class_name is not None:
            check_name(class_name, "class name")
        if holdout is not None and not re.match(r"^0?\.\d+$", holdout):
            raise StudioError(f"holdout {holdout!r}: give a fraction such as 0.1")
        out = studio.workspace.area("datasets", name, "dataset name")
        if out.exists() and not overwrite:
            raise Conflict(f"a dataset named {name!r} exists already (send overwrite=true to replace it)")
        uploads = [(getattr(item, "filename", None) or "upload", item.file)
                   for item in form.getlist("files") if not isinstance(item, str)]
        staging = studio.workspace.inside(".staging", f"{name}-{time.monotonic_ns()}")
        try:
            source = await asyncio.to_thread(stage_upload, uploads, staging, class_name or name, limits)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def work(job: Job) -> None:
        from muybridge.data import prepare_dataset, summarize

        try:
            meta = prepare_dataset([source], out, size=size, class_name=class_name,
                                   holdout=[holdout] if holdout else None, workers=1, overwrite=overwrite,
                                   progress=job.progress)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        job.update(result={"dataset": name, "count": meta["count"], "classes": meta["classes"],
                           "summary": summarize(meta)})

    try:
        job = studio.jobs.submit("prepare", f"prepare {name}", work)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return job_json(job, 202)


def _form_int(value: Any, default: int, what: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise StudioError(f"{what} {value!r}: expected a whole number") from None


# ---- your pet ----
PET_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["photo"], "properties": {
        "photo": {"type": "string", "format": "binary", "description": "One photo of your pet."},
        "model": {"type": "string", "description": "Model name (default: the first listed)."},
        "class": {"type": "string", "default": "cat"},
        "steps": {"type": "integer", "default": DEFAULT_STEPS, "maximum": MAX_STEPS},
        "detect": {"type": "boolean", "default": True,
                   "description": "Find the face (cats); off: the photo's centre square."}}}}}}}


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
        steps = check_steps(_form_int(form.get("steps"), DEFAULT_STEPS, "steps"))
        detect = str(form.get("detect") or "true").lower() in ("1", "true", "on", "yes")
    generator = await asyncio.to_thread(studio.catalog.load, model)
    class_name = class_field or default_class(generator)
    generator.class_index(class_name)

    def work(job: Job) -> None:
        target = pet_file(studio.workspace, job.id)
        summary = invert_pet(generator, data, photo_name, class_name, steps, detect, target, job.progress)
        job.update(files=[studio.workspace.relative(pet_preview(target)), studio.workspace.relative(target)],
                   result={"pet": job.id, **summary})

    title = f"invert {photo_name} as {class_name} ({model})"
    return job_json(studio.jobs.submit("invert", title, work), 202)


@router.get("/pets", tags=["pets"])
async def get_pets(request: Request) -> list[dict[str, Any]]:
    """Your pets (inverted photos), newest first: id, model, class, photo name, losses, preview URL."""
    return await asyncio.to_thread(list_pets, studio_of(request).workspace)


@router.get("/pets/{pet_id}/preview.png", tags=["pets"], response_class=FileResponse)
async def pet_preview_png(request: Request, pet_id: str) -> FileResponse:
    """The pet's side-by-side strip: the photo's crop, the encoder's guess, the refined reconstruction."""
    return _file_response(pet_preview(existing_pet(studio_of(request).workspace, pet_id)), False)


# ---- training ----
class TrainBody(BaseModel):
    dataset: str = Field(description="A prepared dataset in the workspace.")
    name: str | None = Field(None, description="Run (and exported model) name; default: the dataset's.")
    architecture: str | None = Field(None, description="gallop (default) or dcgan.")
    minutes: float = Field(10.0, gt=0, le=7 * 24 * 60, description="Training time (wall-clock).")
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="Training settings, as in a `train --config` file.")
    init_from: str | None = Field(None, description="A model (bundled or in the workspace) to start from: "
                                  "fine-tuning, as `train --init-from`. The run takes its architecture.")


class ResumeBody(BaseModel):
    run: str
    minutes: float = Field(10.0, gt=0, le=7 * 24 * 60, description="More training time.")


@router.post("/train", tags=["train"], status_code=202)
async def start_training(request: Request, body: TrainBody) -> JSONResponse:
    """Start training a new run (in its own process); the finished run is exported into the models."""
    studio = studio_of(request)
    source = studio.catalog.find(body.init_from).path if body.init_from else None
    overrides = {"architecture": body.architecture} if body.architecture else {}
    job = start_run(studio.workspace, studio.jobs, studio.settings.train_threads, body.dataset,
                    body.name or body.dataset, body.minutes, body.settings, overrides, source)
    return job_json(job, 202)


@router.post("/train/stop", tags=["train"])
async def stop_training(request: Request) -> JSONResponse:
    """Ask the running training job to stop: it checkpoints, exports, and can be resumed."""
    jobs = studio_of(request).jobs
    running = jobs.running_training()
    if not running:
        raise NotFound("no training job is running")
    return job_json(jobs.cancel(running[0].id))


@router.post("/train/resume", tags=["train"], status_code=202)
async def resume_training(request: Request, body: ResumeBody) -> JSONResponse:
    """Continue a run exactly where it stopped, for ``minutes`` more."""
    studio = studio_of(request)
    return job_json(resume_run(studio.workspace, studio.jobs, studio.settings.train_threads, body.run,
                               body.minutes), 202)


@router.get("/runs", tags=["train"])
async def list_runs(request: Request) -> list[dict[str, Any]]:
    """Training runs in the workspace, with their last logged kimg and whether a model was exported."""
    studio = studio_of(request)
    return list_workspace_runs(studio.workspace, studio.jobs)


@router.get("/runs/{name}/sample.png", tags=["train"], response_class=FileResponse)
async def run_sample(request: Request, name: str) -> FileResponse:
    """The run's latest sample grid (rows: classes, columns: fixed seeds)."""
    path = latest_sample(studio_of(request).workspace, name)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})


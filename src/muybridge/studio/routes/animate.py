"""Animation jobs, the job queue (status, events, cancel, results) and saved outputs."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import Field, create_model

from muybridge.animation.modes import Animation, LatentSource, PathBuilder
from muybridge.animation.motions import MOTION_NAMES, MOTIONS
from muybridge.animation.options import AnimationOptions, option_fields, pydantic_fields
from muybridge.animation.pack import character_pack
from muybridge.generator import Generator
from muybridge.studio.errors import NotFound, StudioError
from muybridge.studio.jobs import Job
from muybridge.studio.pets import (
    check_pet_model,
    existing_pet,
)
from muybridge.studio.render import (
    FORMAT_SUFFIXES,
    direction_offset,
    render_animation_file,
    studio_animation,
)
from muybridge.studio.routes.common import (
    EVENT_POLL_S,
    HEARTBEAT_S,
    file_response,
    job_json,
    job_payload,
    output_name,
    studio_of,
)

router = APIRouter()


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


def check_against_model(generator: Generator, build: PathBuilder, options: AnimationOptions,
                        offsets: dict[str, float]) -> None:
    """What only the model can tell, before a job is accepted: its classes, its directions, its pose input."""
    rows, cols = options.grid_shape()
    for cell in range(rows * cols):
        build(generator, cell)
    direction_offset(generator, offsets)


def rendered_pixels(options: AnimationOptions, pictures: int, resolution: int) -> int:
    """The pixels a job renders: ``pictures`` (frames x grid cells) at the chosen size or the model's."""
    return pictures * (options.size or resolution) ** 2


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
    build = animation.builder(options)  # refuses bad keys now, not in the job
    frames = animation.frame_count(options)
    generator = await asyncio.to_thread(studio.catalog.load, model)
    await asyncio.to_thread(check_against_model, generator, build, options, body.offsets)
    rows, cols = options.grid_shape()
    pixels = rendered_pixels(options, frames * rows * cols, generator.resolution)
    characters = [f"pet-{body.pet}", *body.characters[1:]] if body.pet else body.characters
    title = f"{body.mode} {' '.join(characters)} ({body.format})"

    def work(job: Job) -> None:
        generator = studio.catalog.load(model)
        name = output_name(body.mode, *characters[:2], job.id) + FORMAT_SUFFIXES[body.format]
        output = studio.workspace.inside("outputs", "animations", name)
        rendered = render_animation_file(generator, animation, options, body.offsets, output, job.progress)
        job.update(files=[studio.workspace.relative(path) for path in rendered.files],
                   result={"frames": rendered.frames, "width": rendered.width, "height": rendered.height,
                           "format": body.format, "fps": options.fps, "model": model})

    request_again = {"path": "/v1/animate", "body": body.model_dump(mode="json")}
    return job_json(studio.jobs.submit("animate", title, work, request_again, pixels), 202)


@router.get("/motions", tags=["animate"])
async def list_motions() -> list[dict[str, str]]:
    """The motion library: every move a character can make while staying the same animal."""
    return [{"id": motion.name, "description": motion.description} for motion in MOTIONS.values()]


#: The options a character pack takes: every motion option but the choice of one motion or direction.
PACK_EXCLUDED = ("motion", "direction", "amplitude", "cycles", "grid", "radius", "loop", "easing", "interpolation")
CharacterOptionsBody = create_model("CharacterOptionsBody", **pydantic_fields(exclude=PACK_EXCLUDED))


class CharacterBody(CharacterOptionsBody):  # type: ignore[valid-type,misc]
    """A character pack: one character (or your pet) doing every motion of the library (or those listed)."""

    model: str | None = None
    character: str = Field("cat:0", description="CLASS:SEED, e.g. cat:7 (with a pet: the class it is drawn as).")
    motions: list[str] = Field(default_factory=lambda: list(MOTION_NAMES), min_length=1, max_length=len(MOTIONS),
                               description="Which motions; default: all of the library.")
    pet: str | None = Field(None, description="A pet's id (POST /v1/pets): the pack draws your pet.")

    def options(self) -> AnimationOptions:
        values = {item.name: getattr(self, item.name) for item in option_fields() if item.name not in PACK_EXCLUDED}
        return AnimationOptions(**values).check()


@router.post("/character", tags=["animate"], status_code=202)
async def character(request: Request, body: CharacterBody) -> JSONResponse:
    """Start a character-pack job: every motion as GIF previews, one tagged sprite sheet, a Godot SpriteFrames
    resource and a contact sheet; ``result.previews`` maps each motion to its file index, the last is the zip."""
    studio = studio_of(request)
    model = body.model or studio.catalog.default_name()
    studio.catalog.find(model)
    options = body.options()
    unknown = [name for name in body.motions if name not in MOTIONS]
    if unknown:
        raise StudioError(f"motions: unknown motion '{unknown[0]}'; known: {', '.join(MOTION_NAMES)}")
    pet = existing_pet(studio.workspace, body.pet) if body.pet else None
    if pet is not None:
        await asyncio.to_thread(lambda: check_pet_model(pet, studio.catalog.load(model)))
        class_key = body.character.split(":")[0] if body.character else None
        animation = Animation("motion", source=LatentSource(pet, 0, class_key))
    else:
        animation = Animation("motion", (body.character,))
    animation.builder(options)  # refuses a bad key now, not in the job
    frames = options.frame_count()
    resolution = (await asyncio.to_thread(studio.catalog.load, model)).resolution
    pixels = rendered_pixels(options, frames * len(body.motions), resolution)
    who = f"pet-{body.pet}" if body.pet else body.character

    def work(job: Job) -> None:
        generator = studio.catalog.load(model)
        folder = studio.workspace.inside("outputs", "characters", output_name(who, job.id))
        pack = character_pack(generator, animation, folder, options, body.motions, job.progress)
        archive = Path(shutil.make_archive(str(folder), "zip", folder))
        previews = [folder / "previews" / f"{name}.gif" for name in pack.motions]
        files = [*previews, folder / "contact.png", archive]
        job.update(files=[studio.workspace.relative(path) for path in files],
                   result={"model": model, "character": who, "motions": list(pack.motions), "frames": pack.frames,
                           "fps": options.fps, "previews": {name: i for i, name in enumerate(pack.motions)},
                           "contact": len(previews), "download": len(previews) + 1})

    request_again = {"path": "/v1/character", "body": body.model_dump(mode="json")}
    title = f"character {who} ({len(body.motions)} motions)"
    return job_json(studio.jobs.submit("character", title, work, request_again, pixels), 202)


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
                yield f"data: {json.dumps(job_payload(job))}\n\n"
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
    return file_response(studio.workspace.inside(job.files[index]), download)


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
    return file_response(studio_of(request).workspace.inside("outputs", path), download)

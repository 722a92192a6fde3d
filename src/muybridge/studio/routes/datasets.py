"""Datasets: list, details, contact sheets, uploads (a prepare job), delete."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from muybridge.data.format import DATASET_FILE
from muybridge.data.prepare import MAX_SIZE, MIN_SIZE
from muybridge.errors import MuybridgeError
from muybridge.studio.errors import Conflict, StudioError
from muybridge.studio.jobs import Job
from muybridge.studio.routes.common import form_int, job_json, png_bytes, png_response, studio_of
from muybridge.studio.uploads import stage_upload
from muybridge.studio.workspace import check_name
from muybridge.training.run import RunFolder

if TYPE_CHECKING:
    from muybridge.studio.app import Studio  # the app includes these routes

router = APIRouter()
PREPARE = "prepare "
"""A prepare job's title is PREPARE + the dataset's name (delete refuses a dataset being written)."""


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
    try:
        return {"name": name, "count": meta["count"], "classes": meta["classes"],
                "resolution": meta["resolution"], "counts": meta["counts"], "skipped": meta.get("skipped", {}),
                "summary": summarize(meta)}
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # a hand-edited dataset.json
        raise MuybridgeError(f"{name}: {DATASET_FILE} is incomplete or malformed "
                             f"({type(exc).__name__}: {str(exc)[:80]})") from None


@router.get("/datasets/{name}/sheet.png", tags=["datasets"], response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
async def dataset_sheet(request: Request, name: str) -> Response:
    """A contact sheet of random images per class."""
    from muybridge.data import contact_sheet, open_dataset

    folder = studio_of(request).workspace.existing("datasets", name, "dataset")
    picture = await asyncio.to_thread(lambda: np.asarray(contact_sheet(open_dataset(folder), per_class=8)))
    return png_response(png_bytes(picture))


def datasets_in_use(studio: Studio) -> dict[str, str]:
    """Dataset name → what uses it: running training jobs (the dataset they read) and prepare jobs (writing)."""
    used: dict[str, str] = {}
    for job in studio.jobs.running_training():
        dataset = job.result.get("dataset")
        run = job.result.get("run")
        if dataset is None and run is not None:  # started elsewhere: the run folder names its dataset
            try:
                folder = RunFolder(studio.workspace.existing("runs", str(run), "run"))
                dataset = Path(str(folder.read()["dataset"]["path"])).name
            except (MuybridgeError, OSError, KeyError, TypeError, ValueError):
                dataset = None
        if dataset is not None:
            used[str(dataset)] = f"training job {job.id} ({job.title})"
    for job in studio.jobs.all():
        if job.kind == "prepare" and job.title.startswith(PREPARE) and not job.finished_or_failed:
            used[job.title.removeprefix(PREPARE)] = f"prepare job {job.id}"
    return used


@router.delete("/datasets/{name}", tags=["datasets"])
async def delete_dataset(request: Request, name: str,
                         confirm: Annotated[str | None, Query(description="Repeat the dataset's name.")] = None
                         ) -> dict[str, Any]:
    """Delete a dataset: ``?confirm=NAME`` is the confirmation step; refused while a job uses it."""
    studio = studio_of(request)
    folder = studio.workspace.existing("datasets", name, "dataset")
    if confirm != name:
        raise StudioError(f"deleting dataset {name!r} cannot be undone: repeat its name as ?confirm={name}")
    user = datasets_in_use(studio).get(name)
    if user is not None:
        raise Conflict(f"dataset {name!r} is in use by {user}: stop it first")
    trash = studio.workspace.inside(".tmp", f"deleted-dataset-{name}-{time.monotonic_ns()}")

    def remove() -> None:
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder, trash)  # gone from the list at once, even if removing the files takes a while
        shutil.rmtree(trash, ignore_errors=True)

    await asyncio.to_thread(remove)
    return {"deleted": name}


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
        size = form_int(form.get("size"), 64, "size")
        if not MIN_SIZE <= size <= MAX_SIZE:  # refused before the upload is staged, not in the job
            raise StudioError(f"size {size}: must be between {MIN_SIZE} and {MAX_SIZE} pixels")
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
        job = studio.jobs.submit("prepare", f"{PREPARE}{name}", work)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return job_json(job, 202)

"""Datasets: list, details, contact sheets, uploads (a prepare job)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from muybridge.data.format import DATASET_FILE
from muybridge.errors import MuybridgeError
from muybridge.studio.errors import Conflict, StudioError
from muybridge.studio.jobs import Job
from muybridge.studio.routes.common import form_int, job_json, png_bytes, png_response, studio_of
from muybridge.studio.uploads import stage_upload
from muybridge.studio.workspace import check_name

router = APIRouter()


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
        size = form_int(form.get("size"), 64, "size")
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

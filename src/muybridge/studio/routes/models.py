"""Models: list, details, rename, delete, download (zip, ONNX), sample grids, directions; and the status."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from muybridge import __version__
from muybridge.errors import MuybridgeError
from muybridge.studio.errors import StudioError
from muybridge.studio.render import (
    list_directions,
)
from muybridge.studio.routes.common import png_response, studio_of
from muybridge.studio.workspace import check_name

router = APIRouter()


class RenameBody(BaseModel):
    model_config = ConfigDict(strict=True)

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


@router.get("/models/{name}/onnx", tags=["models"], response_class=FileResponse)
async def download_onnx(request: Request, name: str,
                        pose: Annotated[bool, Query(description="Add the head-pose input that the motions move "
                                                    "(opset 20, for onnxruntime; without: opset 15, for Unity)."
                                                    )] = False) -> FileResponse:
    """The model's decoder as an ONNX graph (``muybridge export-onnx``), its metadata inside."""
    from muybridge.engines.onnx import export_onnx

    studio = studio_of(request)
    generator = await asyncio.to_thread(studio.catalog.load, name)
    target = studio.workspace.inside(".tmp", f"onnx-{check_name(name, 'model')}-{time.monotonic_ns()}.onnx")
    files = await asyncio.to_thread(export_onnx, generator, target, pose)

    def remove() -> None:
        for path in files:
            path.unlink(missing_ok=True)

    return FileResponse(target, media_type="application/octet-stream", filename=f"{name}.onnx",
                        background=BackgroundTask(remove))


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

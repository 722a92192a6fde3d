"""Still images: generate (batched) and the sliders' live preview."""

from __future__ import annotations

import asyncio
import base64
import random
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from muybridge.files import atomic_write_bytes
from muybridge.keys import parse_key
from muybridge.pictures import resample_filter, resize_images, tile_images
from muybridge.studio.errors import StudioError
from muybridge.studio.render import (
    render_preview,
)
from muybridge.studio.routes.common import MAX_SEED, output_name, png_bytes, png_response, studio_of, wants_json

router = APIRouter()


class GenerateBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True, strict=True)  # seed: true is not seed 1

    model: str | None = Field(None, description="Model name (default: the first listed).")
    class_name: str = Field(alias="class", description="A class, or a mix such as cat*0.7+dog*0.3.")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Names the character; random when absent.")
    n: int = Field(1, ge=1, le=64, description="Images in a grid (seeds seed .. seed+n-1).")
    truncation: float = Field(1.0, ge=0.0, le=2.0)
    size: int | None = Field(None, ge=8, le=1024, description="Side of each image in pixels.")
    save: bool = Field(False, description="Also save the picture under outputs/images/ in the workspace.")


def check_pixels(n: int, side: int, cap: int) -> None:
    """Refuse a request that would render more than ``cap`` pixels (n pictures of side x side)."""
    if n * side * side > cap:
        raise StudioError(f"{n} x {side}x{side} px is {n * side * side:,} pixels: one generate request may "
                          f"render at most {cap:,} (fewer pictures or a smaller size)")


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
    cap = studio.settings.max_generate_pixels
    check_pixels(body.n, body.size or 0, cap)  # before loading anything
    generator = await asyncio.to_thread(studio.catalog.load, model)
    check_pixels(body.n, max(body.size or 0, generator.resolution), cap)
    images = await studio.batcher.submit(model, [class_spec] * body.n, seeds, body.truncation)
    cells = resize_images(images, body.size or generator.resolution, resample_filter(generator, None))
    picture = images[0] if body.n == 1 and body.size is None else tile_images(cells)
    small = picture.size <= 256 * 256 * 3  # encoding a small PNG is quicker than a hop to a thread
    data = png_bytes(picture) if small else await asyncio.to_thread(png_bytes, picture)
    saved = None
    if body.save:
        grid_suffix = f"-n{body.n}" if body.n > 1 else ""
        name = output_name(model, body.class_name, str(first)) + grid_suffix + ".png"
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
    model_config = ConfigDict(strict=True)

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

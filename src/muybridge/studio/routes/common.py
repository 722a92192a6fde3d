"""What the routes share: the studio behind a request, PNG and file answers, job JSON, form fields."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse, Response
from PIL import Image

from muybridge.keys import MAX_SEED as MAX_SEED
from muybridge.studio.errors import NotFound, StudioError
from muybridge.studio.jobs import Job
from muybridge.studio.render import (
    MEDIA_TYPES,
)

if TYPE_CHECKING:
    from muybridge.studio.app import Studio  # the app includes these routes

EVENT_POLL_S = 0.25
HEARTBEAT_S = 15.0
SAFE_PART = re.compile(r"[^A-Za-z0-9_-]+")


def studio_of(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def png_response(data: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store", **(headers or {})})


def job_payload(job: Job) -> dict[str, Any]:
    """A job as the API shows it everywhere (``GET /v1/jobs/{id}`` and its event stream): with result URLs."""
    return {**job.public(), "urls": [f"/v1/jobs/{job.id}/result/{i}" for i in range(len(job.files))]}


def job_json(job: Job, status_code: int = 200) -> JSONResponse:
    return JSONResponse(job_payload(job), status_code=status_code)




def file_response(path: Path, download: bool) -> FileResponse:
    if not path.is_file():
        raise NotFound(f"{path.name}: no such file")
    media_type = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=path.name if download else None,
                        content_disposition_type="attachment" if download else "inline")




def output_name(*parts: str) -> str:
    return "-".join(SAFE_PART.sub("_", part).strip("_") or "x" for part in parts)[:120]




def wants_json(request: Request, format_param: str | None) -> bool:
    if format_param is not None:
        return format_param == "json"
    return "application/json" in request.headers.get("accept", "")




def form_int(value: Any, default: int, what: str) -> int:
    if value in (None, ""):
        return default
    text = str(value).strip()
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise StudioError(f"{what} {shown!r}: expected a whole number")
    return int(text)




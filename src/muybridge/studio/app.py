"""The studio application: settings, shared state, error contract, static UI, and the server entry point."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from muybridge import __version__
from muybridge.animation.options import MAX_BYTES, OptionError
from muybridge.errors import MuybridgeError
from muybridge.memory import keep_freed_memory
from muybridge.studio.batcher import GenerateBatcher
from muybridge.studio.catalog import ModelCatalog
from muybridge.studio.errors import Busy
from muybridge.studio.jobs import JobManager
from muybridge.studio.routes import router
from muybridge.studio.security import (
    CONTENT_SECURITY_POLICY,
    SECURITY_HEADERS,
    AccessGuard,
    SecurityHeaders,
    check_bind,
)
from muybridge.studio.uploads import UploadLimits
from muybridge.studio.workspace import Workspace
from muybridge.zoo import ZOO

STATIC = Path(__file__).parent / "static"
SWAGGER_UI = "/static/vendor/swagger-ui"
"""Swagger UI's files, vendored (see its SOURCE.md): ``/docs`` works offline and loads nothing from elsewhere."""
MAX_GENERATE_PIXELS = 4 * 2**20
"""Pixels one ``generate`` request may render (n x side², at the larger of ``size`` and the model's resolution):
64 pictures at 256 px, 16 at 512 or 4 at 1024."""
MAX_QUEUED_PIXELS = 2 * (MAX_BYTES // 3)
"""Two of the largest animations the limits allow (MAX_BYTES of RGB frames each) may wait at once."""
log = logging.getLogger("muybridge.studio")


@dataclass(frozen=True)
class StudioSettings:
    workspace: Path = Path("studio-workspace")
    token: str | None = None
    bundled_dir: Path | None = ZOO
    max_queue: int = 64
    """Generate requests waiting at most; more are answered 503 with Retry-After."""
    max_batch: int = 64
    batch_window_s: float = 0.004
    max_pending_jobs: int = 8
    max_training_jobs: int = 1
    train_threads: int = max(1, (os.cpu_count() or 2) - 1)
    """Torch threads of a training process: one core stays free for the server on a 2-core CPU."""
    upload: UploadLimits = field(default_factory=UploadLimits)
    max_generate_pixels: int = MAX_GENERATE_PIXELS
    """Pixels one generate request may render; more are refused with a 400 naming the limit."""
    max_queued_pixels: int = MAX_QUEUED_PIXELS
    """Pixels the unfinished animation jobs may render together; a job that would pass it is answered 503 with
    Retry-After (one job alone may always queue: its own size is capped by the animation limits)."""


class Studio:
    """Everything the routes share: workspace, models, the generate batcher and the jobs."""

    def __init__(self, settings: StudioSettings) -> None:
        self.settings = settings
        self.workspace = Workspace(settings.workspace)
        self.catalog = ModelCatalog(self.workspace, settings.bundled_dir)
        self.batcher = GenerateBatcher(self.catalog.load, max_queue=settings.max_queue,
                                       max_batch=settings.max_batch, window_s=settings.batch_window_s)
        self.jobs = JobManager(settings.max_pending_jobs, settings.max_training_jobs,
                               journal=self.workspace.inside(".jobs"), max_queued_pixels=settings.max_queued_pixels)

    def close(self) -> None:
        self.jobs.shutdown()
        self.batcher.close()


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **extra: str) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path"))
    message = str(first.get("msg", "invalid value"))
    more = f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})" if len(errors) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def install_error_handlers(app: FastAPI) -> None:
    """Every error is ``{"error": "one line"}`` with a fitting status; never a stack trace."""

    @app.exception_handler(OptionError)
    async def option_error(request: Request, exc: OptionError) -> JSONResponse:
        """The same check as the CLI's, in the API's words: ``fps: must be ...`` and the field's name."""
        return error_response(400, f"{exc.field}: {exc.problem}", field=exc.field)

    @app.exception_handler(MuybridgeError)
    async def user_error(request: Request, exc: MuybridgeError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
        return error_response(getattr(exc, "status", 400), str(exc).splitlines()[0] if str(exc) else "error",
                              headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        # answered outside the middleware stack, so the security headers are added here
        return error_response(500, "internal error; the server log has the details", dict(SECURITY_HEADERS))


def docs_page(openapi_url: str) -> HTMLResponse:
    """Swagger UI from the package's own files; its one inline script is allowed by hash, nothing else is."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title="muybridge studio API",
                               swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
                               swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
                               swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
                               swagger_ui_parameters={"validatorUrl": None})
    html = bytes(page.body).decode()
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
                      for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL))
    policy = CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' {hashes}")
    return HTMLResponse(html, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"})


def create_app(settings: StudioSettings | None = None) -> FastAPI:
    """The FastAPI app of one workspace; see ``docs/studio.md``."""

    settings = settings or StudioSettings()
    studio = Studio(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        studio.close()

    app = FastAPI(title="muybridge studio", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Generate, animate and train animal characters. Errors are "
                              '`{"error": "one line"}`.')
    app.state.studio = studio
    install_error_handlers(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return docs_page(app.openapi_url or "/openapi.json")

    app.add_middleware(AccessGuard, token=settings.token, max_body=settings.upload.max_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: the guard's refusals carry the headers too
    return app


def serve(host: str = "127.0.0.1", port: int = 7860, workspace: Path = Path("studio-workspace"),
          token: str | None = None) -> None:
    """Check the binding, then run the studio with uvicorn until interrupted."""
    import uvicorn

    check_bind(host, token)
    keep_freed_memory()  # the server renders batch after batch for as long as it runs
    app = create_app(StudioSettings(workspace=workspace, token=token))
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)

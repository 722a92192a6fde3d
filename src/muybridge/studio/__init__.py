"""The studio: a web UI and REST API (``/v1``) over the whole flow, for ``muybridge studio``.

``create_app(StudioSettings(workspace=...))`` builds the FastAPI app; :func:`serve` runs it with uvicorn.
"""

from muybridge.studio.app import StudioSettings, create_app, serve

__all__ = ["StudioSettings", "create_app", "serve"]

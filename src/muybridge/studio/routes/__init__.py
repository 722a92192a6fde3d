"""The REST API under ``/v1``, one module per group of routes: models, generate, animate (with jobs and outputs),
datasets, pets, training. A new route goes in the module of its group (or a new module listed here).

Routes stay thin: they check input, hand work to the batcher (generate) or a job (animate, prepare,
train) and shape the answer. Nothing here blocks the event loop: model loading, decoding and file work
run in threads, training in its own process.
"""

from __future__ import annotations

from fastapi import APIRouter

from muybridge.studio.routes import animate, datasets, generate, models, pets, training

router = APIRouter(prefix="/v1")
for group in (models, generate, animate, datasets, pets, training):
    router.include_router(group.router)

"""Training: start, stop and resume runs (each in its own process), list runs, sample grids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from muybridge.studio.errors import NotFound
from muybridge.studio.jobs import Job
from muybridge.studio.routes.common import job_json, studio_of
from muybridge.studio.training import latest_sample, resume_run, start_run
from muybridge.studio.training import list_runs as list_workspace_runs
from muybridge.training.run import RunFolder

router = APIRouter()


def _record_dataset(job: Job, dataset: str) -> Job:
    """Name the dataset in the job's result from the start: deleting it is refused while the job runs."""
    job.update(result={**job.result, "dataset": dataset})
    return job


class TrainBody(BaseModel):
    model_config = ConfigDict(strict=True)

    dataset: str = Field(description="A prepared dataset in the workspace.")
    name: str | None = Field(None, description="Run (and exported model) name; default: the dataset's.")
    architecture: str | None = Field(None, description="gallop (default) or dcgan.")
    minutes: float = Field(10.0, gt=0, le=7 * 24 * 60, description="Training time (wall-clock).")
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="Training settings, as in a `train --config` file.")
    init_from: str | None = Field(None, description="A model (bundled or in the workspace) to start from: "
                                  "fine-tuning, as `train --init-from`. The run takes its architecture.")


class ResumeBody(BaseModel):
    model_config = ConfigDict(strict=True)

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
    return job_json(_record_dataset(job, body.dataset), 202)


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
    job = resume_run(studio.workspace, studio.jobs, studio.settings.train_threads, body.run, body.minutes)
    run = RunFolder(studio.workspace.existing("runs", body.run, "run")).read()
    return job_json(_record_dataset(job, Path(str(run["dataset"]["path"])).name), 202)


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

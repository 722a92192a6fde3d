"""Long work off the event loop: render and prepare jobs on a worker thread, training in its own process.

A :class:`Job` is the studio's record of one piece of work: status, progress (``done``/``total`` and the
library's ``info`` facts), result files and error message. Its ``version`` grows on every change, which is
what the server-sent event stream watches. Thread jobs are cancelled through their progress callback
(it raises :class:`Cancelled` at the next report); training jobs are asked to stop through an event the
training loop polls, so they always end on a checkpoint and can be resumed.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muybridge.errors import MuybridgeError
from muybridge.files import atomic_write_json
from muybridge.studio.errors import Busy, Conflict, NotFound

TERMINAL = frozenset({"done", "failed", "cancelled", "interrupted"})
#: Changes worth recording in the workspace's job journal (progress ticks are not).
RECORDED = frozenset({"status", "files", "result", "error"})
INTERRUPTED = "the studio stopped while this job ran; run it again"
KEEP_FINISHED = 200


class Cancelled(Exception):
    """Raised inside a job's work by its progress callback once cancellation was asked for."""


@dataclass
class Job:
    id: str
    kind: str
    title: str
    status: str = "queued"
    done: int = 0
    total: int | None = None
    info: dict[str, float | str] = field(default_factory=dict)
    error: str | None = None
    files: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    version: int = 0
    request: dict[str, Any] | None = None  # {"path": "/v1/animate", "body": {...}}: what "run again" posts
    pixels: int = 0  # what the job renders (frames x side²), counted against the queue's pixel cap
    journal: Path | None = field(default=None, repr=False)
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def update(self, **values: Any) -> None:
        with self.changed:
            for key, value in values.items():
                setattr(self, key, value)
            self.version += 1
            self.changed.notify_all()
        if self.journal is not None and RECORDED & set(values):
            self.record()

    def record(self) -> None:
        """Write the job's state to the journal, so a restarted studio still knows it (and that it was cut)."""
        assert self.journal is not None
        atomic_write_json(self.journal / f"{self.id}.json", self.public())

    def progress(self, done: int, total: int | None, /, **info: float | str) -> None:
        """The library's ``Progress`` callback for this job; raises :class:`Cancelled` when asked to stop."""
        if self.cancel_requested.is_set():
            raise Cancelled()
        self.update(done=done, total=total, info={**self.info, **info})

    @property
    def finished_or_failed(self) -> bool:
        return self.status in TERMINAL

    def public(self) -> dict[str, Any]:
        fraction = (self.done / self.total) if self.total else None
        return {"id": self.id, "kind": self.kind, "title": self.title, "status": self.status,
                "done": self.done, "total": self.total, "fraction": fraction, "info": dict(self.info),
                "error": self.error, "files": list(self.files), "result": dict(self.result),
                "created": self.created, "started": self.started, "finished": self.finished,
                "version": self.version, "stop_requested": self.cancel_requested.is_set(), "request": self.request,
                "pixels": self.pixels}


Work = Callable[[Job], None]


class JobManager:
    """Thread jobs run one at a time (the CPU has 2 cores); at most ``max_training`` training processes."""

    def __init__(self, max_pending: int = 8, max_training: int = 1, journal: Path | None = None,
                 max_queued_pixels: int | None = None) -> None:
        self.max_pending = max_pending
        self.max_training = max_training
        self.max_queued_pixels = max_queued_pixels
        self.journal = journal
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._futures: dict[str, Future[None]] = {}
        self._processes: dict[str, multiprocessing.process.BaseProcess] = {}
        self._stop_events: dict[str, Any] = {}
        self._lock = threading.Lock()
        if journal is not None:
            journal.mkdir(parents=True, exist_ok=True)
            self._restore(journal)

    def _restore(self, journal: Path) -> None:
        """The jobs of earlier studio sessions, newest last; those that had not ended are now interrupted."""
        records = []
        for path in journal.glob("*.json"):
            try:
                records.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # a half-written record of a crash: nothing to show
        for data in sorted(records, key=lambda r: float(r.get("created") or 0))[-KEEP_FINISHED:]:
            fields = {k: data[k] for k in ("id", "kind", "title", "status", "done", "total", "info", "error", "files",
                                           "result", "created", "started", "finished", "request") if k in data}
            job = Job(**fields, journal=journal)
            if not job.finished_or_failed:
                job.update(status="interrupted", error=INTERRUPTED, finished=time.time())
            self._jobs[job.id] = job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job

    def all(self) -> list[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def _add(self, kind: str, title: str, request: dict[str, Any] | None = None, pixels: int = 0) -> Job:
        job = Job(uuid.uuid4().hex[:12], kind, title, request=request, pixels=pixels, journal=self.journal)
        with self._lock:
            self._jobs[job.id] = job
            finished = [j.id for j in self._jobs.values() if j.finished_or_failed]
            for old in finished[: max(0, len(finished) - KEEP_FINISHED)]:
                gone = self._jobs.pop(old)
                if self.journal is not None:
                    (self.journal / f"{gone.id}.json").unlink(missing_ok=True)
        if self.journal is not None:
            job.record()
        return job

    def submit(self, kind: str, title: str, work: Work, request: dict[str, Any] | None = None,
               pixels: int = 0) -> Job:
        """Queue ``work(job)`` on the job thread; :class:`Busy` when ``max_pending`` jobs already wait, or when
        its ``pixels`` (what it renders) would take the unfinished jobs' past ``max_queued_pixels``.
        ``request`` (the route and body that asked for it) is what "run again" posts after an interruption."""
        with self._lock:
            pending = [j for j in self._jobs.values() if j.kind != "train" and not j.finished_or_failed]
        if len(pending) >= self.max_pending:
            raise Busy(f"{len(pending)} jobs are queued already; wait for one to finish", retry_after=5)
        queued = sum(j.pixels for j in pending)
        if self.max_queued_pixels is not None and pending and queued + pixels > self.max_queued_pixels:
            raise Busy(f"the queued jobs render {queued:,} pixels and this one {pixels:,}: more than the studio's "
                       f"{self.max_queued_pixels:,}; wait for one to finish", retry_after=5)
        job = self._add(kind, title, request, pixels)
        self._futures[job.id] = self.executor.submit(_run_thread_job, job, work)
        return job

    def start_process(self, title: str, target: Callable[..., None], args: tuple[Any, ...]) -> Job:
        """Run ``target(*args, stop_event, messages)`` in a spawned process and follow its messages.

        The target sends ``("progress", (done, total, info))``, ``("done", result)`` or ``("error", text)``.
        """
        if len(self.running_training()) >= self.max_training:
            raise Conflict("a training job is running already; stop it first (one at a time on this CPU)")
        context = multiprocessing.get_context("spawn")
        stop_event = context.Event()
        messages = context.Queue(maxsize=256)
        job = self._add("train", title)
        process = context.Process(target=target, args=(*args, stop_event, messages), daemon=True,
                                  name=f"studio-train-{job.id}")
        self._processes[job.id] = process
        self._stop_events[job.id] = stop_event
        job.update(status="running", started=time.time())
        process.start()
        threading.Thread(target=_follow_process, args=(job, process, messages), daemon=True,
                         name=f"studio-follow-{job.id}").start()
        return job

    def running_training(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.kind == "train" and not j.finished_or_failed]

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job, interrupt a running render, or ask a training job to stop (and save)."""
        job = self.get(job_id)
        if job.finished_or_failed:
            return job
        job.cancel_requested.set()
        if job.kind == "train":
            self._stop_events[job.id].set()
            job.update(info={**job.info, "stage": "stopping"})
        else:
            future = self._futures.get(job.id)
            if future is not None and future.cancel():
                job.update(status="cancelled", finished=time.time())
        return job

    def wait(self, job_id: str, timeout: float) -> Job:
        """Block until the job ends or ``timeout`` passes (for tests and scripts)."""
        job = self.get(job_id)
        deadline = time.monotonic() + timeout
        with job.changed:
            while not job.finished_or_failed and time.monotonic() < deadline:
                job.changed.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        return job

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop training processes (they checkpoint), cancel queued work, and wait a little for both."""
        for job in self.running_training():
            self.cancel(job.id)
        for job in self.all():
            if not job.finished_or_failed:
                job.cancel_requested.set()
        self.executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for process in self._processes.values():
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()


def _run_thread_job(job: Job, work: Work) -> None:
    if job.cancel_requested.is_set():
        job.update(status="cancelled", finished=time.time())
        return
    job.update(status="running", started=time.time())
    try:
        work(job)
    except Cancelled:
        job.update(status="cancelled", finished=time.time())
    except MuybridgeError as exc:
        job.update(status="failed", error=str(exc), finished=time.time())
    except Exception as exc:  # an internal bug: the job fails with one line, the server keeps running
        job.update(status="failed", error=f"internal error ({type(exc).__name__})", finished=time.time())
    else:
        job.update(status="done", finished=time.time())


def _follow_process(job: Job, process: multiprocessing.process.BaseProcess, messages: Any) -> None:
    """Copy the training process's messages onto its job until it exits."""
    ended = False
    while not ended:
        try:
            kind, payload = messages.get(timeout=0.5)
        except queue.Empty:
            if process.is_alive():
                continue
            try:  # it may have sent its last message just before exiting
                kind, payload = messages.get(timeout=1.0)
            except queue.Empty:
                kind, payload = "exit", None
        if kind == "progress":
            done, total, info = payload
            job.update(done=done, total=total, info={**job.info, **info})
        elif kind == "done":
            job.update(status="done", result={**job.result, **payload}, finished=time.time())
            ended = True
        elif kind == "error":
            job.update(status="failed", error=str(payload), finished=time.time())
            ended = True
        elif kind == "exit":
            job.update(status="failed", error=f"the training process ended unexpectedly "
                                              f"(exit code {process.exitcode})", finished=time.time())
            ended = True
    process.join(timeout=30)

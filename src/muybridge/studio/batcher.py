"""Merge concurrent generate requests into few ``Generator.generate`` calls, with a bounded queue.

Requests for the same model and truncation that arrive while the worker is busy (or within ``window_s``
of each other) are decoded in one call in a worker thread, so the event loop never blocks and a burst of
clients costs little more than one batch. The queue holds at most ``max_queue`` requests: beyond that
:meth:`GenerateBatcher.submit` raises :class:`Busy` (HTTP 503 with ``Retry-After``), so memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from muybridge.generator import Generator
from muybridge.keys import ClassSpec
from muybridge.studio.errors import Busy


@dataclass
class _Request:
    model: str
    classes: list[ClassSpec]
    seeds: list[int]
    truncation: float
    future: asyncio.Future[np.ndarray] = field(repr=False)

    @property
    def key(self) -> tuple[str, float]:
        return self.model, self.truncation


class GenerateBatcher:
    def __init__(self, load: Callable[[str], Generator], *, max_queue: int = 64, max_batch: int = 64,
                 window_s: float = 0.004) -> None:
        self.load = load
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.window_s = window_s
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-generate")
        self.batches = 0
        self.images = 0
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure_worker(self) -> asyncio.Queue[_Request]:
        """Start the worker on the running loop (again, if an earlier loop has gone away)."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop or self._worker is None or self._worker.done():
            self._loop = loop
            self._queue = asyncio.Queue(maxsize=self.max_queue)
            self._worker = loop.create_task(self._run(self._queue))
        return self._queue

    async def submit(self, model: str, classes: list[ClassSpec], seeds: list[int],
                     truncation: float = 1.0) -> np.ndarray:
        """Images ``(N, R, R, 3)`` uint8 for one request; raises :class:`Busy` when the queue is full."""
        queue = self._ensure_worker()
        request = _Request(model, classes, seeds, truncation, asyncio.get_running_loop().create_future())
        try:
            queue.put_nowait(request)
        except asyncio.QueueFull:
            raise Busy(f"the generate queue is full ({self.max_queue} requests waiting); retry shortly",
                       retry_after=1) from None
        return await request.future

    async def _run(self, queue: asyncio.Queue[_Request]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.window_s
            while len(batch) < self.max_batch:
                remaining = deadline - loop.time()
                if queue.empty() and remaining <= 0:
                    break
                try:
                    batch.append(queue.get_nowait() if not queue.empty()
                                 else await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
            for key in dict.fromkeys(request.key for request in batch):
                group = [request for request in batch if request.key == key]
                await self._decode_group(loop, group)

    async def _decode_group(self, loop: asyncio.AbstractEventLoop, group: list[_Request]) -> None:
        live = [request for request in group if not request.future.done()]  # skip clients that left
        if not live:
            return
        try:
            images = await loop.run_in_executor(self.executor, self._generate, live)
        except Exception as exc:  # one bad request (unknown class...) must not fail its neighbours
            if len(live) == 1:
                _settle(live[0], exc=exc)
                return
            for request in live:
                await self._decode_group(loop, [request])
            return
        start = 0
        for request in live:
            _settle(request, images[start:start + len(request.seeds)])
            start += len(request.seeds)

    def _generate(self, requests: list[_Request]) -> np.ndarray:
        generator = self.load(requests[0].model)
        classes = [spec for request in requests for spec in request.classes]
        seeds = [seed for request in requests for seed in request.seeds]
        images = generator.generate(classes, seeds, requests[0].truncation)
        self.batches += 1
        self.images += len(seeds)
        return images

    def close(self) -> None:
        if self._worker is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._worker.cancel)
        self.executor.shutdown(wait=False, cancel_futures=True)


def _settle(request: _Request, images: np.ndarray | None = None, exc: BaseException | None = None) -> None:
    if request.future.done():
        return
    if exc is not None:
        request.future.set_exception(exc)
    else:
        request.future.set_result(images)  # type: ignore[arg-type]

"""Progress reporting without printing: the library calls a callback, the CLI and studio render it.

Library functions take ``progress: Progress | None``. They call ``progress(done, total, **info)``
whenever work advances; ``info`` carries short numeric or text facts (losses, images/s, a stage name).
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int | None, /, **info: float | str) -> None: ...


def report(progress: Progress | None, done: int, total: int | None, **info: float | str) -> None:
    """Call ``progress`` when one was given; the common no-op case stays one line at call sites."""
    if progress is not None:
        progress(done, total, **info)

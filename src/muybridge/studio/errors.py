"""Studio errors: user errors (:class:`MuybridgeError`) that also carry the HTTP status to answer with."""

from __future__ import annotations

from muybridge.errors import MuybridgeError


class StudioError(MuybridgeError):
    """A one-line user error answered as ``{"error": message}`` with :attr:`status`."""

    status = 400


class NotFound(StudioError):
    status = 404


class Conflict(StudioError):
    status = 409


class TooLarge(StudioError):
    status = 413


class Busy(StudioError):
    """The server is at capacity; the client should retry after :attr:`retry_after` seconds."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

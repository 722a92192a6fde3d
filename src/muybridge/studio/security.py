"""Who may talk to the studio: loopback by default, a bearer token for anything else; bounded bodies.

* :func:`check_bind` refuses to listen on a non-loopback address without a token.
* :class:`AccessGuard` (ASGI middleware) then checks every request: the token (``Authorization: Bearer T``,
  a ``token`` query parameter, or the cookie set when the page was opened with ``?token=T``), the
  ``Host`` header when no token is set (loopback names only, against DNS rebinding), the ``Origin`` of
  state-changing requests (same origin only, against cross-site requests), and the body size.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from muybridge.errors import MuybridgeError
from muybridge.studio.errors import TooLarge

COOKIE_NAME = "muybridge_token"
LOOPBACK_NAMES = frozenset({"localhost"})
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9._~+/=-]{8,256}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token (one line, for the CLI)."""
    if not is_loopback(host) and not token:
        raise MuybridgeError(f"--host {host} makes the studio reachable from other machines: "
                             "pass --token SECRET as well (every request must then carry it)")
    if token is not None and not TOKEN_PATTERN.match(token):
        raise MuybridgeError("--token must be 8-256 characters: letters, digits or ._~+/=-")


def _hostname(value: str) -> str:
    return urlsplit(f"//{value}").hostname or ""


async def _json_response(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class AccessGuard:
    def __init__(self, app: ASGIApp, token: str | None, max_body: int) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        problem = self._refusal(scope["method"], headers, query)
        if problem is not None:
            await _json_response(send, *problem)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await _json_response(send, 413, f"request body of {int(length) // 2**20} MiB is over the "
                                            f"{self.max_body // 2**20} MiB limit")
            return
        await self.app(scope, self._limited(receive), self._with_cookie(send, query))

    def _refusal(self, method: str, headers: dict[str, str], query: dict[str, list[str]]
                 ) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self.token is None and not is_loopback(_hostname(host)):
            return 403, f"host {host!r} refused: without a token the studio answers loopback names only"
        origin = headers.get("origin")
        if method not in SAFE_METHODS and origin and origin != "null" and urlsplit(origin).netloc != host:
            return 403, f"cross-origin request from {origin} refused"
        if self.token is not None and not self._authorized(headers, query):
            return 401, "missing or wrong token: send 'Authorization: Bearer TOKEN' (or ?token=TOKEN)"
        return None

    def _authorized(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        assert self.token is not None
        candidates = query.get("token", [])
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            candidates.append(value.strip())
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is simply not a credential
            cookie = SimpleCookie()
        if COOKIE_NAME in cookie:
            candidates.append(cookie[COOKIE_NAME].value)
        return any(hmac.compare_digest(c.encode(), self.token.encode()) for c in candidates)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise TooLarge(f"request body is over the {self.max_body // 2**20} MiB limit")
            return message

        return limited_receive

    def _with_cookie(self, send: Send, query: dict[str, list[str]]) -> Send:
        """Remember a token given in the query (the page's first load) as an HttpOnly same-site cookie."""
        if self.token is None or not query.get("token"):
            return send

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE_NAME}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        return send_with_cookie

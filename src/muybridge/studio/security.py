"""Who may talk to the studio: loopback by default, a bearer token for anything else; bounded bodies.

* :func:`check_bind` refuses to listen on a non-loopback address without a token.
* :class:`AccessGuard` (ASGI middleware) then checks every request: the token (``Authorization: Bearer T``,
  a ``token`` query parameter, or the cookie set when the page was opened with ``?token=T``), the
  ``Host`` header when no token is set (loopback names only, against DNS rebinding), the ``Origin`` of
  state-changing requests (same origin only, against cross-site requests), the path (no control characters)
  and the body size.
* :class:`SecurityHeaders` (ASGI middleware, outermost) adds :data:`SECURITY_HEADERS` to every response, the
  guard's refusals, errors and static files included.

Origins: a POST/PATCH/PUT/DELETE that carries ``Origin`` must carry the studio's own (the scheme-less
``host[:port]`` of the ``Host`` header); ``Origin: null`` (sandboxed iframes, ``data:`` pages, some redirects)
is refused like any foreign origin. A request without ``Origin`` is what command-line clients (curl, httpx,
scripts) send, and browsers always send ``Origin`` on cross-origin state-changing requests (fetch and form
posts alike), so it is allowed, unless the browser's ``Sec-Fetch-Site`` names another site.
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
CROSS_SITE_FETCH = frozenset({"cross-site", "same-site"})
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
"""The studio's own UI needs nothing else: one script file, one style sheet, ``data:``/``blob:`` pictures."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

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
    try:
        return urlsplit(f"//{value}").hostname or ""
    except ValueError:  # e.g. an unbalanced "[" in the Host header
        return ""


def _path_refusal(path: str) -> tuple[int, str] | None:
    """Paths no file can have: control characters (``%00``), a part over 255 bytes, over 4096 bytes in all."""
    if CONTROL_CHARACTERS.search(path):
        return 400, "bad path: it contains a control character (such as %00)"
    encoded = path.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        return 414, f"path too long: at most {MAX_NAME_BYTES} bytes a name and {MAX_PATH_BYTES} in all"
    return None


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.1f} KiB"


def _netloc(origin: str) -> str | None:
    """``host[:port]`` of an ``Origin`` header, lower-cased; None for ``null`` or anything that is not an origin."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return None
    return parts.netloc.lower()


def origin_refusal(method: str, headers: dict[str, str]) -> str | None:
    """Why a state-changing request is refused as cross-site, or None (see the module's docstring)."""
    if method.upper() in SAFE_METHODS:
        return None
    origin = headers.get("origin")
    host = headers.get("host", "").strip().lower()
    if origin is not None:
        if _netloc(origin) != host or not host:
            shown = origin if len(origin) <= 80 else origin[:77] + "..."
            return f"cross-origin request from {shown!r} refused: only the studio's own page may change things"
        return None
    if headers.get("sec-fetch-site", "").lower() in CROSS_SITE_FETCH:
        return "cross-site request refused (Sec-Fetch-Site): only the studio's own page may change things"
    return None


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
        if problem is None:
            problem = _path_refusal(scope.get("path", ""))
        if problem is not None:
            await _json_response(send, *problem)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await _json_response(send, 413, f"request body of {_size(int(length))} is over the "
                                            f"{_size(self.max_body)} limit")
            return
        await self.app(scope, self._limited(receive), self._with_cookie(send, query))

    def _refusal(self, method: str, headers: dict[str, str], query: dict[str, list[str]]
                 ) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self.token is None and not is_loopback(_hostname(host)):
            return 403, f"host {host!r} refused: without a token the studio answers loopback names only"
        cross_site = origin_refusal(method, headers)
        if cross_site is not None:
            return 403, cross_site
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
                raise TooLarge(f"request body is over the {_size(self.max_body)} limit")
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


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response; a header the response sets itself is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(key.lower().encode("latin-1"), value.encode("latin-1"))
                        for key, value in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((key, value) for key, value in self.headers if key not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""What keeps the API's pages from being turned against their readers, for every response:

- security headers: a Content-Security-Policy without inline script or style (every script
  and style is a file under ``static/``, Swagger UI included), ``nosniff``, no framing,
  ``Referrer-Policy``;
- a trusted-host check: a request naming a host not in ``api_allowed_hosts`` gets 400 before
  any route runs, so a web page cannot reach the API (and through it Elasticsearch) by DNS
  rebinding;
- HEAD wherever GET works: monitors and link checkers ask with HEAD;
- a bound on every request body, counted as it arrives (a chunked upload declares no
  length), so no route parses, buffers or spools more than the largest it takes.

Pure ASGI middlewares, so they wrap static files, error pages and the docs alike.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import BodyTooLarge
from shared.search.watchlist import BYTES_PER_LINE
from shared.settings import Settings

# No inline script or style anywhere (templates use classes; scripts are files in static/);
# data: images for Swagger UI's icons. form-action 'self': the search form posts nowhere else.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# The largest body a route takes besides a watchlist upload (a watch, the login form).
JSON_BODY_BYTES = 1024 * 1024
# Room for the multipart framing around an uploaded file (boundaries, part headers).
FORM_OVERHEAD = 16 * 1024
# Names a server listening on every address answers to, not names a browser sends.
_ANY_ADDRESS = {"0.0.0.0", "::", ""}


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response (a route's own value is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadAsGet:
    """Answers HEAD as GET without the body: same status and headers (Content-Length
    included, as HTTP asks), wherever GET works, without declaring HEAD on each route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # drop every chunk; the last one ends the response
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


def allowed_hosts(settings: Settings) -> list[str]:
    """The Host names the API answers to: ``api_allowed_hosts`` plus the host it listens on
    (unless that is every address); IPv6 addresses also in brackets, as a Host header has them."""
    names: list[str] = []
    configured = [*settings.api_allowed_hosts, settings.api_host]
    if "*" in configured:
        return ["*"]
    for name in configured:
        name = name.strip().lower()
        if name in _ANY_ADDRESS:
            continue
        forms = [name]
        if ":" in name and not name.startswith("["):
            forms.append(f"[{name}]")
        names += [form for form in forms if form not in names]
    return names


class TrustedHosts:
    """Starlette's check of the Host header (400 "Invalid host header" otherwise), with the
    names read from the settings at each request (the API reads every setting so)."""

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings
        self._checks: dict[tuple[str, ...], TrustedHostMiddleware] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hosts = tuple(allowed_hosts(self.settings()))
        check = self._checks.get(hosts)
        if check is None:
            check = self._checks[hosts] = TrustedHostMiddleware(
                self.app, allowed_hosts=list(hosts), www_redirect=False
            )
        await check(scope, receive, send)


def watchlist_upload_bytes(settings: Settings) -> int:
    """The most a valid watchlist file can be (parse_watchlist refuses longer ones)."""
    return settings.watchlist_max_lines * BYTES_PER_LINE


def request_body_limit(settings: Settings) -> int:
    """The most any route takes: a watchlist upload in its form, or a JSON body."""
    return max(JSON_BODY_BYTES, watchlist_upload_bytes(settings) + FORM_OVERHEAD)


class BodyLimit:
    """Refuses a request body over ``request_body_limit`` (413 ``BodyTooLarge``) at the read
    that passes it: a declared Content-Length at the first read, a chunked body (no length)
    once its bytes add up past the limit. Starlette spools an uploaded file to disk however
    large it is, and keeps form fields in memory: this is what bounds both."""

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = request_body_limit(self.settings())
        declared = Headers(scope=scope).get("content-length", "")
        declared_too_large = declared.isdigit() and int(declared) > limit
        received = 0

        async def counted() -> Message:
            nonlocal received
            if declared_too_large:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)

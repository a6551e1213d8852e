"""Who may change state: every request that creates, changes or deletes something (watches,
uploads) or makes the server send requests (webhooks) needs the API token, in one of two ways:

* a program sends ``Authorization: Bearer TOKEN`` (``DATELINE_API_TOKEN``); it carries no
  cookie, so it needs no CSRF token;
* a person logs in on the page (``/login``, the token typed once) and gets a session: a
  cookie signed with a key derived from the token (so changing the token logs everyone out),
  HttpOnly, SameSite=Strict, Secure when ``public_url`` is https. A browser sends cookies
  with any request to this site, so every state-changing request made with a session must
  also carry the session's CSRF token (the hidden ``csrf_token`` field of the page's forms,
  or an ``X-CSRF-Token`` header), and one that says it comes from another site (``Origin``,
  ``Sec-Fetch-Site``) is refused even with it.

Every state-changing route takes ``_: Writer``; ``tests/unit/api/test_auth.py`` walks the
routes so a new one without it fails. Wrong tokens are counted per client address
(``FailedLogins``): after ``login_max_failures`` within ``login_failure_window_seconds``
that address gets 429 for logins and Bearer tokens until the oldest failure ages out, which
makes guessing a typed token slow without locking anyone out for long (a session already
open keeps working). Refusals are ``errors.Refused``: JSON for the API,
a page in words (with a link to log in) for the pages.

Searching and reading stay open (on loopback by default, see ``api_allowed_hosts``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from services.api.deps import SettingsDep
from services.api.errors import Refused
from services.api.rendering import templates
from services.api.views import local_path
from shared.settings import Settings, is_placeholder

SESSION_COOKIE = "dateline_session"
CSRF_FIELD = "csrf_token"  # the hidden field of every state-changing form
CSRF_HEADER = "X-CSRF-Token"  # the same token, for a script's fetch()
# What the session holds: "writer" once the token was given; "csrf" from the first form on.
WRITER = "writer"
CSRF = "csrf"
# A key of its own for the cookie: the token itself never signs anything, and one derived
# from it changes with it.
_SESSION_KEY_PURPOSE = b"dateline page session v1"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_TRACKED_CLIENTS = 10_000  # addresses with recent failures kept in memory, oldest dropped


def configured_token(cfg: Settings) -> str | None:
    """The API token, or None when none is set (then nothing may change state). A placeholder
    (``change-me`` from .env.example) counts as none: it would be a token anyone can guess."""
    value = cfg.api_token.get_secret_value() if cfg.api_token is not None else ""
    return None if is_placeholder(value) else value


def token_matches(given: str, cfg: Settings) -> bool:
    expected = configured_token(cfg)
    return expected is not None and secrets.compare_digest(given.encode(), expected.encode())


def session_key(token: str) -> str:
    """The key that signs session cookies: derived from the token, never the token itself."""
    return hmac.new(token.encode(), _SESSION_KEY_PURPOSE, hashlib.sha256).hexdigest()


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``, if the request has one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def session_of(request: Request) -> dict[str, object]:
    """The request's session (empty without the middleware, e.g. an app built without it)."""
    session = request.scope.get("session")
    return session if isinstance(session, dict) else {}


def logged_in(request: Request) -> bool:
    return bool(session_of(request).get(WRITER))


def may_see_targets(request: Request, cfg: Settings) -> bool:
    """Whether the request may see where watches deliver: a webhook URL often holds a secret
    (Slack-style URLs do) and an email address is personal, so only the token's holder sees
    them (a session, or a Bearer token; a wrong one is not counted here, it only hides)."""
    given = bearer_token(request)
    return logged_in(request) or (given is not None and token_matches(given, cfg))


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (a form that needs one opens the session)."""
    session = session_of(request)
    value = session.get(CSRF)
    if not isinstance(value, str) or not value:
        value = secrets.token_urlsafe(32)
        if "session" in request.scope:
            session[CSRF] = value
    return value


def open_session(request: Request) -> None:
    """The token was right: a new session (and CSRF token), nothing from before carries over."""
    failed_logins(request).succeeded(client_address(request))
    session = session_of(request)
    session.clear()
    session[WRITER] = True
    session[CSRF] = secrets.token_urlsafe(32)


def login_url(next_path: str) -> str:
    return f"/login?next={quote(local_path(next_path), safe='')}"


# --- counting wrong tokens -----------------------------------------------------------------


class FailedLogins:
    """Wrong tokens per client address within a sliding window, in this process's memory
    (one API process per stack; a restart forgets them, which only helps a person who
    mistyped). At most ``_TRACKED_CLIENTS`` addresses are kept, the least recent dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, window: float, now: float) -> deque[float]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def wait_seconds(self, client: str, cfg: Settings) -> float:
        """0 when ``client`` may try, else how long until its oldest failure ages out."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, cfg.login_failure_window_seconds, now)
            if not times:
                self._failures.pop(client, None)
                return 0.0
            if len(times) < cfg.login_max_failures:
                return 0.0
            return max(times[0] + cfg.login_failure_window_seconds - now, 0.001)

    def failed(self, client: str, cfg: Settings) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, cfg.login_failure_window_seconds, now)
            times.append(now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            while len(self._failures) > _TRACKED_CLIENTS:
                self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def failed_logins(request: Request) -> FailedLogins:
    found = getattr(request.app.state, "failed_logins", None)
    if not isinstance(found, FailedLogins):
        found = request.app.state.failed_logins = FailedLogins()
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def refuse_if_guessing(request: Request, cfg: Settings) -> None:
    """429 while this client has used up its wrong tokens (even a right one is refused then:
    otherwise the limit would still tell a guesser which guess was right)."""
    wait = failed_logins(request).wait_seconds(client_address(request), cfg)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        raise Refused(
            429,
            f"too many wrong API tokens from this address; try again in {minutes} minute(s)",
            "Too many wrong tokens",
            f"This address sent {cfg.login_max_failures} wrong API tokens within "
            f"{cfg.login_failure_window_seconds:g} seconds.",
            f"Try again in {minutes} minute(s), with DATELINE_API_TOKEN from the .env file of "
            "the machine Dateline runs on.",
            headers={"Retry-After": str(math.ceil(wait))},
        )


def wrong_token(request: Request, cfg: Settings) -> None:
    failed_logins(request).failed(client_address(request), cfg)


# --- the checks ----------------------------------------------------------------------------


def no_token_set() -> Refused:
    return Refused(
        403,
        "changes are disabled: no API token is set (or only a placeholder). Set DATELINE_API_TOKEN "
        "(make setup writes one into .env) and restart the API",
        "Changes are disabled",
        "Nothing can be changed here because no API token is set.",
        "Whoever runs Dateline sets DATELINE_API_TOKEN (`make setup` writes one into .env) and "
        "restarts the API.",
    )


def from_another_site(request: Request, cfg: Settings) -> bool:
    """Does the browser say this request comes from another site's page? (Absent headers say
    nothing: programs and older browsers send none, and the CSRF token still has to match.)"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    ours = {request.headers.get("host", "").lower(), urlsplit(cfg.public_url).netloc.lower()}
    try:
        theirs = urlsplit(origin).netloc.lower()
    except ValueError:
        return True
    return not theirs or theirs not in ours  # "null" (a sandboxed page) has no host


def check_form(request: Request, cfg: Settings, sent: str | None) -> None:
    """A form or script of this site, with the session's CSRF token: else 403."""
    if from_another_site(request, cfg):
        raise Refused(
            403,
            "refused: this request comes from another site's page; changes are made from "
            "Dateline's own pages or with 'Authorization: Bearer TOKEN'",
            "Refused: sent from another site",
            "This change was sent by a page of another site, so it was not made.",
            "Make it from Dateline's own page, or from a program with the API token.",
        )
    expected = session_of(request).get(CSRF)
    if (
        not sent
        or not isinstance(expected, str)
        or not expected
        or not secrets.compare_digest(sent.encode(), expected.encode())
    ):
        raise Refused(
            403,
            f"the form's CSRF token is missing or stale: reload the page and send it again (a "
            f"script sends the session's token as {CSRF_HEADER})",
            "The form has expired",
            "This form's security token does not match your session (it was opened before you "
            "logged in or out, or in another browser).",
            "Reload the page and send the form again.",
        )


async def sent_csrf(request: Request) -> str | None:
    """The CSRF token the request carries: the header, else the form's hidden field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").split(";")[0].strip().lower() in _FORMS:
        # Parsed once: Starlette keeps the form for the route's own Form() parameters.
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


# Declares the scheme in OpenAPI, so /docs offers "Authorize" for the routes that need it.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="API token",
    description="DATELINE_API_TOKEN (in .env): every request that changes state needs it.",
)


async def require_writer(
    request: Request,
    cfg: SettingsDep,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None,
) -> None:
    """Let a state-changing request through with the token (Bearer) or a logged-in session
    with its CSRF token; refuse it otherwise (401 no token or a wrong one, 403 no token set,
    a session without CSRF or from another site, 429 too many wrong tokens)."""
    if configured_token(cfg) is None:
        raise no_token_set()
    given = bearer_token(request)
    if given is not None:
        # Only a token sent is a guess: a session already proved it knows the token, so a
        # guesser at the same address (everyone on loopback) does not hold its owner back.
        refuse_if_guessing(request, cfg)
        if token_matches(given, cfg):
            return
        wrong_token(request, cfg)
        raise Refused(
            401,
            "the API token sent is wrong: send 'Authorization: Bearer TOKEN' with DATELINE_API_TOKEN "
            "from .env",
            "Wrong API token",
            "The API token sent with this request is not Dateline's.",
            "Use DATELINE_API_TOKEN from the .env file of the machine Dateline runs on.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if not logged_in(request):
        # Back to the page the form was on after logging in (only its path: see local_path).
        came_from = urlsplit(request.headers.get("referer", ""))
        next_path = came_from.path + (f"?{came_from.query}" if came_from.query else "")
        raise Refused(
            401,
            "this request changes state and needs the API token: send 'Authorization: Bearer "
            "TOKEN' with DATELINE_API_TOKEN from .env, or log in on the page (/login)",
            "Log in to make changes",
            "Searching is open to everyone here, but making changes needs the API token.",
            "Log in with DATELINE_API_TOKEN from the .env file of the machine Dateline runs on.",
            action=(login_url(next_path), "Log in"),
            headers={"WWW-Authenticate": "Bearer"},
        )
    check_form(request, cfg, await sent_csrf(request))


Writer = Annotated[None, Depends(require_writer)]


# --- what pages show -----------------------------------------------------------------------


@dataclass(frozen=True)
class PageAuth:
    """What every page's header and forms need: can one log in, is one, and the CSRF token."""

    enabled: bool
    logged_in: bool
    csrf: str


def page_auth(request: Request) -> PageAuth:
    current = request.app.state.settings
    cfg: Settings = current()
    writer = logged_in(request)
    return PageAuth(configured_token(cfg) is not None, writer, csrf_token(request) if writer else "")


templates.env.globals["page_auth"] = page_auth  # base.html: log in, or log out


# --- the session cookie --------------------------------------------------------------------


class Sessions:
    """Starlette's SessionMiddleware with its key and flags read from the settings at each
    request (as every setting of the API is): the key derived from ``api_token``, Secure when
    ``public_url`` is https, the lifetime ``session_hours``. Without a token, a random key of
    this process (nobody can log in then anyway)."""

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings
        self._fallback = secrets.token_hex(32)
        self._middlewares: dict[tuple[str, bool, int], SessionMiddleware] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cfg = self.settings()
        token = configured_token(cfg)
        key = session_key(token) if token else self._fallback
        https = cfg.public_url.strip().lower().startswith("https://")
        max_age = max(1, int(cfg.session_hours * 3600))
        middleware = self._middlewares.get((key, https, max_age))
        if middleware is None:
            if len(self._middlewares) > 8:  # the token changed a few times: old keys are dead
                self._middlewares.clear()
            middleware = self._middlewares[(key, https, max_age)] = SessionMiddleware(
                self.app,
                secret_key=key,
                session_cookie=SESSION_COOKIE,
                max_age=max_age,
                same_site="strict",
                https_only=https,
            )
        await middleware(scope, receive, send)


def install(app: FastAPI, settings: Callable[[], Settings]) -> None:
    """Sessions for the pages' logins and the wrong-token counter, on ``app``."""
    app.state.failed_logins = FailedLogins()
    app.add_middleware(Sessions, settings=settings)

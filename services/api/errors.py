"""One exception handler per error type, for the JSON API and the pages alike.

Routes raise (``SearchInputError``, ``ArchiveFailure``, Elasticsearch's and Redis's errors,
``NotFound``); each handler turns its error into one :class:`Problem` (a status, a
sentence for a program, words for a person) and ``respond`` renders it as JSON, or as HTML
for a page route (tagged ``PAGES_TAG``), in the page's own template (``rendering.Page``).
The client libraries' exception text (class, internal message) goes to the log only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from elasticsearch import ApiError, NotFoundError, TransportError
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route

from services.api.rendering import Page, render
from shared.search.client import describe_failure
from shared.search.errors import ArchiveFailure, SearchInputError
from shared.search.models import describe_errors
from shared.settings import Settings

log = logging.getLogger(__name__)
PAGES_TAG = "pages"  # the tag of every page route: their errors are rendered as HTML


class NotFound(LookupError):
    """Nothing with this id, or it is not such an id at all: a 404 whose words each kind says."""

    def __init__(self, key: str, *, malformed: bool = False) -> None:
        super().__init__(key)
        self.key = key
        self.malformed = malformed

    def problem(self) -> Problem:
        raise NotImplementedError


class ArticleNotFound(NotFound):
    """No article with this id (or it is not an id at all)."""

    def problem(self) -> Problem:
        message = (
            f"{self.key!r} is not an article id (ids are 32 hexadecimal digits)."
            if self.malformed
            else f"There is no article with id {self.key}: it may have been removed with its file."
        )
        return Problem(404, f"no article with id {self.key}", "No such article", message)


class StoryNotFound(NotFound):
    """No article belongs to this story id (or it is not a story id at all)."""

    def problem(self) -> Problem:
        message = (
            f"{self.key!r} is not a story id (search hits and articles link to their story)."
            if self.malformed
            else f"No article belongs to story {self.key}: its files may have been removed."
        )
        return Problem(404, f"no story with id {self.key}", "No such story", message)


class Refused(PermissionError):
    """A request that changes state without the right to (auth.py): 401 "log in or send the
    token", 403 "not allowed this way" (no token set, a missing CSRF token, another site's
    form), 429 "too many wrong tokens". ``action`` is where a person can put it right."""

    def __init__(
        self,
        status: int,
        detail: str,
        title: str,
        message: str,
        hint: str = "",
        *,
        action: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.message = message
        self.hint = hint
        self.action = action
        self.headers = headers or {}

    def problem(self) -> Problem:
        url, label = self.action or ("", "")
        return Problem(self.status, self.detail, self.title, self.message, self.hint, url, label)


class BodyTooLarge(HTTPException):
    """A request body past the most any route takes (``security.BodyLimit``): 413. An
    HTTPException, so FastAPI passes it on from a body it was parsing instead of making it a
    400 "error parsing the body"."""

    def __init__(self, limit: int) -> None:
        detail = (
            f"the request body is larger than {limit:,} bytes, the most any request here takes "
            f"(a watchlist of DATELINE_WATCHLIST_MAX_LINES lines): send less, or split it"
        )
        super().__init__(413, detail)
        self.limit = limit

    def problem(self) -> Problem:
        return Problem(
            413,
            self.detail,
            "Too much sent",
            f"The form sent more than {self.limit:,} bytes, the most this server takes.",
            "Send less (a watchlist can be split into several files).",
        )


class FormInputError(SearchInputError):
    """A page's search form holds a value a search cannot take (before any search is run)."""


@dataclass(frozen=True)
class Problem:
    status: int
    detail: str  # the JSON body's one sentence
    title: str  # the page's heading
    message: str
    hint: str = ""
    action_url: str = ""  # a link that puts it right (e.g. the login page), shown on pages
    action_label: str = ""


def _settings(request: Request) -> Settings:
    current: Settings = request.app.state.settings()
    return current


def _page(request: Request) -> Page | None:
    route = request.scope.get("route")
    if not isinstance(route, Route) or PAGES_TAG not in getattr(route, "tags", []):
        return None
    page = getattr(request.state, "page", None)
    return page if isinstance(page, Page) else Page()


def respond(request: Request, problem: Problem) -> Response:
    """``problem`` as JSON (``{"detail": ...}``), or for a page route as its HTML."""
    page = _page(request)
    if page is None:
        return JSONResponse({"detail": problem.detail}, status_code=problem.status)
    error = {
        "title": problem.title,
        "message": problem.message,
        "hint": problem.hint,
        "action_url": problem.action_url,
        "action_label": problem.action_label,
    }
    if page.template == "problem.html":
        return render(request, page.template, problem.status, **error)
    return render(request, page.template, problem.status, **(page.context | {"error": error}))


async def search_input(request: Request, exc: Exception) -> Response:
    hint = (
        "Change the search or remove a filter: the line under the search box says what a search may contain."
        if isinstance(exc, FormInputError)
        else "Check the query syntax: balance quotes and brackets, or search for plain words."
    )
    return respond(request, Problem(422, str(exc), "This search cannot be run", str(exc), hint))


async def archive_failure(request: Request, exc: Exception) -> Response:
    cause = exc.cause if isinstance(exc, ArchiveFailure) else str(exc)
    # Something in the archive (a document, the index) failed the search, not the query.
    log.warning("search failed in Elasticsearch: %s", cause)
    return respond(
        request,
        Problem(
            500,
            f"the archive failed to answer this search: {cause}",
            "The archive failed to answer this search",
            f"Elasticsearch could not run it: {cause}.",
            "The search itself is fine: try it again later, and tell whoever runs Dateline (the API's log has the "
            "details).",
        ),
    )


async def index_missing(request: Request, exc: Exception) -> Response:
    index = _settings(request).index
    return respond(
        request,
        Problem(
            503,
            f"the index {index!r} does not exist yet; start the indexer",
            "There is nothing to search yet",
            f"The index {index!r} does not exist yet: the indexer creates it when it starts.",
            "Start Dateline with `make up` and drop article files into the inbox.",
        ),
    )


async def elasticsearch_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("Elasticsearch failed: %r", exc)
    why = describe_failure(exc)
    page = _page(request) or Page()
    return respond(
        request,
        Problem(
            503,
            f"Elasticsearch is unavailable: it {why}; try again shortly",
            page.unavailable_title,
            f"Elasticsearch at {_settings(request).elasticsearch_url} {why}.",
            page.unavailable_hint,
        ),
    )


async def redis_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("Redis failed: %r", exc)
    return respond(
        request,
        Problem(
            503,
            "Redis is unavailable: it does not answer; try again shortly",
            "Dateline's state is unavailable",
            "Redis does not answer.",
            "Start it with `make up`, then reload this page.",
        ),
    )


async def not_found(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, NotFound):  # pragma: no cover - registered for NotFound only
        raise exc
    return respond(request, exc.problem())


async def body_too_large(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, BodyTooLarge):  # pragma: no cover - registered for BodyTooLarge only
        raise exc
    return respond(request, exc.problem())


async def refused(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, Refused):  # pragma: no cover - registered for Refused only
        raise exc
    response = respond(request, exc.problem())
    response.headers.update(exc.headers)
    return response


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """A 422 that says why in one sentence (``detail``), plus each error's field and message;
    the input is not echoed back."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(
        status_code=422,
        content={
            "detail": describe_errors(errors),
            "errors": [
                {
                    "loc": list(e.get("loc", ())),
                    "msg": str(e.get("msg", "")).removeprefix("Value error, "),
                    "type": e.get("type"),
                }
                for e in errors
            ],
        },
    )


def install(app: FastAPI) -> None:
    """Starlette picks the handler of the most specific class (ArchiveFailure and
    NotFoundError are ApiErrors, ApiError a TransportError's sibling)."""
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(SearchInputError, search_input)
    app.add_exception_handler(ArchiveFailure, archive_failure)
    app.add_exception_handler(NotFoundError, index_missing)
    app.add_exception_handler(ApiError, elasticsearch_unavailable)
    app.add_exception_handler(TransportError, elasticsearch_unavailable)
    app.add_exception_handler(redis.RedisError, redis_unavailable)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(BodyTooLarge, body_too_large)

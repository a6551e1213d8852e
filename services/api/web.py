"""The browser side of the API: the search page (``/``), the article view
(``/article/{id}``), the story page (``/story/{story_id}``), the pipeline page
(``/pipeline``) and the OpenAPI docs (``/docs``).

Server-rendered with Jinja2; the only JavaScript is the pipeline page's refresh and
Swagger UI. Every asset (CSS, the Inter font, Swagger UI) is served from ``static/``, so
the pages work on a machine without internet; no page has inline script or style (see
``security.py`` for the headers). Errors are shown in words, with the HTTP status that says
what happened: 422 for a bad query, 500 when something in the archive (a document, the
index) makes Elasticsearch fail a search, 503 when Elasticsearch or Redis does not answer,
404 for an unknown article.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from elasticsearch import ApiError, NotFoundError, TransportError
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from services.api import views
from services.api.deps import elasticsearch_for, status_for
from shared.search.client import describe_failure
from shared.search.errors import ArchiveFailure
from shared.search.models import SearchInputError, input_errors
from shared.search.query import PUBLISHED as PUBLISHED_FACET
from shared.search.query import get_article, related, search
from shared.search.stories import STORY_ID_PATTERN, get_story
from shared.settings import Settings
from shared.status import Status, unreachable

HERE = Path(__file__).parent
STATIC = HERE / "static"
PAGE_SIZE = 10
PIPELINE_REFRESH_SECONDS = 5
SHOWN_PROBLEMS = 100  # files with failures listed on the page; the rest: `dateline status --json`

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(language_name=views.language_name, short_date=views.short_date,
                             highlighted=views.highlighted, new_snippets=views.new_snippets,
                             entity_labels=views.ENTITY_LABELS, safe_link=views.safe_link)


def _asset_version() -> str:
    """Changes whenever a page asset changes, so browsers never keep a stale stylesheet."""
    newest = max((p.stat().st_mtime_ns for p in STATIC.rglob("*") if p.is_file()), default=0)
    return str(newest % 10**10)


templates.env.globals["asset_version"] = _asset_version()


def install(app: FastAPI, current: Callable[[], Settings]) -> None:
    """Serve the pages, their assets and the docs on ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(_router(app, current))


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _problem(request: Request, status_code: int, title: str, message: str, hint: str = "") -> HTMLResponse:
    return _render(request, "problem.html", status_code, title=title, message=message, hint=hint)


def _router(app: FastAPI, current: Callable[[], Settings]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def search_page(request: Request) -> HTMLResponse:
        cfg = current()
        state = views.PageState.from_pairs(request.query_params.multi_items())
        context: dict[str, Any] = {"state": state, "chips": views.chips(state), "query": state.get("q"),
                                   "sort": state.get("sort", "relevance"), "result": None, "error": None,
                                   "section": "search"}

        def refused(status_code: int, title: str, message: str, hint: str) -> HTMLResponse:
            context["error"] = {"title": title, "message": message, "hint": hint}
            return _render(request, "search.html", status_code, **context)

        try:
            params = views.search_params(state, PAGE_SIZE)
        except (ValidationError, SearchInputError) as exc:
            message = input_errors(exc) if isinstance(exc, ValidationError) else str(exc)
            return refused(422, "This search cannot be run", message,
                           "Change the search or remove a filter: the line under the search box says what a "
                           "search may contain.")
        try:
            started = time.perf_counter()
            result = search(elasticsearch_for(cfg.elasticsearch_url, cfg), cfg.index, params,
                            highlight_chars=cfg.highlight_max_chars)
            took = time.perf_counter() - started
        except SearchInputError as exc:
            return refused(422, "This search cannot be run", str(exc),
                           "Check the query syntax: balance quotes and brackets, or search for plain words.")
        except ArchiveFailure as exc:
            # Something in the archive (a document, the index) failed the search, not the query.
            return refused(500, "The archive failed to answer this search",
                           f"Elasticsearch could not run it: {exc.cause}.",
                           "The search itself is fine: try it again later, and tell whoever runs Dateline "
                           "(the API's log has the details).")
        except NotFoundError:
            return refused(503, "There is nothing to search yet",
                           f"The index {cfg.index!r} does not exist yet: the indexer creates it when it starts.",
                           "Start Dateline with `make up` and drop article files into the inbox.")
        except (TransportError, ApiError) as exc:
            return refused(503, "Search is unavailable",
                           f"Elasticsearch at {cfg.elasticsearch_url} {describe_failure(exc)}.",
                           "Start it with `make up`; the pipeline page and `dateline status` say what else is down.")
        context.update(
            result=result, params=params, took=took,
            facets=views.facet_views(state, result.facets),
            bars=views.histogram(state, result.facets.get(PUBLISHED_FACET, {})),
            pages=views.page_numbers(params.page, result.total, params.size),
        )
        return _render(request, "search.html", **context)

    @router.get("/article/{doc_id}", response_class=HTMLResponse)
    def article_page(request: Request, doc_id: str) -> HTMLResponse:
        cfg = current()
        if not views.is_document_id(doc_id):
            return _problem(request, 404, "No such article",
                            f"{doc_id!r} is not an article id (ids are 32 hexadecimal digits).")
        try:
            document = get_article(elasticsearch_for(cfg.elasticsearch_url, cfg), cfg.index, doc_id)
        except (TransportError, ApiError) as exc:
            return _problem(request, 503, "The article cannot be shown",
                            f"Elasticsearch at {cfg.elasticsearch_url} {describe_failure(exc)}.",
                            "Start it with `make up`, then reload this page.")
        if document is None:
            return _problem(request, 404, "No such article",
                            f"There is no article with id {doc_id}: it may have been removed with its file.")
        try:
            nearby = related(elasticsearch_for(cfg.elasticsearch_url, cfg), cfg.index, document)
        except (TransportError, ApiError):
            nearby = []  # the article itself is what was asked for; related ones are extra
        origin = views.original_path(document.source_path, cfg.inbox_path)
        return _render(request, "article.html", section="search", doc=document, body=views.marked_body(document), origin=origin,
                       stages=views.stage_rows(document), back=views.back_link(request.query_params.get("back")),
                       related=nearby)

    @router.get("/story/{story_id}", response_class=HTMLResponse)
    def story_page(request: Request, story_id: str) -> HTMLResponse:
        cfg = current()
        if not re.match(STORY_ID_PATTERN, story_id):
            return _problem(request, 404, "No such story",
                            f"{story_id!r} is not a story id (search hits and articles link to their story).")
        try:
            story = get_story(elasticsearch_for(cfg.elasticsearch_url, cfg), cfg.index, story_id)
        except (TransportError, ApiError) as exc:
            return _problem(request, 503, "The story cannot be shown",
                            f"Elasticsearch at {cfg.elasticsearch_url} {describe_failure(exc)}.",
                            "Start it with `make up`, then reload this page.")
        if story is None:
            return _problem(request, 404, "No such story",
                            f"No article belongs to story {story_id}: its files may have been removed.")
        return _render(request, "story.html", section="search", story=story,
                       back=views.back_link(request.query_params.get("back")))

    @router.get("/pipeline", response_class=HTMLResponse)
    def pipeline_page(request: Request, part: str = "") -> HTMLResponse:
        """The whole page, or (``part=body``) the part the page's script refreshes."""
        cfg = current()
        status: Status | None = None
        down = None
        try:
            status = status_for(cfg)
        except redis.RedisError as exc:
            down = unreachable(cfg.redis_url, exc)
        name = "_pipeline_body.html" if part == "body" else "pipeline.html"
        return _render(request, name, 200 if status is not None else 503, section="pipeline", status=status,
                       down=down,
                       view=views.pipeline_view(status) if status is not None else None,
                       refresh=PIPELINE_REFRESH_SECONDS, shown_problems=SHOWN_PROBLEMS)

    @router.get("/docs", response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        # Swagger UI from static/, not a CDN, started by static/docs.js (no inline script, so
        # the page keeps the Content-Security-Policy of the others); no validator badge.
        return _render(request, "docs.html", title="Dateline API", openapi_url=app.openapi_url or "/openapi.json")

    @router.get("/favicon.ico")
    def favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=308)

    return router

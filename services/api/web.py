"""The browser side of the API: the search page (``/``), the article view
(``/article/{id}``), the pipeline page (``/pipeline``) and the OpenAPI docs (``/docs``).

Server-rendered with Jinja2; the only JavaScript is the pipeline page's refresh and
Swagger UI. Every asset (CSS, the Inter font, Swagger UI) is served from ``static/``, so
the pages work on a machine without internet; no page has inline script or style (see
``security.py`` for the headers). Errors are shown in words, with the HTTP status that says
what happened: 422 for a bad query, 500 when something in the archive (a document, the
index) makes Elasticsearch fail a search, 503 when Elasticsearch or Redis does not answer,
404 for an unknown article: the handlers in ``errors.py`` render them in the page's own
template (a route says which in ``request.state.page``).
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any
from urllib.parse import quote

import redis
from elasticsearch import ApiError, TransportError
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from services.api import auth, views
from services.api.deps import ElasticsearchDep, SettingsDep, status_for
from services.api.errors import PAGES_TAG, ArticleNotFound, FormInputError, StoryNotFound
from services.api.rendering import STATIC, Page, render, templates
from shared.search.errors import SearchInputError
from shared.search.models import input_errors
from shared.search.query import PUBLISHED as PUBLISHED_FACET
from shared.search.query import get_article, related, search
from shared.search.stories import STORY_ID_PATTERN, get_story
from shared.status import Status, unreachable
from shared.watches.models import WatchSpec
from shared.watches.store import WatchExists, WatchInputError, WatchStore

__all__ = ["install", "router", "templates"]

PAGE_SIZE = 10
PIPELINE_REFRESH_SECONDS = 5
SHOWN_PROBLEMS = 100  # files with failures listed on the page; the rest: `dateline status --json`

router = APIRouter(include_in_schema=False, tags=[PAGES_TAG])


def install(app: FastAPI) -> None:
    """Serve the pages, their assets and the docs on ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, cfg: SettingsDep, es: ElasticsearchDep) -> HTMLResponse:
    state = views.PageState.from_pairs(request.query_params.multi_items())
    context: dict[str, Any] = {
        "state": state,
        "chips": views.chips(state),
        "query": state.get("q"),
        "sort": state.get("sort", "relevance"),
        "result": None,
        "error": None,
        "section": "search",
    }
    # Errors from here on are shown on this page, above the form the person filled in.
    context["writer"] = auth.page_auth(request)
    context["emails"] = bool(cfg.smtp_host)
    context["watched"] = watched_search(state)
    context["watched_chips"] = views.chips(context["watched"])
    request.state.page = Page(
        "search.html",
        context,
        "Search is unavailable",
        "Start it with `make up`; the pipeline page and `dateline status` say what else is down.",
    )
    try:
        params = views.search_params(state, PAGE_SIZE)
    except ValidationError as exc:
        raise FormInputError(input_errors(exc)) from None
    except SearchInputError as exc:
        raise FormInputError(str(exc)) from None
    started = time.perf_counter()
    result = search(es, cfg.index, params, highlight_chars=cfg.highlight_max_chars)
    context.update(
        result=result,
        params=params,
        took=time.perf_counter() - started,
        facets=views.facet_views(state, result.facets),
        bars=views.histogram(state, result.facets.get(PUBLISHED_FACET, {})),
        pages=views.page_numbers(params.page, result.total, params.size),
        downloads=views.export_links(state),
    )
    return render(request, "search.html", **context)


@router.get("/article/{doc_id}", response_class=HTMLResponse)
def article_page(request: Request, doc_id: str, cfg: SettingsDep, es: ElasticsearchDep) -> HTMLResponse:
    request.state.page = Page(unavailable_title="The article cannot be shown")
    if not views.is_document_id(doc_id):
        raise ArticleNotFound(doc_id, malformed=True)
    document = get_article(es, cfg.index, doc_id)
    if document is None:
        raise ArticleNotFound(doc_id)
    try:
        nearby = related(es, cfg.index, document)
    except (TransportError, ApiError):
        nearby = []  # the article itself is what was asked for; related ones are extra
    origin = views.original_path(document.source_path, cfg.inbox_path)
    return render(
        request,
        "article.html",
        section="search",
        doc=document,
        body=views.marked_body(document),
        origin=origin,
        stages=views.stage_rows(document),
        back=views.back_link(request.query_params.get("back")),
        related=nearby,
    )


@router.get("/story/{story_id}", response_class=HTMLResponse)
def story_page(request: Request, story_id: str, cfg: SettingsDep, es: ElasticsearchDep) -> HTMLResponse:
    request.state.page = Page(unavailable_title="The story cannot be shown")
    if not re.match(STORY_ID_PATTERN, story_id):
        raise StoryNotFound(story_id, malformed=True)
    story = get_story(es, cfg.index, story_id)
    if story is None:
        raise StoryNotFound(story_id)
    return render(
        request,
        "story.html",
        section="search",
        story=story,
        back=views.back_link(request.query_params.get("back")),
    )


@router.get("/pipeline", response_class=HTMLResponse)
def pipeline_page(request: Request, cfg: SettingsDep, part: str = "") -> HTMLResponse:
    """The whole page, or (``part=body``) the part the page's script refreshes. Redis away is
    what this page is for: it shows the state "down" (503), not an error page."""
    status: Status | None = None
    down = None
    try:
        status = status_for(cfg)
    except redis.RedisError as exc:
        down = unreachable(cfg.redis_url, exc)
    name = "_pipeline_body.html" if part == "body" else "pipeline.html"
    return render(
        request,
        name,
        200 if status is not None else 503,
        section="pipeline",
        status=status,
        down=down,
        view=views.pipeline_view(status) if status is not None else None,
        refresh=PIPELINE_REFRESH_SECONDS,
        shown_problems=SHOWN_PROBLEMS,
    )


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    # Swagger UI from static/, not a CDN, started by static/docs.js (no inline script, so
    # the page keeps the Content-Security-Policy of the others); no validator badge.
    return render(
        request, "docs.html", title="Dateline API", openapi_url=request.app.openapi_url or "/openapi.json"
    )


@router.get("/favicon.ico")
def favicon() -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=308)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, cfg: SettingsDep, next: str = "/") -> HTMLResponse:
    return _login(request, cfg, views.local_path(next))


def _login(
    request: Request, cfg: SettingsDep, next_path: str, status: int = 200, wrong: bool = False
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        status,
        section="login",
        enabled=auth.configured_token(cfg) is not None,
        already=auth.logged_in(request),
        next_path=next_path,
        # The login form has a CSRF token too: another site cannot log a visitor in as
        # someone else (the session it opens is the one this form was served with).
        csrf=auth.csrf_token(request),
        wrong=wrong,
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    cfg: SettingsDep,
    token: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Open a session with the API token: the person types it once, the page keeps a signed
    cookie (see auth.py). Not a Writer route: this is how one becomes a writer."""
    next_path = views.local_path(next)
    if auth.configured_token(cfg) is None:
        raise auth.no_token_set()
    auth.refuse_if_guessing(request, cfg)
    auth.check_form(request, cfg, csrf_token)
    if not auth.token_matches(token.strip(), cfg):
        auth.wrong_token(request, cfg)
        return _login(request, cfg, next_path, 401, wrong=True)
    auth.open_session(request)
    return RedirectResponse(next_path, status_code=303)


@router.post("/logout")
def logout(request: Request, cfg: SettingsDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Close the session. Its own CSRF token is checked (another site cannot log people out),
    not the writer's right: closing a session that is no longer valid is harmless."""
    if auth.logged_in(request):
        auth.check_form(request, cfg, csrf_token)
        auth.session_of(request).clear()
    return RedirectResponse("/", status_code=303)


# --- watches from the page ---------------------------------------------------------------------
# The API's JSON routes (/watches, routers/watches.py) are for programs; these are the page's:
# the search page's "Watch this search" form posts to /watch, and /watching lists the watches
# with their feeds and a remove button. Both change state only with `_: Writer` (a session and
# its CSRF token, or the Bearer token).

WATCHED_KEYS = ("q", "lang", "source", "entity", "dateline", "since", "until")  # not sort/page/collapse


def watched_search(state: views.PageState) -> views.PageState:
    """The part of the search page's state a watch saves (its query and filters)."""
    return views.PageState(tuple((k, v) for k, v in state.items if k in WATCHED_KEYS))


def watch_spec(state: views.PageState, name: str, webhook: str, email: str, email_mode: str) -> WatchSpec:
    """The watch the page's form describes: its fields plus the search it was on."""
    return WatchSpec.model_validate(
        {
            "name": name,
            "query": state.get("q") or "*",
            "lang": state.getlist("lang"),
            "source": state.getlist("source"),
            "entity": state.getlist("entity"),
            "dateline": state.getlist("dateline"),
            "since": state.get("since") or None,
            "until": state.get("until") or None,
            "webhook": webhook.strip() or None,
            "email": email.strip() or None,
            "email_mode": email_mode or "each",
        }
    )


def _watching(
    request: Request, cfg: SettingsDep, es: ElasticsearchDep, status: int = 200, **extra: Any
) -> HTMLResponse:
    context: dict[str, Any] = {
        "section": "watching",
        "writer": auth.page_auth(request),
        "emails": bool(cfg.smtp_host),
        "watches": [],
        "error": None,
        "made": None,
        "removed": None,
        "form": None,
    } | extra
    request.state.page = Page(
        "watching.html",
        context,
        "The watches cannot be shown",
        "Start Dateline with `make up`; the pipeline page and `dateline status` say what is down.",
    )
    shown = []
    for watch in WatchStore(es, cfg.index, cfg).list():
        search_state = views.PageState(tuple(_spec_pairs(watch)))
        shown.append((watch, views.chips(search_state), search_state.url("/")))
    context["watches"] = shown
    return render(request, "watching.html", status, **context)


def _spec_pairs(spec: WatchSpec) -> list[tuple[str, str]]:
    pairs = [("q", spec.query)] if spec.query and spec.query != "*" else []
    for key in ("lang", "source", "entity", "dateline"):
        pairs += [(key, value) for value in getattr(spec, key)]
    pairs += [(key, value) for key in ("since", "until") if (value := getattr(spec, key))]
    return pairs


@router.get("/watching", response_class=HTMLResponse)
def watching_page(
    request: Request, cfg: SettingsDep, es: ElasticsearchDep, made: str = "", removed: str = ""
) -> HTMLResponse:
    return _watching(request, cfg, es, made=made or None, removed=removed or None)


FormText = Annotated[str, Form()]
FormList = Annotated[list[str], Form()]


@router.post("/watch", response_class=HTMLResponse)
def watch_this_search(
    request: Request,
    cfg: SettingsDep,
    es: ElasticsearchDep,
    _: auth.Writer,
    name: FormText = "",
    webhook: FormText = "",
    email: FormText = "",
    email_mode: FormText = "each",
    q: FormText = "",
    since: FormText = "",
    until: FormText = "",
    lang: FormList = [],  # noqa: B006 - FastAPI copies defaults per request
    source: FormList = [],  # noqa: B006
    entity: FormList = [],  # noqa: B006
    dateline: FormList = [],  # noqa: B006
) -> Response:
    """The search page's "Watch this search": the form's name and channels plus the search
    it was on (hidden fields with the page's own parameters)."""
    pairs = [("q", q), ("since", since), ("until", until)]
    for key, values in (("lang", lang), ("source", source), ("entity", entity), ("dateline", dateline)):
        pairs += [(key, value) for value in values]
    state = watched_search(views.PageState.from_pairs(pairs))
    fields = {"name": name, "webhook": webhook, "email": email, "email_mode": email_mode}
    shown = {"fields": fields, "search": state, "chips": views.chips(state)}
    try:
        watch = WatchStore(es, cfg.index, cfg).add(watch_spec(state, **fields))
    except ValidationError as exc:
        return _refused_watch(request, cfg, es, 422, input_errors(exc), shown)
    except WatchInputError as exc:
        return _refused_watch(request, cfg, es, 422, str(exc), shown)
    except WatchExists as exc:
        return _refused_watch(request, cfg, es, 409, str(exc), shown)
    return RedirectResponse(f"/watching?made={quote(watch.name, safe='')}", status_code=303)


def _refused_watch(
    request: Request, cfg: SettingsDep, es: ElasticsearchDep, status: int, why: str, shown: dict[str, Any]
) -> HTMLResponse:
    error = {
        "title": "The watch was not made",
        "message": why[:1].upper() + why[1:] + ("" if why.endswith(".") else "."),
        "hint": "Change what it says and send the form again.",
    }
    return _watching(request, cfg, es, status, error=error, form=shown)


@router.post("/watching/remove", response_class=HTMLResponse)
def remove_watch(
    request: Request, cfg: SettingsDep, es: ElasticsearchDep, _: auth.Writer, name: FormText = ""
) -> Response:
    if not WatchStore(es, cfg.index, cfg).remove(name):
        error = {
            "title": "No such watch",
            "message": f"There is no watch named {name!r} (any more): it may have been removed already.",
            "hint": "",
        }
        return _watching(request, cfg, es, 404, error=error)
    return RedirectResponse(f"/watching?removed={quote(name, safe='')}", status_code=303)

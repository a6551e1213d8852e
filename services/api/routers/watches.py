"""Watches (saved searches) and their alerts: ``/watches`` in JSON, each watch's Atom feed.

Making and removing a watch changes state (and a webhook makes the server send requests):
those routes take ``Writer`` (services/api/auth.py, the API token). Reading watches, alerts
and feeds is open like search, except where a watch delivers (webhook URL, email): only
the token's holder sees those.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from services.api.auth import Writer, may_see_targets
from services.api.deps import ElasticsearchDep, SettingsDep
from shared.search.models import MAX_RESULT_WINDOW, SearchResult
from shared.watches.feed import FEED_ENTRIES, atom_feed
from shared.watches.models import Alert, Watch, WatchSpec
from shared.watches.store import WatchExists, WatchInputError, WatchStore

router = APIRouter(tags=["watches"])
BACKFILL_SIZE = 100


class CreatedWatch(Watch):
    """The watch made; with ``?backfill=true`` also what already matches (newest first)."""

    backfill: SearchResult | None = None


class AlertPage(BaseModel):
    watch: Watch
    total: int
    page: int
    size: int
    alerts: list[Alert] = Field(description="Newest first.")


def _store(cfg: SettingsDep, es: ElasticsearchDep) -> WatchStore:
    return WatchStore(es, cfg.index, cfg)


def _watch(store: WatchStore, name: str) -> Watch:
    watch = store.get(name)
    if watch is None:
        raise HTTPException(status_code=404, detail=f"no watch named {name!r}; GET /watches lists them")
    return watch


@router.post("/watches", status_code=201, response_model=CreatedWatch, responses={409: {}, 422: {}})
def add_watch(
    spec: WatchSpec,
    _: Writer,
    cfg: SettingsDep,
    es: ElasticsearchDep,
    backfill: Annotated[bool, Query(description="Also return what already matches.")] = False,
) -> CreatedWatch:
    store = _store(cfg, es)
    try:
        watch = store.add(spec)
    except WatchExists as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except WatchInputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    found = store.backfill(watch, size=BACKFILL_SIZE) if backfill else None
    return CreatedWatch(**watch.model_dump(), backfill=found)


def _shown(watch: Watch, request: Request, cfg: SettingsDep) -> Watch:
    return watch if may_see_targets(request, cfg) else watch.without_targets()


@router.get("/watches", response_model=list[Watch])
def list_watches(request: Request, cfg: SettingsDep, es: ElasticsearchDep) -> list[Watch]:
    return [_shown(watch, request, cfg) for watch in _store(cfg, es).list()]


@router.get("/watches/{name}", response_model=Watch, responses={404: {}})
def get_watch(name: str, request: Request, cfg: SettingsDep, es: ElasticsearchDep) -> Watch:
    return _shown(_watch(_store(cfg, es), name), request, cfg)


@router.delete("/watches/{name}", status_code=204, responses={404: {}})
def remove_watch(name: str, _: Writer, cfg: SettingsDep, es: ElasticsearchDep) -> Response:
    if not _store(cfg, es).remove(name):
        raise HTTPException(status_code=404, detail=f"no watch named {name!r}; GET /watches lists them")
    return Response(status_code=204)


@router.get("/watches/{name}/alerts", response_model=AlertPage, responses={404: {}})
def watch_alerts(
    name: str,
    request: Request,
    cfg: SettingsDep,
    es: ElasticsearchDep,
    page: Annotated[int, Query(ge=1, le=500)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AlertPage:
    if page * size > MAX_RESULT_WINDOW:
        raise HTTPException(
            status_code=422,
            detail=f"page {page} of size {size} is past the first {MAX_RESULT_WINDOW} alerts; the feed and "
            "Kibana (index <alias>-alerts) show them all",
        )
    store = _store(cfg, es)
    watch = _watch(store, name)
    total, alerts = store.alerts_of(watch.name, page=page, size=size)
    return AlertPage(watch=_shown(watch, request, cfg), total=total, page=page, size=size, alerts=alerts)


@router.get(
    "/watches/{name}/feed.atom",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}, 404: {}},
)
def watch_feed(name: str, cfg: SettingsDep, es: ElasticsearchDep) -> Response:
    store = _store(cfg, es)
    watch = _watch(store, name)
    _, alerts = store.alerts_of(watch.name, size=FEED_ENTRIES)
    return Response(atom_feed(cfg, watch, alerts), media_type="application/atom+xml")

"""Taking results away: ``GET /export`` (a whole result set as CSV or JSON Lines, streamed),
``GET /export/facets.csv`` and ``GET /export/histogram.csv`` (the search page's facet counts
and date histogram), and ``POST /watchlists`` (a list of names or queries: per line, the
count of matching articles, or the matches).

Exports take exactly the search page's query parameters, so the page links to them with its
own state. Errors (a bad query, no index, Elasticsearch away) are raised before the first
byte is streamed and answered by the handlers in ``errors.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from elasticsearch import Elasticsearch
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from services.api.auth import Writer
from services.api.deps import ElasticsearchDep, SettingsDep
from services.api.security import FORM_OVERHEAD, watchlist_upload_bytes
from shared.search.export import (
    MEDIA_TYPES,
    Export,
    ExportParams,
    facet_rows,
    facets_csv,
    filename,
    histogram_csv,
    histogram_rows,
)
from shared.search.models import SearchParams
from shared.search.watchlist import (
    WatchlistError,
    WatchlistLine,
    WatchlistParams,
    WatchlistRun,
    parse_watchlist,
)
from shared.settings import Settings
from shared.watches.store import WatchStore

router = APIRouter(tags=["export"])
CSV = MEDIA_TYPES["csv"]
_STREAMED: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file, streamed.", "content": {CSV: {}, MEDIA_TYPES["jsonl"]: {}}}
}


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/export", response_class=StreamingResponse, responses=_STREAMED)
def export(
    params: Annotated[ExportParams, Query()], cfg: SettingsDep, es: ElasticsearchDep
) -> StreamingResponse:
    """Every document the search matches (no 10,000 cap) as CSV or JSON Lines: id, title,
    url, source, published_at, dateline, language, people, organisations, places, summary,
    path. ``page`` and ``size`` are ignored; ``collapse=true`` gives one row per story."""
    run = Export(es, cfg.index, params, cfg.export_page_size)
    return StreamingResponse(
        run.stream(params.format),
        media_type=MEDIA_TYPES[params.format],
        headers=_attachment(filename("export", params.format)),
    )


@router.get("/export/facets.csv", response_class=Response, responses={200: {"content": {CSV: {}}}})
def export_facets(
    params: Annotated[SearchParams, Query()], cfg: SettingsDep, es: ElasticsearchDep
) -> Response:
    """The search's facet counts as CSV (facet, value, count), counted as on the page:
    ``facet_size`` values per facet; with ``collapse`` (the default, as on the page) a story
    counts once."""
    body = "".join(facets_csv(facet_rows(es, cfg.index, params)))
    return Response(body, media_type=CSV, headers=_attachment(filename("facets", "csv")))


@router.get("/export/histogram.csv", response_class=Response, responses={200: {"content": {CSV: {}}}})
def export_histogram(
    params: Annotated[SearchParams, Query()], cfg: SettingsDep, es: ElasticsearchDep
) -> Response:
    """The search's date histogram as CSV (period, count), oldest first: a period is a day,
    month or year (YYYY-MM-DD, YYYY-MM or YYYY) as on the page, each a valid since/until."""
    body = "".join(histogram_csv(histogram_rows(es, cfg.index, params)))
    return Response(body, media_type=CSV, headers=_attachment(filename("histogram", "csv")))


# The upload's form, described for /docs: the route reads it itself (below), after the token
# check, so a request without the token is refused before its body is parsed or stored.
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "Plain text, one name per line, or CSV with a 'name' or 'query' column.",
                    }
                },
            }
        }
    },
}


def _run(
    es: Elasticsearch, cfg: Settings, lines: list[WatchlistLine], params: WatchlistParams
) -> WatchlistRun:
    """Count every line (and make the watches): Elasticsearch's blocking calls, run off the
    event loop by the caller."""
    run = WatchlistRun(es, cfg.index, lines, params, cfg.export_page_size)
    if params.make_watches:
        try:
            run.make_watches(WatchStore(es, cfg.index, cfg), params.watch_prefix)
        except BaseException:
            run.close()
            raise
    return run


@router.post(
    "/watchlists",
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV: {}}},
        413: {"description": "The upload is larger than a watchlist can be."},
    },
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
async def watchlist(
    request: Request,
    _: Writer,
    params: Annotated[WatchlistParams, Query()],
    cfg: SettingsDep,
    es: ElasticsearchDep,
) -> StreamingResponse:
    """Search every line of an uploaded watchlist (a form field ``file``), within the query
    and filters given: ``output=counts`` gives line, query, count; ``output=matches`` every
    matching article with its line (the export's fields). Names match as phrases, or as
    entities under every alias when the alias table knows them; a 'query' column is read as
    search queries. ``make_watches=true`` also makes each line a watch named ``watch_prefix``
    + the line (the counts then carry columns watch and watch_status: created, exists or
    refused)."""
    limit = watchlist_upload_bytes(cfg)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise HTTPException(
            413,
            detail=f"the upload is {int(declared):,} bytes; a watchlist of at most {cfg.watchlist_max_lines} "
            f"lines (DATELINE_WATCHLIST_MAX_LINES) is at most {limit:,}: split it",
        )
    async with request.form(max_files=1, max_fields=5) as form:
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            raise WatchlistError(
                "no watchlist in the request: send it as a multipart/form-data file field named 'file' "
                "(curl -F file=@names.txt)"
            )
        # Read no more than a valid watchlist can be: parse_watchlist refuses the rest by size.
        data = await upload.read(limit + 1)
        name = upload.filename
    lines = parse_watchlist(data, max_lines=cfg.watchlist_max_lines, filename=name)
    run = await run_in_threadpool(_run, es, cfg, lines, params)
    media = "application/json" if params.format == "json" else CSV
    if params.output == "counts":
        run.close()
        name = filename("watchlist-counts", params.format)
        return StreamingResponse(run.counts_text(params.format), media_type=media, headers=_attachment(name))
    media = MEDIA_TYPES["jsonl"] if params.format == "json" else CSV
    name = filename("watchlist-matches", "jsonl" if params.format == "json" else "csv")
    return StreamingResponse(run.matches_text(params.format), media_type=media, headers=_attachment(name))

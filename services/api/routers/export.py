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

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response, StreamingResponse

from services.api.auth import Writer
from services.api.deps import ElasticsearchDep, SettingsDep
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
    BYTES_PER_LINE,
    WatchlistParams,
    WatchlistRun,
    matches_csv,
    parse_watchlist,
)
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


@router.post("/watchlists", response_class=StreamingResponse, responses={200: {"content": {CSV: {}}}})
def watchlist(
    _: Writer,
    file: Annotated[
        UploadFile, File(description="Plain text, one name per line, or CSV with a 'name' or 'query' column.")
    ],
    params: Annotated[WatchlistParams, Query()],
    cfg: SettingsDep,
    es: ElasticsearchDep,
) -> StreamingResponse:
    """Search every line of an uploaded watchlist (within the query and filters given):
    ``output=counts`` gives line, query, count; ``output=matches`` every matching article
    with its line (the export's fields). Names match as phrases, or as entities under every
    alias when the alias table knows them; a 'query' column is read as search queries.
    ``make_watches=true`` also makes each line a watch named ``watch_prefix`` + the line
    (the counts then carry columns watch and watch_status: created, exists or refused)."""
    # Read no more than a valid watchlist can be: parse_watchlist refuses the rest by size.
    data = file.file.read(cfg.watchlist_max_lines * BYTES_PER_LINE + 1)
    lines = parse_watchlist(data, max_lines=cfg.watchlist_max_lines, filename=file.filename)
    run = WatchlistRun(es, cfg.index, lines, params, cfg.export_page_size)
    if params.make_watches:
        try:
            run.make_watches(WatchStore(es, cfg.index, cfg), params.watch_prefix)
        except BaseException:
            run.close()
            raise
    if params.output == "counts":
        run.close()
        return StreamingResponse(
            run.counts_csv(), media_type=CSV, headers=_attachment(filename("watchlist-counts", "csv"))
        )
    return StreamingResponse(
        matches_csv(run.matches()), media_type=CSV, headers=_attachment(filename("watchlist-matches", "csv"))
    )

"""Export: a whole result set (the query and filters of a search) as CSV or JSON Lines.

Read with a point in time on the alias and ``search_after``, one page of
``export_page_size`` documents at a time, so there is no 10,000-hit cap and memory stays
flat: every step is a generator, from Elasticsearch's pages to the bytes the API streams or
the CLI writes. The point in time also makes the export one consistent snapshot: documents
indexed while it runs neither appear half-way nor push others out of their page.

Order: with ``sort=date`` newest first, as on the page; otherwise the archive's own order
(see ``export_order``: a relevance order would rank every match again for each page).

What is exported: by default every document that matches (a monitor's export wants every
outlet's copy of a story). With ``collapse`` one row per story: the story's first published
version (as on the story page). Collapsing cannot use Elasticsearch's ``collapse`` here (it
refuses ``search_after`` with a point in time, whose implicit ``_shard_doc`` tiebreaker is a
second sort field), so the documents are read in story order and each story's first one is
kept: still one snapshot, still flat.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from elasticsearch import BadRequestError, Elasticsearch
from pydantic import BaseModel, Field

from shared.search.errors import ArchiveFailure, classify, query_refusal
from shared.search.models import FACET_FIELDS, SearchParams
from shared.search.query import (
    COLLAPSE_FIELD,
    FIRST_PUBLISHED,
    PUBLISHED,
    search,
    search_query,
    text_subfields,
    to_simple_syntax,
)

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "jsonl"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "jsonl")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
# Each page renews the point in time for this long: the longest pause a slow reader (a
# client reading the stream slowly) may make between two pages.
KEEP_ALIVE = "5m"
# What is read of each document: the export's fields (and the story, to collapse by).
SOURCE_FIELDS = [
    "title",
    "url",
    "source",
    "published_at",
    "dateline",
    "language",
    "entities.person",
    "entities.organization",
    "entities.location",
    "summary",
    "source_path",
    COLLAPSE_FIELD,
]
# Streamed output is handed on in chunks of about this many characters (not row by row:
# one write per row would cost more than the row).
CHUNK_CHARS = 64 * 1024
# Counts asked for in one multi-search (a watchlist's lines).
MSEARCH_BATCH = 100
# A spreadsheet runs a cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "


class ExportParams(SearchParams):
    """The search page's parameters (``SearchParams``) plus the format. ``page`` and ``size``
    are accepted (an export link carries the page's state) and ignored: an export is the
    whole result set. Unlike the page, ``collapse`` is off by default: every document."""

    collapse: bool = Field(
        False,
        description="false (default): every matching document, each outlet's copy included; "
        "true: one row per story (its first published version).",
    )
    sort: str = Field(
        "relevance",
        pattern="^(relevance|date)$",
        description="date: newest first; relevance (the page's default): the archive's own order "
        "(an export is not ranked: ranking every page again would slow it down as the archive grows).",
    )
    format: ExportFormat = Field("csv", description="csv (UTF-8, a header row) or jsonl (JSON Lines).")


class ExportRow(BaseModel):
    """One exported document: the fields a person takes away."""

    id: str
    title: str = ""
    url: str | None = None
    source: str | None = None
    published_at: datetime | None = None
    dateline: str | None = None
    language: str | None = None
    people: list[str] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    summary: str | None = None
    path: str = Field("", description="The file it came from (source_path).")

    @classmethod
    def from_hit(cls, hit: dict[str, Any]) -> ExportRow:
        source = hit.get("_source", {})
        entities = source.get("entities") or {}
        return cls(
            id=hit["_id"],
            title=source.get("title") or "",
            url=source.get("url"),
            source=source.get("source"),
            published_at=source.get("published_at"),
            dateline=source.get("dateline"),
            language=source.get("language"),
            people=entities.get("person") or [],
            organisations=entities.get("organization") or [],
            places=entities.get("location") or [],
            summary=source.get("summary"),
            path=source.get("source_path") or "",
        )


EXPORT_FIELDS = tuple(ExportRow.model_fields)


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: lists joined with '; ', and a text starting
    like a formula (= + - @ tab CR) prefixed with ' so it is never run."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = LIST_SEPARATOR.join(str(v) for v in value)
    elif isinstance(value, datetime):
        value = value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_values(row: ExportRow) -> list[object]:
    """The row's cells in ``EXPORT_FIELDS`` order (``csv_chunks`` makes them safe)."""
    return [getattr(row, name) for name in EXPORT_FIELDS]


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """CSV text (a header row, then ``rows``, every cell through ``safe_cell``), in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def jsonl_chunks(rows: Iterable[BaseModel]) -> Iterator[str]:
    """One JSON object per line (UTF-8, not ASCII-escaped), in chunks."""
    parts: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps(row.model_dump(mode="json"), ensure_ascii=False) + "\n"
        parts.append(line)
        size += len(line)
        if size >= CHUNK_CHARS:
            yield "".join(parts)
            parts, size = [], 0
    if parts:
        yield "".join(parts)


def encode(rows: Iterable[ExportRow], fmt: ExportFormat) -> Iterator[str]:
    """``rows`` as the text of an export in ``fmt``."""
    if fmt == "csv":
        return csv_chunks(EXPORT_FIELDS, (csv_values(row) for row in rows))
    return jsonl_chunks(rows)


def filename(kind: str, extension: str, now: datetime | None = None) -> str:
    """``dateline-export-20240305-140000.csv``: what a download is saved as."""
    moment = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    return f"dateline-{kind}-{moment}.{extension}"


def refused(exc: BadRequestError, what: str) -> Exception:
    """Elasticsearch refused an export's search: the query's fault (a ``SearchInputError``
    in our words) or the archive's (``ArchiveFailure``), as for a search."""
    found = classify(exc.info)
    log.warning("Elasticsearch refused the export of %r: %s", what[:200], found.first_reason())
    if found.blame == "query":
        return query_refusal(found)
    return ArchiveFailure(exc, found)


class Snapshot:
    """A point in time on ``alias``: every read of one export (or of every line of a
    watchlist) sees the same documents. Closed on ``close()`` or leaving ``with``; one
    left open (a process killed) expires ``KEEP_ALIVE`` after its last page."""

    def __init__(self, es: Elasticsearch, alias: str, page_size: int) -> None:
        self.es = es
        self.alias = alias
        self.page_size = page_size
        self.pit_id: str | None = str(es.open_point_in_time(index=alias, keep_alive=KEEP_ALIVE)["id"])

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.pit_id is None:
            return
        pit_id, self.pit_id = self.pit_id, None
        try:
            self.es.close_point_in_time(id=pit_id)
        except Exception as exc:  # noqa: BLE001 - it expires by itself; the export is done
            log.warning("could not close the export's point in time (it expires in %s): %r", KEEP_ALIVE, exc)

    def _search(self, **body: Any) -> Any:
        if self.pit_id is None:
            raise RuntimeError("this export's snapshot is closed")
        response = self.es.search(pit={"id": self.pit_id, "keep_alive": KEEP_ALIVE}, **body)
        # Elasticsearch may hand back a new id for the same point in time: use the newest.
        self.pit_id = str(response.get("pit_id") or self.pit_id)
        return response

    def count(self, query: dict[str, Any], *, collapse: bool = False) -> int:
        """Documents (with ``collapse``: stories) matching ``query`` in this snapshot."""
        return self._count_of(self._search(**self._count_body(query, collapse)), collapse)

    def counts(self, queries: Sequence[dict[str, Any]], *, collapse: bool = False) -> list[int | None]:
        """``count`` of each query, in one request per ``MSEARCH_BATCH`` queries; None for a
        query Elasticsearch refused (ask ``count`` for it to get the error)."""
        if self.pit_id is None:
            raise RuntimeError("this export's snapshot is closed")
        found: list[int | None] = []
        for start in range(0, len(queries), MSEARCH_BATCH):
            searches: list[dict[str, Any]] = []
            for query in queries[start : start + MSEARCH_BATCH]:
                body = self._count_body(query, collapse)
                searches += [{}, {**body, "pit": {"id": self.pit_id, "keep_alive": KEEP_ALIVE}}]
            for response in self.es.msearch(searches=searches)["responses"]:
                if "error" in response:
                    found.append(None)
                    continue
                self.pit_id = str(response.get("pit_id") or self.pit_id)
                found.append(self._count_of(response, collapse))
        return found

    @staticmethod
    def _count_body(query: dict[str, Any], collapse: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "size": 0, "track_total_hits": True}
        if collapse:
            body["aggs"] = {
                "stories": {"cardinality": {"field": COLLAPSE_FIELD, "precision_threshold": 40000}}
            }
        return body

    @staticmethod
    def _count_of(response: Any, collapse: bool) -> int:
        if collapse:
            return int(response["aggregations"]["stories"]["value"])
        return int(response["hits"]["total"]["value"])

    def pages(self, query: dict[str, Any], sort: list[Any]) -> Iterator[list[dict[str, Any]]]:
        """Every document matching ``query`` in ``sort`` order (``_shard_doc`` breaks ties),
        a page at a time. The first page is asked for at the first ``next()``."""
        order = [*sort, {"_shard_doc": "asc"}]
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": query,
                "size": self.page_size,
                "sort": order,
                "source": {"includes": SOURCE_FIELDS},
                "track_total_hits": False,
            }
            if after is not None:
                body["search_after"] = after
            hits = self._search(**body)["hits"]["hits"]
            if not hits:
                return
            yield hits
            if len(hits) < self.page_size:
                return
            after = hits[-1]["sort"]

    def rows(self, query: dict[str, Any], sort: list[Any], *, collapse: bool = False) -> Iterator[ExportRow]:
        """The documents matching ``query`` as rows; with ``collapse`` each story's first
        published version only (they are read in story order, see the module's docstring)."""
        if not collapse:
            for page in self.pages(query, sort):
                yield from (ExportRow.from_hit(hit) for hit in page)
            return
        last_story: object = None
        for page in self.pages(query, [{COLLAPSE_FIELD: "asc"}, *FIRST_PUBLISHED]):
            for hit in page:
                story = hit.get("_source", {}).get(COLLAPSE_FIELD)
                if story is not None and story == last_story:
                    continue
                last_story = story
                yield ExportRow.from_hit(hit)


NEWEST_FIRST = [{"published_at": {"order": "desc", "missing": "_last", "unmapped_type": "date"}}]


def export_order(params: SearchParams) -> list[Any]:
    """The rows' order (``Snapshot.pages`` adds ``_shard_doc``): with ``sort=date`` newest
    first, as on the page; otherwise the archive's own order. Not by relevance: every page of
    ``search_after`` makes Elasticsearch score and rank every match again, so a score order
    costs one pass over all matches per page (measured on 20,000 documents: about half the
    rows/s of the archive's order, and the gap grows with the archive); a date order can skip
    the documents before the last page (Elasticsearch's numeric sort optimisation)."""
    return list(NEWEST_FIRST) if params.sort == "date" else []


class Export:
    """One export of a search's result set.

    ``Export(es, alias, params, page_size)`` opens the snapshot and reads the first page
    at once, so a bad query or a missing index is raised here, before anything is
    streamed (an HTTP answer cannot turn into an error once its body has started);
    ``total`` is then known (stories with ``collapse``, approximate above 40,000).
    Iterate for the rows; ``close()`` (or ``with``) ends the snapshot."""

    def __init__(self, es: Elasticsearch, alias: str, params: SearchParams, page_size: int) -> None:
        self.params = params
        subfields = text_subfields(es, alias)
        self.snapshot = Snapshot(es, alias, page_size)
        try:
            query = search_query(params, subfields)
            try:
                self.total = self.snapshot.count(query, collapse=params.collapse)
            except BadRequestError as exc:
                if not classify(exc.info).syntax:
                    raise refused(exc, params.query) from None
                # As search does: query-string syntax that does not parse is read as the
                # forgiving simple syntax rather than failing the export.
                simple = params.model_copy(update={"query": to_simple_syntax(params.query)})
                query = search_query(simple, subfields, syntax="simple")
                try:
                    self.total = self.snapshot.count(query, collapse=params.collapse)
                except BadRequestError as again:
                    raise refused(again, params.query) from None
            self.query: dict[str, Any] = query
            self.sort: list[Any] = export_order(params)
        except BaseException:
            self.snapshot.close()
            raise

    def __enter__(self) -> Export:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.snapshot.close()

    def __iter__(self) -> Iterator[ExportRow]:
        return self.snapshot.rows(self.query, self.sort, collapse=self.params.collapse)

    def stream(self, fmt: ExportFormat, on_row: Callable[[], None] | None = None) -> Iterator[str]:
        """The export's text in ``fmt``; the snapshot is closed when the stream ends, fails
        or is dropped (a client that went away)."""
        try:
            rows: Iterable[ExportRow] = self
            if on_row is not None:
                rows = _counting(self, on_row)
            yield from encode(rows, fmt)
        finally:
            self.close()


def _counting(rows: Iterable[ExportRow], on_row: Callable[[], None]) -> Iterator[ExportRow]:
    for row in rows:
        on_row()
        yield row


# --- facets and the date histogram as CSV ------------------------------------------------------

FACET_HEADER = ("facet", "value", "count")
HISTOGRAM_HEADER = ("period", "count")


def facet_rows(es: Elasticsearch, alias: str, params: SearchParams) -> list[tuple[str, str, int]]:
    """The search's facet counts (``facet_size`` values per facet, counted as the page
    counts them: with ``collapse``, stories), one (facet, value, count) per row."""
    result = search(es, alias, params.model_copy(update={"size": 0, "page": 1}))
    return [
        (field, value, count)
        for field in FACET_FIELDS
        for value, count in result.facets.get(field, {}).items()
    ]


def histogram_rows(es: Elasticsearch, alias: str, params: SearchParams) -> list[tuple[str, int]]:
    """The page's date histogram: (period, count), oldest first; a period is a day, month or
    year (YYYY-MM-DD, YYYY-MM or YYYY), each a valid ``since``/``until``."""
    result = search(es, alias, params.model_copy(update={"size": 0, "page": 1}))
    return list(result.facets.get(PUBLISHED, {}).items())


def facets_csv(rows: Collection[tuple[str, str, int]]) -> Iterator[str]:
    return csv_chunks(FACET_HEADER, rows)


def histogram_csv(rows: Collection[tuple[str, int]]) -> Iterator[str]:
    return csv_chunks(HISTOGRAM_HEADER, rows)

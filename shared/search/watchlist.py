"""Watchlists: a list of names or queries, and per line the articles that match.

A watchlist is a file a person uploads (``POST /watchlists``) or names (``dateline
watchlist FILE``): plain text with one name per line, or CSV with a header row naming a
column ``name`` or ``query``. Each line becomes one search, with the same filters as the
search page (``SearchParams``: language, source, dates ...):

* a ``name`` (and every line of a plain list) is matched as a phrase in the title, body or
  summary ("Angela Merkel" finds those two words together, in that order); a name the
  alias table knows (``shared/names/aliases.py``: a country, ``US``, a name of the user's
  alias file) is matched as that entity under every one of its names (as the entity filter
  of search) or any of those names as a phrase in the text, acronyms excepted: the line
  "United States" finds an article whose entities say only "USA", and the line "US" does
  not find every "us" in the archive;
* a ``query`` is read as a search box's query (query-string syntax).

All lines are counted and read in one point in time (``export.Snapshot``), so a line's
count is exactly the number of its rows among the matches.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator, Sequence
from typing import Any, Literal

from elasticsearch import BadRequestError, Elasticsearch
from pydantic import BaseModel, Field, ValidationError

from shared.names.aliases import AliasFileError, alias_table
from shared.search.errors import SearchInputError
from shared.search.export import (
    EXPORT_FIELDS,
    ExportRow,
    Snapshot,
    csv_chunks,
    csv_values,
    jsonl_chunks,
    refused,
)
from shared.search.models import MAX_FILTER_CHARS, SearchParams, input_errors
from shared.search.query import entity_filter, entity_values, filters, text_clause, text_subfields
from shared.settings import get_settings
from shared.watches.models import WATCH_NAME, WatchSpec
from shared.watches.store import WatchExists, WatchInputError, WatchStore

LineKind = Literal["name", "query"]
Match = Literal["phrase", "entity", "query"]
COLUMNS: tuple[LineKind, ...] = ("name", "query")
# Enough for max_lines lines of the longest allowed line in any UTF-8 (4 bytes a character):
# a larger upload cannot be a valid watchlist and is refused before it is decoded.
BYTES_PER_LINE = MAX_FILTER_CHARS * 4 + 2
COUNT_HEADER = ("line", "query", "count")
WATCH_HEADER = ("watch", "watch_status")
# Watch names allow letters, digits, spaces, '.', '-' and '_' (``WATCH_NAME``): "watchlist: X"
# cannot be one, so a line's watch is "watchlist X".
WATCH_PREFIX = "watchlist "
_NOT_IN_NAMES = re.compile(r"[^\w .\-]+")
MATCH_HEADER = ("line", *EXPORT_FIELDS)
PHRASE_FIELDS = ["title", "body", "summary"]
FILE_FORMAT = (
    "plain text with one name per line, or CSV whose header row has a column 'name' (names, "
    "matched as phrases) or 'query' (search queries)"
)


class WatchlistParams(SearchParams):
    """What a watchlist is searched within: the search page's query and filters (every line
    must match them too). As for an export, every document counts by default."""

    collapse: bool = Field(
        False, description="false (default): count every document; true: count stories (one per story)."
    )
    output: Literal["counts", "matches"] = Field(
        "counts", description="counts: line, query, count; matches: every matching article, with its line."
    )
    format: Literal["csv", "json"] = Field(
        "csv",
        description="csv, or json: the counts as one JSON object (lines, and watches with "
        "make_watches), the matches as JSON Lines (line and the export's fields).",
    )
    make_watches: bool = Field(
        False,
        description="Also make each line a watch (named with watch_prefix and the line): it alerts on "
        "articles indexed from now on. The counts then say each line's watch and whether it was made.",
    )
    watch_prefix: str = Field(
        WATCH_PREFIX, max_length=40, description="The start of each line's watch name (with make_watches)."
    )


class WatchlistError(SearchInputError):
    """A watchlist that cannot be used: the message says where and what to change."""


class WatchlistLine(BaseModel):
    """One name or query of a watchlist."""

    number: int  # its line in the file (from 1; the header row is line 1 of a CSV)
    text: str
    kind: LineKind = "name"


class LineSearch(BaseModel):
    """How one line is searched."""

    line: WatchlistLine
    match: Match
    described: str  # the search in words, for the counts' ``query`` column
    query: dict[str, Any]


def parse_watchlist(data: bytes, *, max_lines: int, filename: str | None = None) -> list[WatchlistLine]:
    """The lines of a watchlist file (UTF-8, a byte-order mark tolerated); blank lines are
    skipped. Raises ``WatchlistError`` naming the line and what to change."""
    if len(data) > max_lines * BYTES_PER_LINE:
        raise WatchlistError(
            f"the watchlist is {len(data):,} bytes: more than {max_lines} lines of at most "
            f"{MAX_FILTER_CHARS} characters can hold (DATELINE_WATCHLIST_MAX_LINES); split it"
        )
    if b"\x00" in data:
        raise WatchlistError(f"the watchlist is not a text file (it holds NUL bytes); upload {FILE_FORMAT}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise WatchlistError(
            f"the watchlist is not UTF-8 text (line {line}, byte {exc.start + 1}); save it as UTF-8"
        ) from None
    column = _header_column(text, filename)
    lines = _csv_lines(text, column) if column else _plain_lines(text)
    if not lines:
        raise WatchlistError(f"the watchlist holds no names or queries; upload {FILE_FORMAT}")
    if len(lines) > max_lines:
        raise WatchlistError(
            f"the watchlist has {len(lines)} lines; at most {max_lines} are allowed "
            "(DATELINE_WATCHLIST_MAX_LINES): split it"
        )
    return lines


def _header_column(text: str, filename: str | None) -> LineKind | None:
    """The CSV column to read (``name`` or ``query``), or None for a plain list."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        header = [cell.strip().casefold() for cell in next(csv.reader([first]), [])]
    except csv.Error:
        header = []
    found = [column for column in COLUMNS if column in header]
    if len(found) > 1:
        raise WatchlistError(
            "the watchlist's header has both a 'name' and a 'query' column; keep one (names are "
            "matched as phrases, queries as in the search box)"
        )
    if found:
        return found[0]
    if filename and filename.lower().endswith(".csv"):
        shown = ", ".join(repr(cell) for cell in header[:10]) or "nothing"
        raise WatchlistError(
            f"the CSV file {filename!r} has no column 'name' or 'query' in its header row (it has "
            f"{shown}); name the column of names 'name', or of queries 'query'"
        )
    return None


def _csv_lines(text: str, column: LineKind) -> list[WatchlistLine]:
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: list[WatchlistLine] = []
    position: int | None = None
    try:
        for cells in reader:
            if position is None:
                if not any(cell.strip() for cell in cells):
                    continue  # blank lines before the header
                position = [cell.strip().casefold() for cell in cells].index(column)
                continue
            value = cells[position].strip() if position < len(cells) else ""
            if value:
                lines.append(_checked(WatchlistLine(number=reader.line_num, text=value, kind=column)))
    except csv.Error as exc:
        raise WatchlistError(
            f"the watchlist's CSV cannot be read at line {reader.line_num} ({exc}); check its quotes"
        ) from None
    return lines


def _plain_lines(text: str) -> list[WatchlistLine]:
    return [
        _checked(WatchlistLine(number=number, text=line.strip()))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _checked(line: WatchlistLine) -> WatchlistLine:
    if len(line.text) > MAX_FILTER_CHARS:
        raise WatchlistError(
            f"line {line.number} of the watchlist is {len(line.text)} characters long; at most "
            f"{MAX_FILTER_CHARS} are allowed"
        )
    if line.kind == "query":
        try:
            SearchParams(query=line.text)
        except ValidationError as exc:
            raise WatchlistError(f"line {line.number} of the watchlist: {input_errors(exc)}") from None
        except SearchInputError as exc:
            raise WatchlistError(f"line {line.number} of the watchlist: {exc}") from None
    return line


# --- searching ------------------------------------------------------------------------------------


def is_known_entity(name: str) -> bool:
    """The alias table lists ``name`` (as a canonical name or an alias)."""
    try:
        table = alias_table(get_settings().entity_aliases)
    except AliasFileError as exc:
        raise SearchInputError(str(exc)) from exc
    return table.canonical(name) is not None


def is_acronym(name: str) -> bool:
    """``US``, ``U.S.``, ``TTP``: capitals only, short. Text search ignores case, so as a
    phrase such a name finds the common word it spells."""
    letters = name.replace(".", "").replace(" ", "")
    return letters.isalpha() and letters.isupper() and len(letters) <= 6


def _phrase_clause(text: str) -> dict[str, Any]:
    return {"multi_match": {"query": text, "type": "phrase", "fields": PHRASE_FIELDS}}


def line_search(line: WatchlistLine, params: SearchParams, subfields: Collection[str]) -> LineSearch:
    """The search of one line, within the query and filters of ``params``."""
    clause: dict[str, Any]
    if line.kind == "query":
        match: Match = "query"
        clause, described = text_clause(line.text, subfields), f"query: {line.text}"
    elif is_known_entity(line.text):
        match = "entity"
        names = entity_values(line.text)
        # The entity under every name it has, or any of those names in the text: an article
        # NER did not tag still counts. Except acronyms: "US" as a phrase is every "us".
        phrases = [name for name in names if not is_acronym(name)]
        clause = {
            "bool": {
                "should": [entity_filter(None, line.text), *map(_phrase_clause, phrases)],
                "minimum_should_match": 1,
            }
        }
        described = "entity: " + " | ".join(names)
        if phrases:
            described += "; or phrase: " + " | ".join(phrases)
    else:
        match = "phrase"
        clause = _phrase_clause(line.text)
        described = f"phrase: {line.text}"
    must = [clause]
    if params.query.strip() not in ("", "*"):
        must.append(text_clause(params.query, subfields))
    query = {"bool": {"must": must, "filter": filters(params)}}
    return LineSearch(line=line, match=match, described=described, query=query)


class LineCount(BaseModel):
    line: str
    query: str = Field(description="How the line was searched, in words.")
    count: int
    match: Match


class MatchRow(ExportRow):
    """An article a line matched (the matches as JSON Lines)."""

    line: str


def count_lines(snapshot: Snapshot, searches: Sequence[LineSearch], *, collapse: bool) -> list[LineCount]:
    """Each line's matching documents (stories with ``collapse``), in the file's order."""
    found = []
    numbers = snapshot.counts([item.query for item in searches], collapse=collapse)
    for item, count in zip(searches, numbers, strict=True):
        if count is None:
            try:  # refused in the multi-search: asked alone, Elasticsearch says why
                count = snapshot.count(item.query, collapse=collapse)
            except BadRequestError as exc:
                problem = refused(exc, item.line.text)
                if isinstance(problem, SearchInputError):
                    raise WatchlistError(f"line {item.line.number} of the watchlist: {problem}") from None
                raise problem from None
        found.append(LineCount(line=item.line.text, query=item.described, count=count, match=item.match))
    return found


def counts_csv(counts: Sequence[LineCount], watches: Sequence[LineWatch] | None = None) -> Iterator[str]:
    """line, query, count per line; with ``watches`` also each line's watch and its status."""
    if watches is None:
        return csv_chunks(COUNT_HEADER, ((c.line, c.query, c.count) for c in counts))
    return csv_chunks(
        COUNT_HEADER + WATCH_HEADER,
        ((c.line, c.query, c.count, w.watch, w.status_text) for c, w in zip(counts, watches, strict=True)),
    )


# --- each line a watch ------------------------------------------------------------------------------


class LineWatch(BaseModel):
    """What became of one line's watch."""

    line: str
    watch: str
    status: Literal["created", "exists", "refused"]
    reason: str | None = None

    @property
    def status_text(self) -> str:
        return f"{self.status}: {self.reason}" if self.reason else self.status


def watch_name(line: WatchlistLine, prefix: str) -> str:
    """``prefix`` + the line, in the characters a watch name may hold, at most 80 of them."""
    text = " ".join(_NOT_IN_NAMES.sub(" ", prefix + line.text).split())[:80].strip()
    if not WATCH_NAME.match(text):
        text = " ".join(_NOT_IN_NAMES.sub(" ", f"{prefix} line {line.number}").split())[:80].strip()
    return text


def _phrase(text: str) -> str:
    """``text`` as one quoted phrase of query-string syntax."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def watch_spec(item: LineSearch, params: SearchParams, prefix: str) -> WatchSpec:
    """The watch of one line: the line's search within ``params``'s query and filters, as a
    saved search (a phrase as a quoted query, an entity as an entity filter with every alias)."""
    line = item.line
    query = params.query if params.query.strip() not in ("", "*") else None
    entity = list(params.entity)
    if item.match == "entity":
        entity.append(line.text)
        text = query or "*"
    else:
        own = _phrase(line.text) if item.match == "phrase" else f"({line.text})"
        text = f"({query}) AND {own}" if query else own
    return WatchSpec(
        name=watch_name(line, prefix),
        query=text,
        lang=params.lang,
        source=params.source,
        entity=entity,
        dateline=params.dateline,
        since=params.since,
        until=params.until,
    )


def make_watches(
    store: WatchStore, searches: Sequence[LineSearch], params: SearchParams, prefix: str
) -> list[LineWatch]:
    """A watch per line; a line whose watch exists (or cannot be made) says so, the others
    are still made."""
    made = []
    for item in searches:
        name = watch_name(item.line, prefix)
        try:
            store.add(watch_spec(item, params, prefix))
        except WatchExists:
            made.append(LineWatch(line=item.line.text, watch=name, status="exists"))
            continue
        except (WatchInputError, ValidationError, SearchInputError) as exc:
            reason = input_errors(exc) if isinstance(exc, ValidationError) else str(exc)
            made.append(LineWatch(line=item.line.text, watch=name, status="refused", reason=reason))
            continue
        made.append(LineWatch(line=item.line.text, watch=name, status="created"))
    return made


def match_rows(
    snapshot: Snapshot, searches: Sequence[LineSearch], *, collapse: bool
) -> Iterator[tuple[str, ExportRow]]:
    """(line, row) for every article each line matches, line by line; an article that
    matches several lines is a row of each."""
    for item in searches:
        for row in snapshot.rows(item.query, [], collapse=collapse):
            yield item.line.text, row


def matches_csv(rows: Iterator[tuple[str, ExportRow]]) -> Iterator[str]:
    return csv_chunks(MATCH_HEADER, ([line, *csv_values(row)] for line, row in rows))


def matches_jsonl(rows: Iterator[tuple[str, ExportRow]]) -> Iterator[str]:
    return jsonl_chunks(MatchRow(line=line, **dict(row)) for line, row in rows)


class WatchlistCounts(BaseModel):
    """The counts as JSON: one entry per line, in the file's order, and (with make_watches)
    what became of each line's watch."""

    lines: list[LineCount]
    watches: list[LineWatch] | None = None


class WatchlistRun:
    """A watchlist searched in one snapshot of ``alias``: every line is counted at once
    (so a bad line or a missing index is raised before anything is streamed), and the
    matches are read afterwards from the same snapshot. ``close()`` (or ``with``, or the
    end of ``matches``) ends it."""

    def __init__(
        self,
        es: Elasticsearch,
        alias: str,
        lines: Sequence[WatchlistLine],
        params: SearchParams,
        page_size: int,
    ) -> None:
        self.collapse = params.collapse
        self.params = params
        self.watches: list[LineWatch] | None = None
        subfields = text_subfields(es, alias)
        self.searches = [line_search(line, params, subfields) for line in lines]
        self.snapshot = Snapshot(es, alias, page_size)
        try:
            self.counts = count_lines(self.snapshot, self.searches, collapse=self.collapse)
        except BaseException:
            self.snapshot.close()
            raise

    def __enter__(self) -> WatchlistRun:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.snapshot.close()

    def make_watches(self, store: WatchStore, prefix: str) -> list[LineWatch]:
        """Make each line a watch (after every line was counted: a bad line made none)."""
        self.watches = make_watches(store, self.searches, self.params, prefix)
        return self.watches

    def counts_csv(self) -> Iterator[str]:
        return counts_csv(self.counts, self.watches)

    def counts_text(self, fmt: str) -> Iterator[str]:
        """The counts as CSV, or (``fmt="json"``) as one ``WatchlistCounts`` object."""
        if fmt == "json":
            return iter([WatchlistCounts(lines=self.counts, watches=self.watches).model_dump_json() + "\n"])
        return self.counts_csv()

    def matches_text(self, fmt: str) -> Iterator[str]:
        """The matches as CSV, or (``fmt="json"``) JSON Lines; the snapshot ends with them."""
        return matches_jsonl(self.matches()) if fmt == "json" else matches_csv(self.matches())

    @property
    def total_matches(self) -> int:
        return sum(c.count for c in self.counts)

    def matches(self) -> Iterator[tuple[str, ExportRow]]:
        """Every line's matching articles; the snapshot is closed when they end or fail."""
        try:
            yield from match_rows(self.snapshot, self.searches, collapse=self.collapse)
        finally:
            self.close()

"""``dateline export``: a whole result set as CSV or JSON Lines (or its facets and date
histogram as CSV), and ``dateline watchlist``: per line of a list of names or queries, the
count of matching articles and the matches.

Both take the options of ``dateline search`` (one per ``SearchParams`` field) and write as
they read: nothing is held in memory beyond one page of ``export_page_size`` documents. A
file named with ``-o`` is written beside itself (``FILE.part``) and renamed when complete,
so a failed export never leaves a file that looks whole.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, List, Optional, get_origin

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.cli.failures import archive_errors, fail
from services.cli.settings import settings_or_exit
from shared.search.client import make_client
from shared.search.export import (
    Export,
    ExportParams,
    facet_rows,
    facets_csv,
    histogram_csv,
    histogram_rows,
)
from shared.search.models import SearchParams, input_errors
from shared.search.watchlist import (
    WatchlistParams,
    WatchlistRun,
    matches_csv,
    matches_jsonl,
    parse_watchlist,
)
from shared.watches.store import WatchStore

# Options of a search that mean nothing to an export (it is the whole result set).
NOT_EXPORT_OPTIONS = {"size", "page"}


def export_command(
    query: str,
    fmt: str,
    output: Optional[Path],  # noqa: UP045 - typer reads this form
    facets: bool,
    histogram: bool,
    **options: Any,
) -> None:
    """Export every article a search matches (no 10,000 cap) as CSV or JSON Lines: id, title,
    url, source, published_at, dateline, language, people, organisations, places, summary,
    path. Every document by default; --collapse gives one row per story. --facets or
    --histogram write the search's facet counts or date histogram as CSV instead (counted
    per story unless --no-collapse, as on the search page)."""
    err = Console(stderr=True)
    if facets and histogram:
        fail(err, "give --facets or --histogram, not both (each is its own CSV)", 2)
    summary_only = facets or histogram
    if options.get("collapse") is None:
        options["collapse"] = summary_only  # as the page counts facets; every document exported
    given = {k: v for k, v in options.items() if v is not None}
    try:
        params = ExportParams.model_validate({"query": query, "format": fmt, **given})
    except ValidationError as exc:
        fail(err, input_errors(exc), 2)
    settings = settings_or_exit()
    es = make_client(settings.elasticsearch_url, settings=settings)
    with archive_errors(err, settings):
        if facets:
            _write(output, facets_csv(facet_rows(es, settings.index, params)))
            return
        if histogram:
            _write(output, histogram_csv(histogram_rows(es, settings.index, params)))
            return
        run = Export(es, settings.index, params, settings.export_page_size)
        with run, _progress(err, output, run.total, "exporting") as advance:
            _write(output, run.stream(params.format, on_row=advance))
    if output is not None:
        err.print(f"wrote {escape(str(output))}")


def watchlist_command(
    file: Path,
    matches: Optional[Path],  # noqa: UP045 - typer reads this form
    output: Optional[Path],  # noqa: UP045
    **options: Any,
) -> None:
    """Search every line of a watchlist: plain text with one name per line, or CSV with a
    'name' or 'query' column. Writes line, query, count as CSV (stdout or -o); --matches
    FILE writes every matching article with its line (the export's fields). Names match as
    phrases, or as entities under every alias when the alias table knows them; queries as
    in the search box. The search options narrow every line (e.g. --lang de --since 2024).
    --make-watches also makes each line a watch ("watchlist LINE", or --watch-prefix)."""
    err = Console(stderr=True)
    try:
        params = WatchlistParams(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        fail(err, input_errors(exc), 2)
    settings = settings_or_exit()
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(err, f"cannot read the watchlist {file}: {exc.strerror}", 2)
    es = make_client(settings.elasticsearch_url, settings=settings)
    with archive_errors(err, settings):
        lines = parse_watchlist(data, max_lines=settings.watchlist_max_lines, filename=file.name)
        run = WatchlistRun(es, settings.index, lines, params, settings.export_page_size)
        with run:
            if params.make_watches:
                run.make_watches(WatchStore(es, settings.index, settings), params.watch_prefix)
            _write(output, run.counts_text(params.format))
            if matches is not None:
                with _progress(err, matches, run.total_matches, "matches") as advance:
                    encode = matches_jsonl if params.format == "json" else matches_csv
                    _write(matches, encode(_advancing(run.matches(), advance)))
                err.print(f"wrote {escape(str(matches))}")


def _advancing(items: Iterable[Any], advance: Callable[[], None]) -> Iterator[Any]:
    for item in items:
        advance()
        yield item


@contextmanager
def _progress(err: Console, output: Path | None, total: int, label: str) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when the rows do not go to the terminal (a file, a pipe);
    none when they do (it would be drawn among them)."""
    if output is None and sys.stdout.isatty():
        yield lambda: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total or None)
        yield lambda: progress.advance(task)


def _write(output: Path | None, chunks: Iterable[str]) -> None:
    """``chunks`` to ``output`` (through ``output.part``, renamed when whole) or stdout, UTF-8."""
    if output is None:
        stream = sys.stdout.buffer
        try:
            for chunk in chunks:
                stream.write(chunk.encode("utf-8"))
            stream.flush()
        except BrokenPipeError:
            # The reader stopped (`| head`): not an error. Python would complain again when it
            # flushes stdout at exit, so point stdout at nothing first.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            if isinstance(chunks, Iterator):
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()  # ends the export's snapshot now
        return
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            _copy(chunks, handle)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def _copy(chunks: Iterable[str], handle: IO[str]) -> None:
    for chunk in chunks:
        handle.write(chunk)


# --- options: one per SearchParams field, as `dateline search` has them ---------------------------


def _search_options(
    model: type[BaseModel], skip: set[str], optional_bools: set[str]
) -> list[inspect.Parameter]:
    """One typer option per field of ``model`` (a ``SearchParams``), with its description;
    lists repeat. ``optional_bools`` default to None (the command decides)."""
    parameters = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        annotation: Any = field.annotation
        default = field.get_default(call_default_factory=True)
        if get_origin(annotation) is list:
            annotation, default = Optional[List[str]], None  # noqa: UP006,UP045 - typer reads these forms
        if name in optional_bools:
            annotation, default = Optional[bool], None  # noqa: UP045
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=annotation,
                default=typer.Option(default, help=field.description or ""),
            )
        )
    return parameters


def _sign(
    command: Callable[..., None], own: list[inspect.Parameter], options: list[inspect.Parameter]
) -> None:
    parameters = own + options
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


_QUERY = SearchParams.model_fields["query"]
_sign(
    export_command,
    [
        _option(
            "query",
            str,
            typer.Argument(_QUERY.default, help=f"{_QUERY.description} E.g. 'strike AND title:harbour'."),
        ),
        _option("fmt", str, typer.Option("csv", "--format", help="csv (UTF-8, a header row) or jsonl.")),
        _option(
            "output",
            Optional[Path],  # noqa: UP045
            typer.Option(None, "--output", "-o", help="Write to this file (default: stdout)."),
        ),
        _option("facets", bool, typer.Option(False, "--facets", help="The facet counts as CSV instead.")),
        _option(
            "histogram", bool, typer.Option(False, "--histogram", help="The date histogram as CSV instead.")
        ),
    ],
    _search_options(ExportParams, NOT_EXPORT_OPTIONS | {"query", "format"}, {"collapse"}),
)
_sign(
    watchlist_command,
    [
        _option("file", Path, typer.Argument(..., help="The watchlist: names one per line, or CSV.")),
        _option(
            "matches",
            Optional[Path],  # noqa: UP045
            typer.Option(None, "--matches", help="Also write every matching article, with its line, as CSV."),
        ),
        _option(
            "output",
            Optional[Path],  # noqa: UP045
            typer.Option(None, "--output", "-o", help="Write the counts to this file (default: stdout)."),
        ),
    ],
    _search_options(WatchlistParams, NOT_EXPORT_OPTIONS | {"output", "facet_size", "sort"}, set()),
)

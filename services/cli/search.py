"""``dateline search``: query the archive from the terminal (a table, or JSON)."""

from __future__ import annotations

import json
import re
from typing import List, Optional

import typer
from elasticsearch import ApiError, NotFoundError, TransportError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typing_extensions import Annotated

from shared.search.client import make_client
from shared.search.models import SearchHit, SearchInputError, SearchParams, SearchResult, input_errors
from shared.search.query import search
from shared.settings import get_settings

_EM = re.compile(r"</?em>")


def search_command(
    query: Annotated[str, typer.Argument(help='Query-string syntax, e.g. \'strike AND title:harbour\'.')] = "*",
    size: Annotated[int, typer.Option(help="Hits per page (at most 100).")] = 10,
    page: Annotated[int, typer.Option(help="Page number, from 1.")] = 1,
    lang: Annotated[Optional[List[str]], typer.Option(help="Language code; repeat for any of several.")] = None,
    source: Annotated[Optional[List[str]], typer.Option(help="Source name; repeat for any of several.")] = None,
    entity: Annotated[
        Optional[List[str]], typer.Option(help="TYPE=NAME (person, organization, location, misc); repeat: all must match.")
    ] = None,
    since: Annotated[Optional[str], typer.Option(help="Published on/after: YYYY, YYYY-MM, YYYY-MM-DD or ISO time.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Published on/before (inclusive), same forms.")] = None,
    no_collapse: Annotated[bool, typer.Option("--no-collapse", help="Show every copy of identical articles.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Search the archive: full text with filters, facets and highlights."""
    err = Console(stderr=True)
    try:
        params = SearchParams(
            query=query, size=size, page=page, lang=lang or [], source=source or [],
            entity=entity or [], since=since, until=until, collapse=not no_collapse,
        )
    except ValidationError as exc:
        err.print(f"[red]error:[/] {escape(input_errors(exc))}")
        raise typer.Exit(2) from None

    settings = get_settings()
    try:
        result = search(make_client(settings.elasticsearch_url), settings.index, params)
    except SearchInputError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except NotFoundError:
        err.print(f"[red]error:[/] there is no index {settings.index!r} yet: start the indexer "
                  "(it creates the index) and ingest some articles.")
        raise typer.Exit(1) from None
    except (TransportError, ApiError) as exc:
        err.print(f"[red]error:[/] Elasticsearch at {settings.elasticsearch_url} is not answering "
                  f"({type(exc).__name__}); is it running? Try `dateline status`.")
        raise typer.Exit(1) from None

    if json_output:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print_result(result, Console())


def _snippet(hit: SearchHit, width: int = 160) -> str:
    fragments = hit.highlight.get("body") or hit.highlight.get("summary") or []
    if fragments:
        # Escape the text, then turn <em> marks into bold.
        return " … ".join(
            "".join(f"[bold yellow]{escape(part)}[/]" if i % 2 else escape(part)
                    for i, part in enumerate(_EM.split(fragment)))
            for fragment in fragments[:2]
        )
    text = hit.summary or hit.body or ""
    return escape(text[:width] + ("…" if len(text) > width else ""))


def _top(names: list[str], n: int = 3) -> str:
    return escape(", ".join(names[:n]) + (f" +{len(names) - n}" if len(names) > n else ""))


def print_result(result: SearchResult, console: Console) -> None:
    first = (result.page - 1) * result.size + 1 if result.hits else 0
    last = first + len(result.hits) - 1 if result.hits else 0
    console.print(f"[bold]{result.total}[/] articles; showing {first}–{last} (page {result.page})")
    if result.hits:
        table = Table(show_lines=True, expand=True)
        table.add_column("title / snippet", ratio=5)
        table.add_column("source", ratio=1)
        table.add_column("lang", width=4)
        table.add_column("published", width=10)
        table.add_column("people / orgs / places", ratio=2)
        for hit in result.hits:
            entities = hit.entities
            who = "\n".join(
                filter(None, (_top(entities.get(k, [])) for k in ("person", "organization", "location")))
            )
            table.add_row(
                f"[bold]{escape(hit.title or '(untitled)')}[/]\n{_snippet(hit)}",
                escape(hit.source or ""),
                escape(hit.language or ""),
                hit.published_at.date().isoformat() if hit.published_at else "",
                who,
            )
        console.print(table)
    for field, counts in result.facets.items():
        if counts:
            shown = ", ".join(f"{escape(k)} [dim]{v}[/]" for k, v in counts.items())
            console.print(f"[cyan]{field}[/]: {shown}")

"""``dateline search``: query the archive from the terminal (a table, or JSON)."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any, List, Optional, get_origin

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from services.cli.failures import archive_errors
from services.cli.settings import settings_or_exit
from shared.search.client import make_client
from shared.search.models import SearchHit, SearchParams, SearchResult, input_errors
from shared.search.query import search

_EM = re.compile(r"</?em>")


def search_command(query: str, json_output: bool, **options: Any) -> None:
    """Search the archive: full text with filters, facets and highlights."""
    err = Console(stderr=True)
    try:
        params = SearchParams(query=query, **{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        err.print(f"[red]error:[/] {escape(input_errors(exc))}")
        raise typer.Exit(2) from None

    settings = settings_or_exit()
    with archive_errors(err, settings):
        result = search(make_client(settings.elasticsearch_url, settings=settings), settings.index, params)

    if json_output:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print_result(result, Console())


def _options_from_search_params() -> None:
    """Give ``search_command`` one option per ``SearchParams`` field (declared there once):
    ``--lang``, ``--entity`` ... with the field's default and description; lists repeat."""
    fields = SearchParams.model_fields
    parameters = [
        inspect.Parameter(
            "query",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str,
            default=typer.Argument(
                fields["query"].default,
                help=f"{fields['query'].description} E.g. 'strike AND title:harbour'.",
            ),
        )
    ]
    for name, field in fields.items():
        if name == "query":
            continue
        annotation: Any = field.annotation
        default = field.get_default(call_default_factory=True)
        if get_origin(annotation) is list:
            annotation, default = Optional[List[str]], None  # noqa: UP006,UP045 - typer reads these forms
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=annotation,
                default=typer.Option(default, help=field.description or ""),
            )
        )
    parameters.append(
        inspect.Parameter(
            "json_output",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=typer.Option(False, "--json", help="Print the result as JSON."),
        )
    )
    search_command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    search_command.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}


_options_from_search_params()


def _snippet(hit: SearchHit, width: int = 160) -> str:
    fragments = hit.highlight.get("body") or hit.highlight.get("summary") or []
    if fragments:
        # Escape the text, then turn <em> marks into bold.
        return " … ".join(
            "".join(
                f"[bold yellow]{escape(part)}[/]" if i % 2 else escape(part)
                for i, part in enumerate(_EM.split(fragment))
            )
            for fragment in fragments[:2]
        )
    text = hit.summary or hit.body or ""
    return escape(text[:width] + ("…" if len(text) > width else ""))


def _top(names: list[str], n: int = 3) -> str:
    return escape(", ".join(names[:n]) + (f" +{len(names) - n}" if len(names) > n else ""))


def _story_line(hit: SearchHit) -> str:
    """ "N versions from K sources" under a hit that stands for a story of several."""
    if hit.versions <= 1:
        return ""
    sources = f"{hit.sources} source" + ("" if hit.sources == 1 else "s")
    first = ", first seen" if hit.first_seen else ""
    return f"\n[cyan]{hit.versions} versions from {sources}{first}[/] [dim](dateline story {escape(hit.story_id or '')})[/]"


def print_result(result: SearchResult, console: Console) -> None:
    first = (result.page - 1) * result.size + 1 if result.hits else 0
    last = first + len(result.hits) - 1 if result.hits else 0
    about = "about " if result.sampled else ""
    console.print(f"{about}[bold]{result.total}[/] articles; showing {first}–{last} (page {result.page})")
    if result.sampled:
        console.print(
            f"[dim]{result.matches:,} documents match: the count and the facets are estimated from "
            f"{result.sampled:.1%} of their stories; add a word or a filter to count exactly[/]"
        )
    if result.partial:
        console.print(
            "[yellow]part of the archive did not answer (a node of the cluster is down or "
            "recovering): the results may be incomplete; `dateline index status` shows the cluster[/]"
        )
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
                filter(
                    None,
                    (_top(names) for names in (entities.person, entities.organization, entities.location)),
                )
            )
            table.add_row(
                f"[bold]{escape(hit.title or '(untitled)')}[/]{_story_line(hit)}\n{_snippet(hit)}",
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

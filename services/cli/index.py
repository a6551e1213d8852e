"""``dateline index``: look at and migrate the Elasticsearch index behind the alias."""

from __future__ import annotations

import json

import typer
from elasticsearch import ApiError, TransportError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typing_extensions import Annotated

from shared.search.client import make_client
from shared.search.index import IndexSetupError, index_status
from shared.search.migrate import migrate
from shared.search.template import TEMPLATE_VERSION
from shared.settings import get_settings

index_app = typer.Typer(help="The Elasticsearch index: status and migration to a new mapping.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/] {message}")
    return typer.Exit(1)


@index_app.command("status")
def status_command(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Where the alias points, its template version and document count."""
    settings = get_settings()
    try:
        found = index_status(make_client(settings.elasticsearch_url), settings.index)
    except (TransportError, ApiError) as exc:
        raise _fail(f"Elasticsearch at {settings.elasticsearch_url} is not answering ({type(exc).__name__})") from None
    if json_output:
        typer.echo(json.dumps({**found.model_dump(), "code_template_version": TEMPLATE_VERSION}))
        return
    console = Console()
    if found.index is None:
        console.print(f"alias [bold]{found.alias}[/] does not exist yet (the indexer creates it)")
        return
    console.print(f"alias [bold]{found.alias}[/] -> [bold]{found.index}[/] ({found.docs} documents)")
    console.print(f"template version in index: {found.template_version}; in this release: {TEMPLATE_VERSION}")
    if found.template_version is not None and found.template_version < TEMPLATE_VERSION:
        console.print("[yellow]the index is older than the template: run `dateline index migrate`[/]")
    if found.other_versions:
        console.print(f"other versions kept: {', '.join(found.other_versions)}")


@index_app.command("migrate")
def migrate_command(
    delete_old: Annotated[
        bool, typer.Option("--delete-old/--keep-old", help="Delete the previous index version afterwards.")
    ] = False,
) -> None:
    """Copy the archive into a new index version built from the current template, then
    switch the alias to it atomically (searches keep working throughout)."""
    settings = get_settings()
    es = make_client(settings.elasticsearch_url, timeout=120.0)
    columns = (TextColumn("copying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("copy", total=None)
            result = migrate(
                es, settings.index, settings, delete_old=delete_old,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except IndexSetupError as exc:
        raise _fail(str(exc)) from None
    except (TransportError, ApiError) as exc:
        raise _fail(f"Elasticsearch failed during the migration ({exc}); the alias still points "
                    "at the old index, so nothing is lost: fix the cause and run it again") from None
    Console().print(
        f"alias [bold]{result.alias}[/]: {result.old_index} -> [bold]{result.new_index}[/] "
        f"(template v{result.template_version}); copied {result.copied} documents, "
        f"{result.caught_up} written meanwhile; old index "
        + ("deleted" if result.old_deleted else f"kept (delete with --delete-old next time, or DELETE /{result.old_index})")
    )

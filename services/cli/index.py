"""``dateline index``: look at and migrate the Elasticsearch index behind the alias."""

from __future__ import annotations

import json

import typer
from elasticsearch import ApiError, TransportError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typing_extensions import Annotated

from services.cli.settings import settings_or_exit
from shared.search.client import describe_failure, make_client
from shared.search.index import ClusterHealth, IndexSetupError, index_status
from shared.search.migrate import migrate
from shared.search.template import TEMPLATE_VERSION

index_app = typer.Typer(
    help="The Elasticsearch index: status and migration to a new mapping.", no_args_is_help=True
)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/] {message}")
    return typer.Exit(1)


@index_app.command("status")
def status_command(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Where the alias points, its template version and document count, and the health of
    the cluster: status, nodes, unassigned shards."""
    settings = settings_or_exit()
    try:
        found = index_status(make_client(settings.elasticsearch_url, settings=settings), settings.index)
    except (TransportError, ApiError) as exc:
        raise _fail(f"Elasticsearch at {settings.elasticsearch_url} {describe_failure(exc)}") from None
    if json_output:
        typer.echo(json.dumps({**found.model_dump(), "code_template_version": TEMPLATE_VERSION}))
        return
    console = Console()
    if found.index is None:
        console.print(f"alias [bold]{found.alias}[/] does not exist yet (the indexer creates it)")
    else:
        docs = (
            f"{found.docs} documents"
            if found.docs is not None
            else "documents: unknown, part of the index is unavailable"
        )
        console.print(f"alias [bold]{found.alias}[/] -> [bold]{found.index}[/] ({docs})")
        console.print(
            f"template version in index: {found.template_version}; in this release: {TEMPLATE_VERSION}"
        )
        if found.template_version is not None and found.template_version < TEMPLATE_VERSION:
            console.print("[yellow]the index is older than the template: run `dateline index migrate`[/]")
        if found.other_versions:
            console.print(f"other versions kept: {', '.join(found.other_versions)}")
    print_cluster(found.cluster, console)


_COLOURS = {"green": "green", "yellow": "yellow", "red": "red"}


def print_cluster(cluster: ClusterHealth, console: Console) -> None:
    colour = _COLOURS.get(cluster.status, "white")
    index = (
        f"; this index {cluster.index_status}, {cluster.replicas} replica(s)" if cluster.index_status else ""
    )
    console.print(
        f"cluster [bold]{escape(cluster.name)}[/]: [bold {colour}]{cluster.status}[/] - {cluster.node_count} "
        f"node(s), {cluster.data_nodes} holding data; shards {cluster.active_shards} active, "
        f"{cluster.unassigned_shards} unassigned, {cluster.initializing_shards} initializing, "
        f"{cluster.relocating_shards} relocating ({cluster.active_shards_percent:.0f}% active){index}"
    )
    for node in cluster.nodes:
        console.print(
            f"  {'*' if node.master else ' '} {escape(node.name)}  {escape(node.address)}  roles {node.roles}"
        )
    if cluster.advice:
        console.print(f"[{colour}]{escape(cluster.advice)}[/]")


@index_app.command("migrate")
def migrate_command(
    delete_old: Annotated[
        bool, typer.Option("--delete-old/--keep-old", help="Delete the previous index version afterwards.")
    ] = False,
) -> None:
    """Copy the archive into a new index version built from the current template, then
    switch the alias to it atomically (searches keep working throughout)."""
    settings = settings_or_exit()
    es = make_client(settings.elasticsearch_url, timeout=120.0, settings=settings)
    columns = (TextColumn("copying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("copy", total=None)
            result = migrate(
                es,
                settings.index,
                settings,
                delete_old=delete_old,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except IndexSetupError as exc:
        raise _fail(str(exc)) from None
    except (TransportError, ApiError) as exc:
        raise _fail(
            f"Elasticsearch failed during the migration ({exc}); the alias still points "
            "at the old index, so nothing is lost: fix the cause and run it again"
        ) from None
    Console().print(
        f"alias [bold]{result.alias}[/]: {result.old_index} -> [bold]{result.new_index}[/] "
        f"(template v{result.template_version}); copied {result.copied} documents, "
        f"{result.caught_up} written meanwhile; old index "
        + (
            "deleted"
            if result.old_deleted
            else f"kept (delete with --delete-old next time, or DELETE /{result.old_index})"
        )
    )

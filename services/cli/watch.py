"""``dateline watch``: saved searches that alert on newly indexed articles (add, list, remove,
alerts). Like ``dateline search`` it talks to Elasticsearch directly with the settings' client;
the same ``WatchStore`` serves the API, so both check a watch alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import List, Optional, TypeVar  # noqa: UP035 - typer reads these forms

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from services.cli.failures import archive_errors, fail
from services.cli.search import print_result
from services.cli.settings import settings_or_exit
from shared.search.client import make_client
from shared.search.models import input_errors
from shared.settings import Settings
from shared.watches.models import WatchSpec
from shared.watches.store import WatchExists, WatchInputError, WatchStore

T = TypeVar("T")
watch_app = typer.Typer(
    help="Watches: saved searches that alert on newly indexed articles.", no_args_is_help=True
)
err = Console(stderr=True)


def _store(settings: Settings) -> WatchStore:
    return WatchStore(make_client(settings.elasticsearch_url, settings=settings), settings.index, settings)


def _run(settings: Settings, call: Callable[[], T]) -> T:
    """``call()``, its failures as one line and an exit status: 2 for input to change, 1 else."""
    with archive_errors(err, settings):
        try:
            return call()
        except WatchInputError as exc:
            fail(err, str(exc), 2)
        except WatchExists as exc:
            fail(err, str(exc), 1)


@watch_app.command("add")
def add_command(
    name: str = typer.Argument(..., help="The watch's name (letters, digits, spaces, '.', '-', '_')."),
    query: str = typer.Argument(
        "*", help="Query-string syntax over title, body and summary, as search takes it."
    ),
    lang: Optional[List[str]] = typer.Option(None, help="Language codes (any of)."),  # noqa: UP006,UP045
    source: Optional[List[str]] = typer.Option(None, help="Sources (any of)."),  # noqa: UP006,UP045
    entity: Optional[List[str]] = typer.Option(  # noqa: UP006,UP045
        None, help="TYPE=NAME or NAME; every alias matches ('United States' finds 'US')."
    ),
    dateline: Optional[List[str]] = typer.Option(None, help="Datelines (any of)."),  # noqa: UP006,UP045
    since: Optional[str] = typer.Option(None, help="Published at or after (YYYY[-MM[-DD]] or ISO)."),  # noqa: UP045
    until: Optional[str] = typer.Option(None, help="Published at or before (inclusive)."),  # noqa: UP045
    webhook: Optional[str] = typer.Option(None, help="http(s) URL that receives a signed POST per alert."),  # noqa: UP045
    email: Optional[str] = typer.Option(
        None, help="Address that receives the alerts (needs DATELINE_SMTP_HOST)."
    ),  # noqa: UP045
    email_mode: str = typer.Option("each", help="each (one email per alert), hourly or daily (a digest)."),
    backfill: bool = typer.Option(False, "--backfill", help="Also list what already matches."),
    json_output: bool = typer.Option(False, "--json", help="Print the watch (and backfill) as JSON."),
) -> None:
    """Save a search as a watch: it alerts on every article indexed from now on that matches."""
    try:
        spec = WatchSpec.model_validate(
            {
                "name": name,
                "query": query,
                "lang": lang or [],
                "source": source or [],
                "entity": entity or [],
                "dateline": dateline or [],
                "since": since,
                "until": until,
                "webhook": webhook,
                "email": email,
                "email_mode": email_mode,
            }
        )
    except ValidationError as exc:
        err.print(f"[red]error:[/] {escape(input_errors(exc))}")
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    store = _store(settings)
    watch = _run(settings, lambda: store.add(spec))
    found = _run(settings, lambda: store.backfill(watch, size=100)) if backfill else None
    if json_output:
        body = watch.model_dump(mode="json") | {"backfill": found.model_dump(mode="json") if found else None}
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    typer.echo(f"Watch {watch.name!r} made; it alerts on articles indexed from now on.")
    typer.echo(f"Feed: {watch.feed_url}")
    if found is not None:
        print_result(found, Console())


@watch_app.command("list")
def list_command(
    json_output: bool = typer.Option(False, "--json", help="Print a JSON list of watches."),
) -> None:
    """Every watch, with its feed's URL."""
    settings = settings_or_exit()
    store = _store(settings)
    watches = _run(settings, store.list)
    if json_output:
        typer.echo(json.dumps([w.model_dump(mode="json") for w in watches], ensure_ascii=False, indent=2))
        return
    if not watches:
        typer.echo("No watches yet: `dateline watch add NAME QUERY` makes one.")
        return
    # Lines rather than a table: the feed URL is for copying, and a table would wrap it.
    console = Console()
    for w in watches:
        filters = [f"{k}={v}" for k in ("lang", "source", "entity", "dateline") for v in getattr(w, k)]
        filters += [f"{k}={v}" for k in ("since", "until") if (v := getattr(w, k))]
        delivery = [
            d
            for d in (w.webhook and f"webhook {w.webhook}", w.email and f"email {w.email} ({w.email_mode})")
            if d
        ]
        console.print(
            f"[bold]{escape(w.name)}[/]  {escape(' '.join([w.query, *filters]))}  "
            f"[dim]since {w.created_at:%Y-%m-%d %H:%M} UTC[/]",
            soft_wrap=True,
        )
        console.print(f"  delivery: {escape(', '.join(delivery) or 'feed only')}", soft_wrap=True)
        console.print(f"  feed: {escape(w.feed_url)}", soft_wrap=True)


@watch_app.command("remove")
def remove_command(name: str = typer.Argument(..., help="The watch's name (any case).")) -> None:
    """Remove a watch and its alerts."""
    settings = settings_or_exit()
    store = _store(settings)
    if not _run(settings, lambda: store.remove(name)):
        err.print(
            f"[red]error:[/] there is no watch named {escape(repr(name))}; `dateline watch list` shows them"
        )
        raise typer.Exit(1)
    typer.echo(f"Watch {name!r} removed.")


@watch_app.command("alerts")
def alerts_command(
    name: str = typer.Argument(..., help="The watch's name (any case)."),
    size: int = typer.Option(20, min=1, max=100, help="Alerts shown (newest first)."),
    page: int = typer.Option(1, min=1, help="Page, from 1."),
    json_output: bool = typer.Option(False, "--json", help="Print a JSON list of alerts."),
) -> None:
    """A watch's alerts, newest first, with each channel's delivery state."""
    settings = settings_or_exit()
    store = _store(settings)
    watch = _run(settings, lambda: store.get(name))
    if watch is None:
        err.print(
            f"[red]error:[/] there is no watch named {escape(repr(name))}; `dateline watch list` shows them"
        )
        raise typer.Exit(1)
    total, alerts = _run(settings, lambda: store.alerts_of(watch.name, page=page, size=size))
    if json_output:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in alerts], ensure_ascii=False, indent=2))
        return
    typer.echo(f"{total} alert(s) for {watch.name!r}")
    if not alerts:
        return
    console = Console()
    for alert in alerts:
        states = [
            f"{channel} {d.state}" for channel, d in (("webhook", alert.webhook), ("email", alert.email)) if d
        ]
        article = alert.article
        console.print(
            f"{alert.matched_at:%Y-%m-%d %H:%M:%S}  [bold]{escape(article.title or '(untitled)')}[/]"
            f"  {escape(article.source or '')}  [dim]{escape(', '.join(states) or 'feed')}[/]",
            soft_wrap=True,
        )
        console.print(f"  {escape(article.link)}", soft_wrap=True)

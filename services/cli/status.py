"""`dateline status`: what is queued, processing, indexed and failed, readable at a glance."""

from __future__ import annotations

import json

import redis
import typer
from rich.console import Console
from rich.table import Table

from shared.redis_client import connect, display_url
from shared.registry import format_failure
from shared.settings import get_settings
from shared.status import collect_status


def status_command(json_output: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show files by state, queue depths, work in progress, workers and failures."""
    settings = get_settings()
    try:
        status = collect_status(connect(settings.redis_url))
    except redis.ConnectionError as exc:
        typer.echo(
            f"Cannot reach Redis at {display_url(settings.redis_url)} ({exc}). Start Dateline with "
            "`make up` (or `make run`), or set DATELINE_REDIS_URL.",
            err=True,
        )
        raise typer.Exit(2) from exc
    if json_output:
        typer.echo(json.dumps(status.model_dump(mode="json"), indent=2))
        return

    console = Console()
    files = status.files
    console.print(
        f"[bold]Files[/bold]  queued {files.get('queued', 0)}  indexed {files.get('indexed', 0)}"
        f"  failed {files.get('failed', 0)}"
    )
    queues = Table("queue", "waiting", "in flight", title="Queues", title_justify="left")
    for queue in status.queues:
        queues.add_row(queue.name, str(queue.waiting), str(queue.pending))
    console.print(queues)
    console.print(f"[bold]Processing now[/bold]: {len(status.processing)}")
    for item in status.processing[:20]:
        console.print(f"  {item.get('stage')}: {item.get('path')} on {item.get('worker')} since {item.get('since')}")

    workers = Table("worker", "stage", "model", "state", title="Workers", title_justify="left")
    for worker in status.workers:
        for stage, info in (worker.details.get("stages") or {}).items():
            # The full reason is printed once below the table.
            if worker.state == "starting":
                state = "[yellow]starting[/yellow]"
            else:
                state = "[green]loaded[/green]" if info.get("loaded") else "[red]model missing[/red]"
            workers.add_row(f"{worker.host}:{worker.pid}", stage, str(info.get("model")), state)
    if status.workers:
        console.print(workers)
    else:
        console.print("[yellow]No workers are running[/yellow] (start them with `make up`).")
    for problem in status.model_problems:
        console.print(f"[red]model missing[/red] {problem}")
    for service in status.services:
        console.print(f"service {service.service} on {service.host} (pid {service.pid}, {service.state})")

    if status.failures:
        console.print(f"[bold red]Failures ({len(status.failures)})[/bold red]")
        for failure in status.failures:
            console.print("  " + format_failure(failure), markup=False, highlight=False)
    else:
        console.print("[green]No failures.[/green]")
    if status.dead_letters:
        console.print(f"[red]{status.dead_letters} unreadable task message(s) kept in Redis[/red]")

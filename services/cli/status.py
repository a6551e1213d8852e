"""`dateline status`: what is queued, processing, indexed and failed, readable at a glance."""

from __future__ import annotations

import json

import redis
import typer
from rich.console import Console
from rich.table import Table

from shared.redis_client import connect
from shared.registry import format_failure
from shared.settings import get_settings
from shared.status import Status, collect_status


def status_command(json_output: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show files by state, queue depths, work in progress, workers and failures."""
    settings = get_settings()
    try:
        status = collect_status(connect(settings.redis_url))
    except redis.ConnectionError as exc:
        typer.echo(
            f"Cannot reach Redis at {settings.redis_url} ({exc}). Start Dateline with "
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
        gone = "" if item.get("worker_alive", True) else " [red](worker gone: the reconciler takes care of it)[/red]"
        console.print(f"  {item.get('stage')}: {item.get('path')} on {item.get('worker')} since {item.get('since')}{gone}")

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
    print_delivery(console, status)


def print_delivery(console: Console, status: Status) -> None:
    """Articles in flight, what the reconciler did, and pool processes that keep dying."""
    console.print(f"[bold]Delivery[/bold]  in flight {status.in_flight} article(s)")
    reconciliation = status.reconciliation
    last = reconciliation.last_pass
    if last is None:
        console.print("  reconciler: no pass yet (it runs in the ingest service)")
    else:
        console.print(f"  reconciler: last pass {last.at:%Y-%m-%d %H:%M:%S} on {last.host} ({last.seconds:.1f} s): "
                      f"{last.examined} looked at, {last.stuck} stuck")
        if last.audit is not None:
            audit = last.audit
            console.print(f"  index audit {audit.at:%H:%M:%S} of {audit.alias}: {audit.expected} document(s) "
                          f"expected, {audit.found} found" + (f", {audit.missing} missing, "
                          f"{audit.requeued_files} file(s) queued again" if audit.missing else ""))
    if reconciliation.totals:
        totals = ", ".join(f"{reason} {count}" for reason, count in sorted(reconciliation.totals.items()))
        console.print(f"  files queued again or repaired, so far: {totals}")
    for action in reconciliation.recent[:5]:
        console.print(f"  {action.at:%H:%M:%S} {action.path}: {action.reason} ({action.detail}) -> {action.outcome}",
                      markup=False, highlight=False)
    for loop in status.crash_loops:
        console.print(f"  [bold red]crash loop[/bold red] {loop.node}: {loop.deaths} pool process deaths since "
                      f"{loop.since:%H:%M:%S}; last: {loop.last_cause}")
    if status.recent_deaths and not status.crash_loops:
        death = status.recent_deaths[0]
        console.print(f"  last pool process death {death.at:%H:%M:%S} ({death.node}): {death.cause}")

"""`dateline status`: whether Dateline works and what it is doing, readable at a glance.

The state (ok / degraded / down) and its reasons, the counts and the lists all come from
``shared.status`` - the same data as the API's /status and /health and the pipeline page.
"""

from __future__ import annotations

import json

import redis
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shared.heartbeat import StageReadiness
from shared.redis_client import connect
from shared.registry import format_failure
from shared.search.client import make_client
from shared.search.outcomes import TAG_THE_REST
from shared.settings import get_settings
from shared.status import Status, collect_status, unreachable

STATE_STYLE = {"ok": "bold green", "degraded": "bold yellow", "down": "bold red"}
READINESS_STYLE: dict[StageReadiness, str] = {
    "starting": "yellow",
    "loaded": "green",
    "not loaded yet": "yellow",
    "model missing": "red",
}
SHOWN = 50  # files with failures and failed documents printed; --json has every one


def status_command(
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show the state (ok, degraded, down) with its reasons, files by state, queues, rate
    and ETA, workers and their models, every failure by file, and documents a stage failed on."""
    settings = get_settings()
    try:
        status = collect_status(
            connect(settings.redis_url),
            make_client(settings.elasticsearch_url, settings=settings),
            es_url=settings.elasticsearch_url,
            alias=settings.index,
        )
    except redis.RedisError as exc:
        down = unreachable(settings.redis_url, exc)
        if json_output:
            typer.echo(json.dumps(down.model_dump(mode="json"), indent=2))
        else:
            typer.echo(f"Dateline is down. {down.reasons[0]}", err=True)
        raise typer.Exit(2) from exc
    if json_output:
        typer.echo(json.dumps(status.model_dump(mode="json"), indent=2))
        return
    print_status(status, Console(highlight=False))


def print_status(status: Status, console: Console) -> None:
    _state(status, console)
    _counts(status, console)
    _queues(status, console)
    _processes(status, console)
    _failures(status, console)
    _failed_documents(status, console)
    print_delivery(console, status)
    print_alert_deliveries(console, status)


def _state(status: Status, console: Console) -> None:
    console.print(f"[{STATE_STYLE[status.state]}]Dateline: {status.state}[/]")
    for reason in status.reasons:
        console.print(f"  • {escape(reason)}")


def _counts(status: Status, console: Console) -> None:
    files = status.files
    partly = status.partly_failed_files
    indexed_note = f" ({len(partly)} with failed parts, listed below)" if partly else ""
    console.print(
        f"[bold]Files[/bold]  queued {files.get('queued', 0)}  indexed {files.get('indexed', 0)}{indexed_note}"
        f"  failed {len(status.failed_files)}"
    )
    index = status.index
    if index is not None and index.reachable and index.outcomes is not None:
        outcomes = index.outcomes
        line = f"[bold]Documents[/bold]  {outcomes.documents} searchable"
        if outcomes.failed_documents:
            per_stage = ", ".join(f"{stage} {n}" for stage, n in outcomes.failed_by_stage.items())
            line += f"  {outcomes.failed_documents} with a failed stage ({per_stage})"
        console.print(line)
        stories = outcomes.stories
        console.print(
            f"[bold]Stories[/bold]  {'about ' if stories.sampled else ''}{stories.stories} distinct  "
            f"{stories.joined} document(s) joined an existing story"
        )
        for skip in outcomes.skipped:
            console.print(
                f"  {skip.stage} skipped on {skip.documents} document(s) ({skip.code}), "
                f"e.g.: {escape(skip.reason)}"
            )
    throughput = status.throughput
    if throughput is not None:
        eta = throughput.eta_seconds
        if throughput.backlog == 0:
            when = "nothing waiting"
        elif eta is None:
            when = "ETA unknown (nothing indexed in the last minutes)"
        else:
            when = f"done in about {_duration(eta)}"
        console.print(
            f"[bold]Rate[/bold]  {throughput.rate_per_minute:g} documents/min (last 5 min)  "
            f"backlog {throughput.backlog}  {when}"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _queues(status: Status, console: Console) -> None:
    queues = Table("queue", "waiting", "in flight", title="Queues", title_justify="left")
    for queue in status.queues:
        queues.add_row(queue.name, str(queue.waiting), str(queue.pending))
    console.print(queues)
    console.print(f"[bold]Processing now[/bold]: {len(status.processing)}")
    for item in status.processing[:20]:
        gone = (
            ""
            if item.get("worker_alive", True)
            else " [red](worker gone: the reconciler takes care of it)[/red]"
        )
        console.print(
            f"  {item.get('stage')}: {escape(str(item.get('path')))} on {item.get('worker')} "
            f"since {item.get('since')}{gone}"
        )


def _processes(status: Status, console: Console) -> None:
    parts = Table("part", "state", "processes", title="Services and stages", title_justify="left")
    style = {"running": "green", "starting": "yellow", "missing": "red"}
    for part in status.parts:
        name = f"{part.name} (stage)" if part.kind == "stage" else part.name
        parts.add_row(name, f"[{style[part.presence]}]{part.presence}[/]", ", ".join(part.processes) or "-")
    console.print(parts)

    if status.workers:
        workers = Table("worker", "stage", "model", "state", title="Workers", title_justify="left")
        for worker in status.workers:
            for stage, info in worker.worker_details.stages.items():
                # The full reason is printed once below the table.
                readiness = info.readiness(worker.state)
                state = f"[{READINESS_STYLE[readiness]}]{readiness}[/]"
                workers.add_row(f"{worker.host}:{worker.pid}", stage, escape(str(info.model)), state)
        console.print(workers)
    else:
        console.print("[yellow]No workers are running[/yellow] (start them with `make up`).")
    for problem in status.model_problems:
        console.print(f"[red]model missing[/red] {escape(problem)}")
    for service in status.services:
        console.print(f"service {service.service} on {service.host} (pid {service.pid}, {service.state})")

    if status.untagged_languages:
        counts = ", ".join(f"{lang} {n}" for lang, n in status.untagged_languages.items())
        console.print(
            f"[bold]Not tagged: no NER model for the language[/bold] ({counts}). Not failures: "
            "map a model to the language in DATELINE_NER_MODELS, then `dateline reprocess "
            "--stage entities --language CODE`.",
            highlight=False,
        )
    if status.entities_in_part:
        console.print(
            f"[bold]Entities from the start of the body only[/bold]: {status.entities_in_part} "
            f"document(s) longer than DATELINE_NER_MAX_CHARS. Not failures: {TAG_THE_REST}.",
            highlight=False,
        )


def _failures(status: Status, console: Console) -> None:
    if not status.problems:
        console.print("[green]No failures.[/green]")
        return
    groups = (
        ("Files that failed", status.failed_files),
        ("Files with failed parts", status.partly_failed_files),
    )
    for title, group in groups:
        if not group:
            continue
        console.print(f"[bold red]{title} ({len(group)})[/bold red]")
        for problem in group[:SHOWN]:
            state = problem.state or "not registered"
            console.print(f"  {escape(problem.path)} [dim]({state})[/dim]")
            for failure in problem.failures:
                console.print("    " + escape(format_failure(failure)))
            console.print(f"    [dim]What to do: {escape(problem.fix)}[/dim]")
        if len(group) > SHOWN:
            console.print(f"  ... and {len(group) - SHOWN} more (`dateline status --json` lists every one)")
    if status.dead_letters:
        console.print(f"[red]{status.dead_letters} unreadable task message(s) kept in Redis[/red]")


def _failed_documents(status: Status, console: Console) -> None:
    index = status.index
    if index is None or not index.reachable or index.outcomes is None or not index.outcomes.failed:
        return
    outcomes = index.outcomes
    console.print(
        f"[bold red]Documents a stage failed on ({outcomes.failed_documents})[/bold red] "
        "[dim]indexed without that stage's results[/dim]"
    )
    for doc in outcomes.failed[:SHOWN]:
        where = doc.source_path if not doc.record else f"{doc.source_path} record {doc.record}"
        console.print(f"  {escape(where)}: {doc.stage} failed: {escape(doc.error)}")
    stages = sorted({doc.stage for doc in outcomes.failed})
    for stage in stages:
        console.print(
            f"  [dim]What to do: fix the cause, then `dateline reprocess --stage {stage} --failed-only`.[/dim]"
        )
    if outcomes.failed_documents > len(outcomes.failed[:SHOWN]):
        console.print(f"  ... the {len(outcomes.failed[:SHOWN])} most recent are shown")


def print_delivery(console: Console, status: Status) -> None:
    """Articles in flight, what the reconciler did, and pool processes that keep dying."""
    console.print(f"[bold]Delivery[/bold]  in flight {status.in_flight} article(s)")
    reconciliation = status.reconciliation
    last = reconciliation.last_pass
    if last is None:
        console.print("  reconciler: no pass yet (it runs in the ingest service)")
    else:
        console.print(
            f"  reconciler: last pass {last.at:%Y-%m-%d %H:%M:%S} on {last.host} ({last.seconds:.1f} s): "
            f"{last.examined} looked at, {last.stuck} stuck"
        )
        if last.audit is not None:
            audit = last.audit
            console.print(
                f"  index audit {audit.at:%H:%M:%S} of {audit.alias}: {audit.expected} document(s) "
                f"expected, {audit.found} found"
                + (
                    f", {audit.missing} missing, {audit.requeued_files} file(s) queued again"
                    if audit.missing
                    else ""
                )
            )
    if reconciliation.totals:
        totals = ", ".join(f"{reason} {count}" for reason, count in sorted(reconciliation.totals.items()))
        console.print(f"  files queued again or repaired, so far: {totals}")
    for action in reconciliation.recent[:5]:
        console.print(
            f"  {action.at:%H:%M:%S} {escape(action.path)}: {action.reason} ({escape(action.detail)}) "
            f"-> {action.outcome}"
        )
    for loop in status.crash_loops:
        console.print(
            f"  [bold red]crash loop[/bold red] {loop.node}: {loop.deaths} pool process deaths since "
            f"{loop.since:%H:%M:%S}; last: {loop.last_cause}"
        )
    if status.recent_deaths and not status.crash_loops:
        death = status.recent_deaths[0]
        console.print(f"  last pool process death {death.at:%H:%M:%S} ({death.node}): {death.cause}")


def print_alert_deliveries(console: Console, status: Status) -> None:
    """The watches' webhooks and emails: counts, and each failing one with the target's answer."""
    deliveries = status.deliveries
    if deliveries is None or not any(deliveries.counts.values()):
        return
    console.print(
        f"[bold]Alerts sent[/bold]  pending {deliveries.pending}, delivered {deliveries.delivered}, "
        f"retrying {deliveries.retrying}, failed {deliveries.failed}"
    )
    for item in deliveries.failing[:SHOWN]:
        when = f" next try {item.next_attempt_at:%H:%M:%S}" if item.next_attempt_at else ""
        console.print(
            f"  [red]{item.state}[/red] {item.channel} of watch {escape(item.watch)!r} to "
            f"{escape(item.target or '?')} ({item.attempts} tries{when}): {escape(item.last_error or 'no answer')}"
            f" [dim]- {escape(item.article)}[/dim]"
        )

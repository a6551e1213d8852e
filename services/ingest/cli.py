"""``dateline ingest PATH... [--wait]``: the command; the main CLI registers it.

app.command("ingest")(ingest_command)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.ingest.backfill import BackfillSummary, ingest_paths
from services.ingest.ledger import STAGE
from services.ingest.processor import FileOutcome, Ingestor
from shared.registry import Failure, Registry

POLL_SECONDS = 1.0


def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the files are indexed.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 600,
    force: Annotated[
        bool, typer.Option("--force", help="Queue every file again, even unchanged or failed ones.")
    ] = False,
) -> None:
    """Queue the articles in PATHS for enrichment and indexing (unchanged files are skipped
    unless --force)."""
    console = Console()
    # The tables below report every problem; per-file log lines would only garble the bar.
    logging.getLogger("dateline.ingest").setLevel(logging.ERROR)
    ingestor = Ingestor.from_settings()
    summary = _ingest_with_progress(paths, ingestor, console, force)
    console.print(summary_table(summary))
    if summary.failed:
        console.print(failures_table(summary.failed))
    pending: list[str] = []
    if wait and summary.queued_paths:
        pending, late_failures = wait_until_indexed(ingestor.registry, summary.queued_paths, timeout, console)
        if late_failures:
            console.print(failures_table(late_failures, title="Failed while enriching or indexing"))
            summary.failed.extend(late_failures)
        if pending:
            console.print(
                f"[yellow]{len(pending)} file(s) not indexed after {timeout:g}s[/]: "
                "check that the workers and the indexer run (dateline status)"
            )
    if summary.failed or pending:
        raise typer.Exit(code=1)


def _ingest_with_progress(
    paths: list[Path], ingestor: Ingestor, console: Console, force: bool
) -> BackfillSummary:
    with Progress(
        TextColumn("[bold]Reading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, outcome: FileOutcome) -> None:
            bar.update(task, completed=done, total=total, description=outcome.path[-60:])

        return ingest_paths(paths, progress=progress, ingestor=ingestor, force=force)


def summary_table(summary: BackfillSummary) -> Table:
    table = Table(title="Ingest summary", show_header=True)
    table.add_column("Result")
    table.add_column("Files", justify="right")
    table.add_column("Note")
    table.add_row("[green]queued", str(summary.queued), f"{summary.articles} article(s)")
    table.add_row("skipped", str(summary.skipped), "unchanged since last ingest")
    if summary.ignored:
        table.add_row("ignored", str(summary.ignored), "hidden or matching ignore patterns")
    failed_files = len({f.path for f in summary.failed})
    table.add_row(
        "[red]with problems" if failed_files else "with problems",
        str(failed_files),
        "failed, or some lines failed: see below" if failed_files else "",
    )
    return table


def failures_table(failures: list[Failure], title: str = "Failures") -> Table:
    table = Table(title=title, show_header=True, show_lines=False)
    table.add_column("File", overflow="fold")
    table.add_column("Line", justify="right")
    table.add_column("Stage")
    table.add_column("Reason", overflow="fold")
    for f in failures:
        table.add_row(f.path, "" if f.line is None else str(f.line), f.stage, f.reason)
    return table


def wait_until_indexed(
    registry: Registry, paths: list[str], timeout: float, console: Console | None = None
) -> tuple[list[str], list[Failure]]:
    """Poll until every path is indexed or failed; returns (still pending, later failures)."""
    console = console or Console()
    pending = set(paths)
    late: list[Failure] = []
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("[bold]Indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=len(paths))
        while pending and time.monotonic() < deadline:
            failed_paths = {f.path: f for f in registry.failures() if f.stage != STAGE}
            for path in list(pending):
                record = registry.get(path)
                if record is None or record.state in ("indexed", "deleted"):
                    pending.discard(path)
                elif record.state == "failed" or path in failed_paths:
                    pending.discard(path)
                    if path in failed_paths:
                        late.append(failed_paths[path])
            bar.update(task, completed=len(paths) - len(pending))
            if pending:
                time.sleep(POLL_SECONDS)
    return sorted(pending), late

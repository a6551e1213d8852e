"""`dateline serve NAME`: run one service in the foreground (what compose and `stack` call)."""

from __future__ import annotations

import typer

from services.cli.settings import settings_or_exit
from services.stack.environment import load_env_file
from shared.keys import STAGE_QUEUES
from shared.logging import setup_logging
from shared.settings import get_settings

serve_app = typer.Typer(help="Run one Dateline service in the foreground.")


@serve_app.callback()
def load_program_environment() -> None:
    """Under `dateline stack`, settings come from the program's env file (DATELINE_ENV_FILE),
    loaded here, before any setting is read: supervisord starts programs with a clean
    environment, and no value has to survive its config syntax."""
    try:
        loaded = load_env_file()
    except (OSError, ValueError) as exc:
        typer.echo(f"[dateline] error: {exc}", err=True)
        raise typer.Exit(2) from None
    if loaded is not None:
        get_settings.cache_clear()
    settings_or_exit()  # a refused secret or a bad URL stops the service before it connects


@serve_app.command()
def worker(
    queues: str = typer.Option("language,entities,summary", help="Stages to serve, comma-separated."),
    concurrency: int | None = typer.Option(
        None, help="Pool processes (default DATELINE_WORKER_CONCURRENCY; 0 or unset: one per core)."
    ),
    name: str = typer.Option("worker", help="Worker name; the host name is appended."),
) -> None:
    """A Celery worker for the given enrichment stages."""
    stages = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = [s for s in stages if s not in STAGE_QUEUES]
    if unknown:
        raise typer.BadParameter(f"unknown stage(s) {unknown}; choose from {list(STAGE_QUEUES)}")
    from services.worker.app import app

    setup_logging("worker")
    app.worker_main(
        [
            "worker",
            "--queues",
            ",".join(STAGE_QUEUES[s] for s in stages),  # type: ignore[index]
            "--concurrency",
            str(concurrency or get_settings().worker_processes),
            "--hostname",
            f"{name}@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@serve_app.command()
def ingest() -> None:
    """Watch the inbox and queue new, changed and deleted files."""
    from services.ingest.__main__ import main

    main()


@serve_app.command()
def indexer() -> None:
    """Bulk-write enriched documents to Elasticsearch."""
    from services.indexer.__main__ import main

    main()


@serve_app.command()
def api() -> None:
    """The HTTP API."""
    from services.api.__main__ import main

    main()

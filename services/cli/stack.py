"""`dateline stack run|up|down|status`: the whole system on one machine, without Docker.

Everything (Redis, Elasticsearch, Dateline's programs from ``services/stack/topology.py``)
runs under one supervisord whose socket, configuration and env files live in
``<data>/run``, logs in ``<data>/logs``; see ``services/stack/local.py``.
"""

from __future__ import annotations

import json
import os

import typer
from rich.console import Console
from rich.table import Table

from services.stack.install import InstallError
from services.stack.local import LocalStack, Row, StackError
from services.stack.supervisor import SupervisorError
from shared.paths import PROJECT_DIR
from shared.settings import get_settings

stack_app = typer.Typer(
    help="Run the whole system locally (Redis, Elasticsearch, services) under supervisord."
)


def _stack() -> LocalStack:
    # The programs run in the project folder: so does this, so that `.env` and a relative
    # inbox mean the same to both, whatever folder the command was started from.
    os.chdir(PROJECT_DIR)
    get_settings.cache_clear()
    return LocalStack(get_settings(), say=lambda line: typer.echo(line))


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"[dateline] error: {exc}", err=True)
    return typer.Exit(1)


@stack_app.command()
def up() -> None:
    """Start everything in the background; when it runs already, restart exactly the
    programs whose settings changed."""
    try:
        _stack().up()
    except (StackError, SupervisorError, InstallError) as exc:
        raise _fail(exc) from None


@stack_app.command()
def down() -> None:
    """Stop every process of ours: Dateline's programs, Elasticsearch, Redis, supervisord."""
    try:
        if not _stack().down():
            typer.echo("[dateline] not running")
    except SupervisorError as exc:
        raise _fail(exc) from None


@stack_app.command()
def run() -> None:
    """Start everything and stay in the foreground; Ctrl-C stops it all."""
    try:
        _stack().run()
    except (StackError, SupervisorError, InstallError) as exc:
        raise _fail(exc) from None


def _uptime(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _health(row: Row) -> str:
    if row.healthy is None:
        return row.detail
    return ("ok: " if row.healthy else "NOT HEALTHY: ") + row.detail


@stack_app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Each program's state (RUNNING, BACKOFF, FATAL ...), pid, uptime, health and log.
    Exits 1 unless every program runs."""
    rows = _stack().status()
    if rows is None:
        if as_json:
            typer.echo(json.dumps({"running": False, "programs": []}))
        else:
            typer.echo("[dateline] the local stack is not running; start it with `make up`")
        raise typer.Exit(1)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "running": True,
                    "programs": [
                        {
                            "name": r.name,
                            "state": r.state,
                            "pid": r.pid,
                            "uptime": r.uptime,
                            "healthy": r.healthy,
                            "detail": r.detail,
                            "log": str(r.log),
                        }
                        for r in rows
                    ],
                },
                indent=2,
            )
        )
    else:
        table = Table("program", "state", "pid", "uptime", "health", "log")
        for r in rows:
            table.add_row(r.name, r.state, str(r.pid or ""), _uptime(r.uptime), _health(r), str(r.log))
        Console(width=200).print(table)
    if any(r.state != "RUNNING" for r in rows):
        raise typer.Exit(1)

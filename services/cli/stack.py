"""`dateline stack run|up|down|status`: the whole system on one machine, without Docker.

Redis and Elasticsearch come from `deploy/local/*.sh`; the Python services run as child
processes with pid files and logs under the data folder, so `down` can find and stop every
one of them, even from another terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import typer

from shared.settings import Settings, get_settings

REPO_DIR = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_DIR / "deploy" / "local"

stack_app = typer.Typer(help="Run the whole system locally (Redis, Elasticsearch, services).")


def _services(settings: Settings) -> dict[str, list[str]]:
    """The processes of a local stack; heavy NER gets a worker of its own."""
    dateline = [sys.executable, "-m", "services.cli.main", "serve"]
    return {
        "worker-ner": [*dateline, "worker", "--queues", "entities", "--name", "ner"],
        "worker-light": [*dateline, "worker", "--queues", "language,summary", "--name", "light"],
        "indexer": [*dateline, "indexer"],
        "ingest": [*dateline, "ingest"],
        "api": [*dateline, "api"],
    }


def _dirs(settings: Settings) -> tuple[Path, Path]:
    data = settings.data_dir if settings.data_dir.is_absolute() else REPO_DIR / settings.data_dir
    run, logs = data / "run", data / "logs"
    run.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    return run, logs


def _script_env(settings: Settings) -> dict[str, str]:
    """The service scripts take their ports from the same settings the services read."""
    redis_port = urlparse(settings.redis_url).port or 6379
    es_port = urlparse(settings.elasticsearch_url).port or 9200
    data = settings.data_dir if settings.data_dir.is_absolute() else REPO_DIR / settings.data_dir
    return {
        **os.environ,
        "DATELINE_REDIS_PORT": str(redis_port),
        "DATELINE_ES_PORT": str(es_port),
        "DATELINE_DATA_DIR": str(data),
    }


def _script(name: str, action: str, settings: Settings) -> bool:
    result = subprocess.run(["bash", str(DEPLOY_DIR / f"{name}.sh"), action], env=_script_env(settings))
    return result.returncode == 0


def _alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def start_stack(settings: Settings) -> dict[str, subprocess.Popen]:
    for backing in ("redis", "elasticsearch"):
        if not _script(backing, "start", settings):
            raise typer.Exit(f"could not start {backing}; see the message above")
    run_dir, log_dir = _dirs(settings)
    started: dict[str, subprocess.Popen] = {}
    for name, command in _services(settings).items():
        pid_file = run_dir / f"{name}.pid"
        if _alive(pid_file):
            typer.echo(f"[dateline] {name} already running")
            continue
        log = open(log_dir / f"{name}.log", "ab")
        # A session of its own: Ctrl-C in the terminal reaches only us, and we stop it.
        process = subprocess.Popen(
            command, cwd=REPO_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        pid_file.write_text(str(process.pid))
        started[name] = process
        typer.echo(f"[dateline] started {name} (pid {process.pid}, log {log_dir / (name + '.log')})")
    time.sleep(2)
    dead = [n for n, p in started.items() if p.poll() is not None]
    if dead:
        typer.echo(f"[dateline] these services stopped right away: {', '.join(dead)}; see their logs in {log_dir}")
        raise typer.Exit(1)
    inbox = settings.inbox_path
    inbox.mkdir(parents=True, exist_ok=True)
    typer.echo(
        "\n[dateline] Dateline is running.\n"
        f"  Drop article files into: {inbox}\n"
        "  Search:  .venv/bin/dateline search 'taliban'   (or --json)\n"
        "  Status:  .venv/bin/dateline status\n"
        f"  API:     http://{settings.api_host}:{settings.api_port}/docs\n"
        f"  Logs:    {log_dir}\n"
    )
    return started


def stop_stack(settings: Settings, *, backing: bool = True) -> None:
    run_dir, _ = _dirs(settings)
    pids = {}
    for name in _services(settings):
        pid = _alive(run_dir / f"{name}.pid")
        if pid:
            os.killpg(pid, signal.SIGTERM)  # the whole group: celery's pool children too
            pids[name] = pid
    deadline = time.monotonic() + 30
    while pids and time.monotonic() < deadline:
        pids = {n: p for n, p in pids.items() if _group_alive(p)}
        time.sleep(0.3)
    for name, pid in pids.items():
        typer.echo(f"[dateline] {name} did not stop in 30 s; killing it")
        os.killpg(pid, signal.SIGKILL)
    for name in _services(settings):
        (run_dir / f"{name}.pid").unlink(missing_ok=True)
    if backing:
        _script("elasticsearch", "stop", settings)
        _script("redis", "stop", settings)
    typer.echo("[dateline] stopped")


def _group_alive(pgid: int) -> bool:
    try:
        # Under `stack run` the services are our children: reap them, or an exited
        # service stays a zombie that still counts as a member of its group.
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@stack_app.command()
def up() -> None:
    """Start everything in the background."""
    start_stack(get_settings())


@stack_app.command()
def down() -> None:
    """Stop every process of ours: services, Elasticsearch and Redis."""
    stop_stack(get_settings())


@stack_app.command()
def run() -> None:
    """Start everything and stay in the foreground; Ctrl-C stops what was started."""
    settings = get_settings()
    started = start_stack(settings)
    typer.echo("[dateline] press Ctrl-C to stop")
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    _, log_dir = _dirs(settings)
    while not stopping:
        time.sleep(1)
        for name, process in started.items():
            if process.poll() is not None:
                typer.echo(f"[dateline] {name} exited; see {log_dir / (name + '.log')}")
                stopping = True
    stop_stack(settings)


@stack_app.command()
def status() -> None:
    """Which local processes are running."""
    settings = get_settings()
    run_dir, _ = _dirs(settings)
    for name in _services(settings):
        pid = _alive(run_dir / f"{name}.pid")
        typer.echo(f"{name}: {'running (pid %d)' % pid if pid else 'stopped'}")
    _script("redis", "status", settings)
    _script("elasticsearch", "status", settings)

"""The whole system on this machine under one supervisord: ``up`` (start, or bring a
running stack up to date), ``run`` (the same in the foreground), ``down`` and ``status``.

The supervisord lives in ``<data>/run``; any terminal finds it there, so ``down`` and
``status`` work from anywhere. Programs start in the topology's order: Redis and
Elasticsearch must be healthy before Dateline's programs start. A crashed program is
restarted by supervisord (``autorestart=unexpected``); one that keeps failing at start
ends FATAL, and ``status`` shows it with its exit status.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from services.stack import health
from services.stack.environment import changed_settings, program_environment, read_env_file, write_env_file
from services.stack.install import install_elasticsearch, install_redis
from services.stack.supervisor import MB, ProcessInfo, Supervisor, alive
from services.stack.topology import (
    ELASTICSEARCH_DEFAULT_PORT,
    PROGRAMS,
    REDIS_DEFAULT_PORT,
    Program,
    backing_programs,
    health_of,
    is_local,
    port_of,
    priority_of,
)
from shared.paths import data_dir, log_dir, run_dir
from shared.settings import Settings

# How long a Dateline program may take to stay up ``startsecs`` (with retries on failure).
START_TIMEOUT = 120
LOG_TAIL = 3000


class StackError(RuntimeError):
    """Something the user must fix; the message says what."""


@dataclass(frozen=True)
class Row:
    """One line of ``dateline stack status``."""

    name: str
    state: str
    pid: int | None
    uptime: int | None
    healthy: bool | None  # None: not checked (not running)
    detail: str
    log: Path


def supervisor_for(settings: Settings) -> Supervisor:
    return Supervisor(
        run_dir(settings),
        log_dir(settings),
        log_max_bytes=int(settings.log_max_mb * MB),
        log_backups=settings.log_backups,
    )


def tail(path: Path, size: int = LOG_TAIL) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - size))
            return log.read().decode(errors="replace")
    except FileNotFoundError:
        return "(no log yet)"


def _port_taken(url: str, default: int) -> bool:
    host = "::1" if "[::1]" in url else "127.0.0.1"
    try:
        with socket.create_connection((host, port_of(url, default)), timeout=1):
            return True
    except OSError:
        return False


def wait_healthy(
    supervisor: Supervisor, program: Program, settings: Settings, abort: Callable[[], bool] = lambda: False
) -> None:
    """Wait until a started program passes its health check; fail with the end of its log
    as soon as it stops, or after its ``ready_seconds``."""
    deadline = time.monotonic() + program.ready_seconds
    detail = ""
    while time.monotonic() < deadline and not abort():
        ok, detail = health.check(program.health, settings)
        if ok:
            return
        info = supervisor.info(program.name)
        if info is not None and info.state in ("FATAL", "EXITED", "STOPPED"):
            raise StackError(
                f"{program.name} stopped ({info.state}: {info.description}); the end of "
                f"{info.log}:\n{tail(info.log)}"
            )
        time.sleep(0.5)
    if not abort():
        raise StackError(
            f"{program.name} is not healthy after {program.ready_seconds:.0f} s ({detail}); "
            f"see {supervisor.log_of(program.name)}"
        )


# Before supervisord, `dateline stack` and deploy/local kept one pid file per process in
# <data>/run. `down` stops such a stack once, so an upgrade needs no manual clean-up; the
# command line is checked first, as a stale pid may belong to another process by now.
LEGACY_COMMANDS = ("redis-server", "elasticsearch", "services.cli.main")


def stop_legacy(run: Path, say: Callable[[str], None]) -> bool:
    """Stop the processes of a stack started before supervisord; True if there were any."""
    found = False
    for pid_file in sorted(run.glob("*.pid")):
        if pid_file.name == "supervisord.pid":
            continue
        try:
            pid = int(pid_file.read_text().strip())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (ValueError, FileNotFoundError, ProcessLookupError):
            command = ""
        if any(name in command for name in LEGACY_COMMANDS):
            found = True
            say(f"[dateline] stopping {pid_file.stem} (pid {pid}, started before the supervisor)")
            _terminate([pid])
        pid_file.unlink(missing_ok=True)
    return found


def _terminate(pids: list[int], timeout: float = 60) -> None:
    """SIGTERM (a clean shutdown for every one of them) to each process's group, else the
    process; SIGKILL to what is left after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = [pid for pid in pids if alive(pid)]
        if not pids:
            return


class LocalStack:
    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
        say: Callable[[str], None] = print,
        dotenv: Path | None = None,
    ):
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self.say = say
        # The .env that the caller's settings were read from (pydantic reads it from the cwd,
        # and `dateline stack` runs in the project folder, as the programs do).
        self.dotenv = (
            dotenv if dotenv is not None else Path(str(Settings.model_config.get("env_file") or ".env"))
        )
        self.supervisor = supervisor_for(settings)
        self._interrupted = False

    # --- what runs ----------------------------------------------------------------------
    def programs(self) -> list[Program]:
        """Every program in start order; installs Redis and Elasticsearch if missing."""
        folder = data_dir(self.settings)
        redis = install_redis(folder, self.environ) if is_local(self.settings.redis_url) else None
        es = (
            install_elasticsearch(folder, self.environ) if is_local(self.settings.elasticsearch_url) else None
        )
        return sorted([*backing_programs(self.settings, redis, es), *PROGRAMS], key=lambda p: p.priority)

    def program_env(self) -> dict[str, str]:
        return program_environment(self.environ, self.dotenv)

    def _configure(self, programs: list[Program]) -> None:
        self.supervisor.write_config()
        for program in programs:
            self.supervisor.define(program, autorestart="unexpected", start_retries=3)
        for stale in self.supervisor.defined() - {p.name for p in programs}:
            self.supervisor.undefine(stale)

    # --- up -----------------------------------------------------------------------------
    def up(self) -> None:
        programs = self.programs()
        self._note_remote()
        if self.supervisor.is_up():
            self._configure(programs)
            self._update(programs)
        else:
            self._fresh(programs)
            self.supervisor.launch()
            self.say(
                f"[dateline] supervisord started (pid {self.supervisor.pid()}, {self.supervisor.conf_path})"
            )
            self._start(programs)
        self.banner()

    def _fresh(self, programs: list[Program]) -> None:
        self._check_leftovers()
        self._check_ports(programs)
        self._configure(programs)
        env = self.program_env()
        for program in programs:
            if program.service is not None:
                write_env_file(self.supervisor.env_path(program.name), env)

    def _note_remote(self) -> None:
        for name, url in (
            ("Redis", self.settings.redis_url),
            ("Elasticsearch", self.settings.elasticsearch_url),
        ):
            if not is_local(url):
                self.say(f"[dateline] using the {name} at {url} (not on this machine, so not started here)")

    def _check_leftovers(self) -> None:
        """Before a supervisord starts: nothing of an earlier one may still run."""
        if any(path.name != "supervisord.pid" for path in self.supervisor.run_dir.glob("*.pid")):
            raise StackError(
                f"a stack started by an older Dateline may still run (pid files in "
                f"{self.supervisor.run_dir}); stop it with `make down`, then start again"
            )
        if self.supervisor.orphans():
            raise StackError(
                "programs of a supervisord that died still run; stop them with `make down`, then start again"
            )

    def _check_ports(self, programs: list[Program]) -> None:
        names = {p.name for p in programs}
        for name, url, default, setting in (
            ("redis", self.settings.redis_url, REDIS_DEFAULT_PORT, "DATELINE_REDIS_URL"),
            (
                "elasticsearch",
                self.settings.elasticsearch_url,
                ELASTICSEARCH_DEFAULT_PORT,
                "DATELINE_ELASTICSEARCH_URL",
            ),
        ):
            if name in names and _port_taken(url, default):
                raise StackError(
                    f"port {port_of(url, default)} ({setting}={url}) is taken by another program; "
                    f"stop it, or choose a free port in {setting}"
                )

    def _update(self, programs: list[Program]) -> None:
        """Bring a running stack up to date: restart exactly the programs whose settings or
        supervisord section changed, start those that are not running."""
        changes = self.supervisor.apply()
        reasons: dict[str, str] = {
            name: "their supervisord configuration changed" for name in changes.changed
        }
        for name in changes.added:
            reasons[name] = "new"
        for name in changes.removed:
            self.say(f"[dateline] removed {name}: no longer part of the stack")
        env = self.program_env()
        dateline = [p for p in programs if p.service is not None]
        to_restart = []
        for program in dateline:
            info = self.supervisor.info(program.name)
            path = self.supervisor.env_path(program.name)
            if info is None or not info.running:
                write_env_file(path, env)  # it starts below, with what holds now
                continue
            changed = changed_settings(program.service or "", read_env_file(path) or {}, env)
            if changed:
                to_restart.append(program)
                reasons[program.name] = ", ".join(changed) + " changed"
        for program in sorted(to_restart, key=lambda p: -p.priority):
            self.supervisor.stop(program.name)
            write_env_file(self.supervisor.env_path(program.name), env)
        was = {info.name: info for info in self.supervisor.infos()}
        started = self._start(programs)
        self._report(reasons, started, was)

    def _report(self, reasons: dict[str, str], started: list[str], was: dict[str, ProcessInfo]) -> None:
        by_reason: dict[str, list[str]] = {}
        for name in started:
            reason = reasons.get(name)
            if reason is None:
                reason = f"was {was[name].state}" if name in was else "new"
                by_reason.setdefault(f"started {{}}: {reason}", []).append(name)
            elif reason == "new":
                by_reason.setdefault("started {}: new in the stack", []).append(name)
            else:
                by_reason.setdefault(f"restarted {{}}: {reason}", []).append(name)
        for template, names in by_reason.items():
            self.say("[dateline] " + template.format(", ".join(names)))
        if not by_reason:
            self.say("[dateline] already running, settings unchanged")

    # --- starting -----------------------------------------------------------------------
    def _start(self, programs: list[Program]) -> list[str]:
        """Start what is not running, in order; Redis and Elasticsearch must be healthy
        before the rest. Returns the names started."""
        started = []
        for program in [p for p in programs if p.service is None]:
            info = self.supervisor.info(program.name)
            if info is None or not info.running:
                self._check_ports([program])  # ours is not running: the port must be free
                self.say(f"[dateline] starting {program.name}")
                self.supervisor.start(program.name)
                started.append(program.name)
            self._wait_healthy(program)
        rest = [p for p in programs if p.service is not None]
        for program in rest:
            info = self.supervisor.info(program.name)
            if info is None or not info.running:
                self.supervisor.start(program.name)
                started.append(program.name)
        last = self.supervisor.wait_started(
            [p.name for p in rest], START_TIMEOUT, abort=lambda: self._interrupted
        )
        failed = [info for info in last.values() if info.state != "RUNNING"]
        if failed:
            raise StackError(
                "\n".join(
                    f"{info.name} did not start ({info.state}: {info.spawn_error or info.description}; "
                    f"last exit: {self.supervisor.last_exit(info.name)}); "
                    f"the end of {info.log}:\n{tail(info.log)}"
                    for info in failed
                )
                + "\nFix the cause and run `make up` again (or `make down` to stop the rest)."
            )
        return started

    def _wait_healthy(self, program: Program) -> None:
        wait_healthy(self.supervisor, program, self.settings, abort=lambda: self._interrupted)

    def banner(self) -> None:
        self.settings.inbox_path.mkdir(parents=True, exist_ok=True)
        self.say(
            "\n[dateline] Dateline is running.\n"
            f"  Drop article files into: {self.settings.inbox_path}\n"
            f"  Search:  {health.api_url(self.settings)}/   or  .venv/bin/dateline search 'taliban'\n"
            f"  Status:  {health.api_url(self.settings)}/pipeline   or  .venv/bin/dateline status"
            "   (the programs: .venv/bin/dateline stack status)\n"
            f"  API:     {health.api_url(self.settings)}/docs\n"
            f"  Logs:    {self.supervisor.log_dir}/<program>.log (rotated at {self.settings.log_max_mb:g} MB, "
            f"{self.settings.log_backups} kept)\n"
        )

    # --- run (foreground) ---------------------------------------------------------------
    def run(self) -> None:
        """Start everything under a supervisord of ours and stay until Ctrl-C (or SIGTERM);
        then stop everything, leaving no process behind."""
        if self.supervisor.is_up():
            raise StackError(
                "Dateline is already running in the background (make up); see it with "
                "`dateline stack status`, stop it with `make down`"
            )
        programs = self.programs()
        self._note_remote()
        self._fresh(programs)

        def interrupt(signum: int, frame: FrameType | None) -> None:
            if not self._interrupted:
                self._interrupted = True
                raise KeyboardInterrupt
            self.say("[dateline] still stopping: each program gets its stop timeout, then SIGKILL")

        previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            process = self.supervisor.launch(foreground=True)
            assert process is not None
            self._start(programs)
            self.banner()
            self.say("[dateline] press Ctrl-C to stop")
            while process.poll() is None:
                time.sleep(1)
            self.say(
                f"[dateline] supervisord exited (code {process.returncode}); see {self.supervisor.log_path}"
            )
        except KeyboardInterrupt:
            self.say("\n[dateline] stopping")
        finally:
            try:
                self.stop_all()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    # --- down ---------------------------------------------------------------------------
    def down(self) -> bool:
        """Stop every program (Dateline's first, Redis last) and supervisord. False when
        nothing was running."""
        legacy = stop_legacy(self.supervisor.run_dir, self.say)
        if not self.supervisor.is_up():
            orphans = self.supervisor.orphans()
            for name in sorted(set(orphans.values())):
                pids = sorted(pid for pid, owner in orphans.items() if owner == name)
                self.say(
                    f"[dateline] stopping {name} (pids {', '.join(map(str, pids))}), "
                    "left running by a supervisord that died"
                )
                _terminate(pids, timeout=self.supervisor.configured_stop_seconds(name))
            self._forget_env()
            if legacy or orphans:
                self.say("[dateline] stopped")
            return legacy or bool(orphans)
        self.stop_all()
        return True

    def stop_all(self) -> None:
        if self.supervisor.is_up():
            for info in sorted(self.supervisor.infos(), key=lambda i: -priority_of(i.name)):
                if info.state not in ("STOPPED", "EXITED", "FATAL"):
                    self.say(f"[dateline] stopping {info.name}")
                    self.supervisor.stop(info.name)
        self.supervisor.shutdown()
        self._forget_env()
        self.say("[dateline] stopped")

    def _forget_env(self) -> None:
        # An env file describes a running program; without one it would only mislead.
        for path in self.supervisor.env_dir.glob("*.json"):
            path.unlink(missing_ok=True)

    # --- status -------------------------------------------------------------------------
    def status(self) -> list[Row] | None:
        """Each program's state, pid, uptime and health; None when the stack is not running."""
        if not self.supervisor.is_up():
            return None
        rows = []
        for info in self.supervisor.infos():
            check = health_of(info.name)
            healthy, detail = None, info.description
            if info.state == "RUNNING" and check is not None:
                healthy, detail = health.check(
                    check, self.settings, info.pid if check.kind == "heartbeat" else None
                )
            elif info.state == "EXITED":
                detail = f"exit status {info.exit_status}; {info.description}"
            elif info.state in ("FATAL", "BACKOFF"):
                detail = f"{info.spawn_error or info.description}; last exit: {self.supervisor.last_exit(info.name)}"
            rows.append(
                Row(
                    name=info.name,
                    state=info.state,
                    pid=info.pid or None,
                    uptime=info.uptime,
                    healthy=healthy,
                    detail=detail,
                    log=info.log,
                )
            )
        return sorted(rows, key=lambda r: (priority_of(r.name), r.name))

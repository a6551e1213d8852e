"""supervisord for the local stack and the tests: a generated configuration, and a client
for its XML-RPC interface on a unix socket.

One supervisord per run folder: ``<run>/supervisord.conf`` includes one file per program
(``<run>/programs/<name>.conf``), so programs are added, changed and removed while it
runs (``reloadConfig`` + ``add/removeProcessGroup``, what ``supervisorctl update`` does).
Every program runs in a process group of its own and is stopped and killed as a group
(Celery's pool processes, Elasticsearch's server JVM under its launcher), logs stdout and
stderr to ``<logs>/<name>.log``, rotated by size. Nothing starts by itself: the caller
starts programs in its own order (Redis and Elasticsearch healthy before the rest).

``supervisorctl -c <run>/supervisord.conf status`` works on the same socket.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from supervisor.xmlrpc import Faults, SupervisorTransport

from services.stack.environment import ENV_FILE_VARIABLE
from services.stack.topology import Program

MB = 1024 * 1024
# AF_UNIX paths hold at most 107 bytes; a deep run folder gets its socket in the temp folder.
SOCKET_PATH_LIMIT = 100
# Started means RUNNING; these states mean it will not get there without being started again.
GAVE_UP = {"FATAL", "EXITED", "STOPPED", "UNKNOWN"}
ALIVE = {"STARTING", "RUNNING"}

Autorestart = Literal["true", "false", "unexpected"]


class SupervisorError(RuntimeError):
    pass


@dataclass(frozen=True)
class ProcessInfo:
    """One program as supervisord reports it (``getProcessInfo``)."""

    name: str
    state: str  # STOPPED STARTING RUNNING BACKOFF STOPPING EXITED FATAL UNKNOWN
    pid: int  # 0 when not running
    started: int  # epoch seconds of the last start (0: never)
    now: int
    exit_status: int
    spawn_error: str
    description: str
    log: Path

    @classmethod
    def from_rpc(cls, info: dict[str, Any]) -> ProcessInfo:
        return cls(
            name=info["name"],
            state=info["statename"],
            pid=int(info["pid"]),
            started=int(info["start"]),
            now=int(info["now"]),
            exit_status=int(info["exitstatus"]),
            spawn_error=info["spawnerr"],
            description=info["description"],
            log=Path(info["stdout_logfile"]),
        )

    @property
    def running(self) -> bool:
        return self.state in ALIVE

    @property
    def uptime(self) -> int | None:
        return self.now - self.started if self.state == "RUNNING" and self.started else None


@dataclass(frozen=True)
class Changes:
    """What ``apply`` did to the running supervisord's programs."""

    added: list[str]
    changed: list[str]  # stopped and re-added: they run the new configuration once started
    removed: list[str]


def clean_environment() -> dict[str, str]:
    """supervisord's own environment, inherited by every program: nothing of the caller's
    shell beyond these (settings travel in env files, see ``environment.py``)."""
    return {
        "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME") or "/root",
        "LANG": os.environ.get("LANG") or "C.UTF-8",
    }


def _conf_value(text: str, what: str) -> str:
    """A value as supervisord's config reads it back: ``%`` is its expansion character, and a
    ``;`` or ``#`` after whitespace starts a comment."""
    if "\n" in text or "\r" in text or re.search(r"\s[;#]", text):
        raise SupervisorError(
            f"{what} {text!r} cannot be written into supervisord's configuration "
            "(a line break, or ';'/'#' after a space); rename it or move the data "
            "folder (DATELINE_DATA_DIR)"
        )
    return text.replace("%", "%%")


def _env_value(key: str, value: str) -> str:
    if '"' in value or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise SupervisorError(
            f"environment {key}={value!r} cannot be written into supervisord's "
            "configuration; settings belong in the env file"
        )
    return f'{key}="{_conf_value(value, "environment value")}"'


class Supervisor:
    def __init__(
        self,
        run_dir: Path,
        log_dir: Path,
        *,
        log_max_bytes: int = 50 * MB,
        log_backups: int = 5,
        identifier: str = "dateline",
    ):
        self.run_dir = run_dir
        self.log_dir = log_dir
        self.log_max_bytes = log_max_bytes
        self.log_backups = log_backups
        self.identifier = identifier
        self.conf_path = run_dir / "supervisord.conf"
        self.programs_dir = run_dir / "programs"
        self.env_dir = run_dir / "env"
        self.pid_path = run_dir / "supervisord.pid"
        self.log_path = log_dir / "supervisord.log"
        self.socket_path = self._socket_path(run_dir)
        self._foreground: subprocess.Popen | None = None

    @staticmethod
    def _socket_path(run_dir: Path) -> Path:
        path = run_dir / "supervisord.sock"
        if len(os.fsencode(path)) <= SOCKET_PATH_LIMIT:
            return path
        digest = hashlib.sha256(os.fsencode(run_dir.resolve())).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"dateline-supervisord-{digest}.sock"

    def env_path(self, name: str) -> Path:
        return self.env_dir / f"{name}.json"

    def log_of(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    # --- configuration -------------------------------------------------------------------
    def write_config(self) -> None:
        for folder in (self.run_dir, self.programs_dir, self.env_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for folder in (self.run_dir, self.programs_dir, self.env_dir):
            # Program files and env files hold settings, passwords among them: ours alone.
            folder.chmod(0o700)
        value = _conf_value
        lines = [
            "; Written by services/stack/supervisor.py; regenerated by every `dateline stack up`.",
            "[unix_http_server]",
            f"file={value(str(self.socket_path), 'socket path')}",
            "chmod=0700",
            "",
            "[supervisord]",
            f"logfile={value(str(self.log_path), 'log path')}",
            f"logfile_maxbytes={self.log_max_bytes}",
            f"logfile_backups={self.log_backups}",
            f"pidfile={value(str(self.pid_path), 'pid file')}",
            f"childlogdir={value(str(self.log_dir), 'log folder')}",
            f"identifier={self.identifier}",
        ]
        if os.geteuid() == 0:
            # Says that root is meant (supervisord warns otherwise); user= of a program drops it.
            lines.append("user=root")
        lines += [
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl=unix://{value(str(self.socket_path), 'socket path')}",
            "",
            "[include]",
            "files = programs/*.conf",  # relative to this file's folder: no quoting of the path
            "",
        ]
        self._write(self.conf_path, "\n".join(lines))

    def define(
        self, program: Program, *, autorestart: Autorestart = "unexpected", start_retries: int = 3
    ) -> None:
        """Write (or rewrite) one program's section; ``apply`` makes supervisord read it."""
        environment = dict(program.environment)
        if program.service is not None:
            # Settings come from the env file, read by `dateline serve` at start.
            environment |= {ENV_FILE_VARIABLE: str(self.env_path(program.name)), "PYTHONUNBUFFERED": "1"}
        lines = [
            f"[program:{program.name}]",
            f"command={_conf_value(shlex.join(program.command), 'command')}",
            f"directory={_conf_value(str(program.directory), 'folder')}",
            f"priority={program.priority}",
            "autostart=false",
            f"autorestart={autorestart}",
            "exitcodes=0",
            f"startsecs={program.start_seconds}",
            f"startretries={start_retries}",
            "stopsignal=TERM",
            f"stopwaitsecs={program.stop_seconds}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_conf_value(str(self.log_of(program.name)), 'log path')}",
            f"stdout_logfile_maxbytes={self.log_max_bytes}",
            f"stdout_logfile_backups={self.log_backups}",
        ]
        if environment:
            lines.append("environment=" + ",".join(_env_value(k, v) for k, v in sorted(environment.items())))
        if program.user:
            lines.append(f"user={program.user}")
        self.programs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._write(self.programs_dir / f"{program.name}.conf", "\n".join(lines) + "\n")

    def undefine(self, name: str) -> None:
        (self.programs_dir / f"{name}.conf").unlink(missing_ok=True)

    def configured_stop_seconds(self, name: str, default: int = 60) -> int:
        """A program's stop timeout from its section (readable without supervisord)."""
        try:
            text = (self.programs_dir / f"{name}.conf").read_text(encoding="utf-8")
        except FileNotFoundError:
            return default
        found = re.search(r"^stopwaitsecs=(\d+)$", text, re.MULTILINE)
        return int(found.group(1)) if found else default

    def defined(self) -> set[str]:
        return {path.stem for path in self.programs_dir.glob("*.conf")}

    @staticmethod
    def _write(path: Path, text: str) -> None:
        """Atomically, readable by us alone (0600 from the start, whatever the umask): a
        program's section holds its command and environment."""
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, path)

    # --- supervisord itself --------------------------------------------------------------
    def _rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket_path}")
        # The URL is a placeholder: the transport talks to the unix socket.
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def is_up(self) -> bool:
        try:
            return bool(self._rpc().getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Error):
            return False

    def launch(self, *, foreground: bool = False) -> subprocess.Popen | None:
        """Start supervisord: a daemon, or (``foreground``) a child of ours in a session of
        its own that prints its log to our terminal and is stopped by us, not by Ctrl-C."""
        if self.is_up():
            raise SupervisorError(f"a supervisord already runs on {self.socket_path}")
        self.write_config()
        command = [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf_path)]
        start_log = self.run_dir / "supervisord.start.log"
        with open(start_log, "wb") as out:
            process = subprocess.Popen(
                [*command, "--nodaemon"] if foreground else command,
                env=clean_environment(),
                cwd=self.run_dir,
                stdin=subprocess.DEVNULL,
                stdout=None if foreground else out,
                stderr=None if foreground else subprocess.STDOUT,
                start_new_session=True,
            )
        if foreground:
            self._foreground = process  # from now on: a Ctrl-C while it starts still stops it
        if not foreground and process.wait(timeout=60) != 0:
            raise SupervisorError(
                f"supervisord did not start: {start_log.read_text(errors='replace')[-2000:]}"
            )
        deadline = time.monotonic() + 30
        while not self.is_up():
            if foreground and process.poll() is not None:
                raise SupervisorError(f"supervisord exited at once (exit {process.returncode}); see above")
            if time.monotonic() > deadline:
                raise SupervisorError(
                    f"supervisord does not answer on {self.socket_path}; see {self.log_path}"
                )
            time.sleep(0.1)
        return process if foreground else None

    def pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop every program (highest priority first, each within its stop timeout) and
        supervisord; kill what is left if that takes longer than ``timeout``."""
        pid = self.pid()
        try:
            groups = {info.pid: info.name for info in self.infos() if info.pid}
            stop_seconds = {c["name"]: int(c["stopwaitsecs"]) for c in self._rpc().getAllConfigInfo()}
            self._rpc().shutdown()
        except (OSError, xmlrpc.client.Error):
            if self._foreground is not None and self._foreground.poll() is None:
                # Ours, not answering yet (interrupted while starting): SIGTERM is its shutdown.
                self._foreground.terminate()
                self._foreground.wait(timeout=300)
            self._foreground = None
            return  # not running
        # supervisord stops one program after another, each within its stopwaitsecs.
        worst = sum(stop_seconds.values())
        deadline = time.monotonic() + (worst + 30 if timeout is None else timeout)
        while pid and alive(pid) and time.monotonic() < deadline:
            if self._foreground is not None and self._foreground.poll() is not None:
                break
            time.sleep(0.2)
        if pid and alive(pid):
            _kill_group(pid)  # last resort: supervisord hung
        # supervisord waited for each main process only; what is left of a group gets the
        # program's stop timeout, then SIGKILL.
        for group, name in groups.items():
            _wait_group_gone(group, stop_seconds.get(name, 10))
        if self._foreground is not None:
            self._foreground.wait(timeout=30)
            self._foreground = None

    def orphans(self) -> dict[int, str]:
        """Processes of this supervisord's programs that outlived it (a supervisord killed
        with SIGKILL leaves its programs running): pid -> program. supervisord gives every
        program ``SUPERVISOR_SERVER_URL=unix://<its socket>``, and their children inherit it."""
        marker = f"SUPERVISOR_SERVER_URL=unix://{os.path.normpath(self.socket_path)}".encode()
        found = {}
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                fields = environ.read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in fields and alive(int(environ.parent.name)):
                names = [
                    f.split(b"=", 1)[1].decode() for f in fields if f.startswith(b"SUPERVISOR_PROCESS_NAME=")
                ]
                found[int(environ.parent.name)] = names[0] if names else "?"
        return found

    # --- programs ------------------------------------------------------------------------
    def apply(self) -> Changes:
        """Make the running supervisord read the program files again, like ``supervisorctl
        update``: new programs are added, removed ones stopped and dropped, changed ones
        stopped and re-added (they are not started here)."""
        rpc = self._rpc()
        try:
            added, changed, removed = rpc.reloadConfig()[0]
        except xmlrpc.client.Fault as fault:
            raise SupervisorError(f"supervisord cannot read its configuration: {fault.faultString}") from None
        for name in [*removed, *changed]:
            self.stop(name)
            rpc.removeProcessGroup(name)
        for name in [*changed, *added]:
            rpc.addProcessGroup(name)
        return Changes(added=sorted(added), changed=sorted(changed), removed=sorted(removed))

    def start(self, name: str) -> None:
        """Start without waiting for ``startsecs``: see ``wait_started``."""
        try:
            self._rpc().startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != Faults.ALREADY_STARTED:
                raise SupervisorError(f"cannot start {name}: {fault.faultString}") from None

    def stop(self, name: str) -> None:
        """SIGTERM to the program's group, SIGKILL after its ``stopwaitsecs``; returns once
        every process of the group is gone."""
        info = self.info(name)
        try:
            self._rpc().stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode not in (Faults.NOT_RUNNING, Faults.BAD_NAME):
                raise SupervisorError(f"cannot stop {name}: {fault.faultString}") from None
        if info is not None and info.pid:
            # supervisord waits for the main process only; a child may still be finishing
            # (Elasticsearch's server JVM under its launcher, a Celery pool process).
            _wait_group_gone(info.pid, self._stop_seconds(name))

    def _stop_seconds(self, name: str) -> int:
        for config in self._rpc().getAllConfigInfo():
            if config["name"] == name:
                return int(config["stopwaitsecs"])
        return 30

    def info(self, name: str) -> ProcessInfo | None:
        try:
            return ProcessInfo.from_rpc(self._rpc().getProcessInfo(name))
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == Faults.BAD_NAME:
                return None
            raise

    def infos(self) -> list[ProcessInfo]:
        return [ProcessInfo.from_rpc(info) for info in self._rpc().getAllProcessInfo()]

    def last_exit(self, name: str) -> str | None:
        """How the program's last process ended ("exit status 3", "terminated by SIGKILL"),
        from supervisord's log: its RPC forgets the status of a start that failed."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 256 * 1024))
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return None
        found = re.findall(rf"exited: {re.escape(name)} \((.+?)(?:; (?:not )?expected)?\)\n", text)
        return found[-1] if found else None

    def wait_started(
        self, names: Iterable[str], timeout: float, abort: Callable[[], bool] = lambda: False
    ) -> dict[str, ProcessInfo]:
        """Wait until each program is RUNNING (up ``startsecs``) or has given up; returns the
        last state of each."""
        pending = set(names)
        last: dict[str, ProcessInfo] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline and not abort():
            for name in sorted(pending):
                info = self.info(name)
                if info is None:
                    pending.discard(name)
                    continue
                last[name] = info
                if info.state == "RUNNING" or info.state in GAVE_UP:
                    pending.discard(name)
            if pending:
                time.sleep(0.3)
        return last


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (which no signal can end)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _group_alive(pgid: int) -> bool:
    """Whether a process group still has a member that is not a zombie (``killpg(pgid, 0)``
    counts zombies that nobody has reaped yet)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z" and fields[2] == str(pgid):
            return True
    return False


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """Give the group ``timeout`` seconds to end, then SIGKILL it and wait until it has."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pgid):
        _kill_group(pgid)
        deadline = time.monotonic() + 10
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

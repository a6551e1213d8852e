"""Real service processes for tests and benchmarks, run by a supervisord of the test's own
(``services/stack``, what ``dateline stack`` uses): started with extra environment,
watched, killed with real signals, stopped, their logs kept.

Programs do not restart by themselves here (a fault test decides what happens after a
crash) unless started with ``autorestart=True``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.stack.environment import program_environment, write_env_file
from services.stack.supervisor import ProcessInfo, Supervisor
from services.stack.topology import Program


@dataclass(frozen=True)
class ProcessRef:
    """The main process of a program (``ServiceProcess.process.pid``)."""

    pid: int


class ServiceProcess:
    """One program (``dateline serve ...``, Redis, Elasticsearch) under a supervisord."""

    def __init__(
        self,
        supervisor: Supervisor,
        program: Program,
        env: Mapping[str, str] | None = None,
        *,
        autorestart: bool = False,
    ):
        self.supervisor = supervisor
        self.program = program
        self.name = program.name
        self.env = dict(env or {})
        self.autorestart = autorestart

    @property
    def log_path(self) -> Path:
        return self.supervisor.log_of(self.name)

    def start(self) -> ServiceProcess:
        info = self.supervisor.info(self.name)
        if info is not None and info.running:
            raise RuntimeError(
                f"{self.name} is already running (pid {info.pid}); stop it before starting it again"
            )
        if self.program.service is not None:
            write_env_file(self.supervisor.env_path(self.name), program_environment(self.env))
        self.supervisor.define(
            self.program,
            autorestart="true" if self.autorestart else "false",
            start_retries=3 if self.autorestart else 0,
        )
        self.supervisor.apply()
        self.supervisor.start(self.name)
        return self

    @property
    def info(self) -> ProcessInfo | None:
        return self.supervisor.info(self.name)

    @property
    def running(self) -> bool:
        info = self.info
        return info is not None and info.running

    @property
    def pid(self) -> int | None:
        info = self.info
        return info.pid if info is not None and info.pid else None

    @property
    def process(self) -> ProcessRef:
        pid = self.pid
        if pid is None:
            raise RuntimeError(f"{self.name} is not running ({self.describe()})")
        return ProcessRef(pid)

    def describe(self) -> str:
        info = self.info
        if info is None:
            return "never started"
        return f"{info.state}, {info.description}" if info.description else info.state

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group at once (a crash, not a shutdown) and wait
        until supervisord has seen the main process go."""
        pid = self.pid
        if pid is None:
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        wait_until(
            lambda: self.pid != pid, timeout=60, what=f"{self.name} (pid {pid}) gone after signal {sig}"
        )

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after the program's stop timeout; returns once gone."""
        self.supervisor.stop(self.name)


def wait_until(
    check: Callable[[], object],
    *,
    timeout: float,
    what: str,
    every: float = 0.5,
    processes: Sequence[ServiceProcess] = (),
) -> object:
    """Poll ``check`` until it returns something truthy; fail with the services' logs.

    The timeout only stops a hung test; it is not a performance assertion.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        dead = [p for p in processes if not p.running]
        if dead:
            break
        time.sleep(every)
    logs = "\n".join(f"----- {p.name} ({p.describe()}) -----\n{p.log()[-4000:]}" for p in processes)
    raise AssertionError(f"gave up waiting for {what}; last result: {last!r}\n{logs}")

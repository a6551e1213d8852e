"""Real service processes for tests and benchmarks: started, watched, stopped, logs kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One `dateline serve ...` process in a session of its own, logging to a file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path):
        self.name = name
        self.args = args
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve", *self.args],
            cwd=REPO_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group at once (a crash, not a shutdown)."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        if not self.running:
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_until(check: Callable[[], object], *, timeout: float, what: str, every: float = 0.5,
               processes: list[ServiceProcess] = ()) -> object:
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
    logs = "\n".join(f"----- {p.name} ({'running' if p.running else 'exited'}) -----\n{p.log()[-4000:]}"
                     for p in processes)
    raise AssertionError(f"gave up waiting for {what}; last result: {last!r}\n{logs}")

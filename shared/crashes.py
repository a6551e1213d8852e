"""Deaths of worker pool processes, and crash loops: recorded by each worker's parent process
(``services/worker/pool.py``), shown by ``dateline status``.

Celery replaces a pool process that died (the OOM killer, a segfault in a model, the hard
time limit) with a new one. That hides a process that dies again and again: a crash loop.
Each death is kept with how the process ended and what it was doing, and
``CRASH_LOOP_DEATHS`` deaths of one worker within ``CRASH_LOOP_WINDOW_SECONDS`` are a crash
loop, shown with its likely cause.
"""

from __future__ import annotations

import signal as signals
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Literal

import redis
from pydantic import BaseModel, Field

from shared.keys import WORKER_DEATHS_KEY
from shared.schemas import utcnow

KEEP_DEATHS = 200
CRASH_LOOP_DEATHS = 3
CRASH_LOOP_WINDOW_SECONDS = 600


class WorkerDeath(BaseModel):
    host: str
    node: str = Field(description="The Celery worker, e.g. ner@host.")
    parent_pid: int
    pid: int
    exitcode: int | None = Field(None, description="Negative: killed by that signal.")
    at: datetime = Field(default_factory=utcnow)
    phase: Literal["starting", "running", "unknown"] = Field(
        "unknown", description="starting: it died while loading its models."
    )
    doing: str | None = Field(None, description="The stage and article it was running, if any.")
    controlled: bool = Field(False, description="Ended by the pool itself (e.g. the hard time limit).")

    @property
    def how(self) -> str:
        """ "killed by SIGKILL", "exited with status 1"."""
        if self.exitcode is None:
            return "ended"
        if self.exitcode < 0:
            try:
                return f"killed by {signals.Signals(-self.exitcode).name}"
            except ValueError:
                return f"killed by signal {-self.exitcode}"
        return f"exited with status {self.exitcode}"

    @property
    def cause(self) -> str:
        """How it died, doing what, and what usually causes that."""
        if self.phase == "starting":
            where = "while loading its models"
        elif self.doing:
            where = f"while running {self.doing}"
        else:
            where = "while idle"
        text = f"pool process {self.pid} {self.how} {where}"
        if self.exitcode == -signals.SIGKILL:
            hint = (
                "stopped by the hard time limit (DATELINE_TASK_SOFT_TIME_LIMIT + 15 s)"
                if self.controlled
                else "usually the kernel's out-of-memory killer (see `dmesg`), or a process that took "
                "longer than DATELINE_WORKER_PROC_ALIVE_TIMEOUT to load its models"
            )
            text += f": {hint}"
        return text


class CrashLoop(BaseModel):
    node: str
    host: str
    parent_pid: int
    deaths: int = Field(description=f"Deaths within the last {CRASH_LOOP_WINDOW_SECONDS} s.")
    since: datetime
    last_cause: str


def record_death(client: redis.Redis, death: WorkerDeath) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.lpush(WORKER_DEATHS_KEY, death.model_dump_json())
    pipe.ltrim(WORKER_DEATHS_KEY, 0, KEEP_DEATHS - 1)
    pipe.execute()


def read_deaths(client: redis.Redis, limit: int = KEEP_DEATHS) -> list[WorkerDeath]:
    """Newest first."""
    deaths = []
    for raw in client.lrange(WORKER_DEATHS_KEY, 0, limit - 1):
        try:
            deaths.append(WorkerDeath.model_validate_json(raw))
        except ValueError:
            continue
    return deaths


def crash_loops(
    deaths: list[WorkerDeath],
    now: datetime | None = None,
    window_seconds: float = CRASH_LOOP_WINDOW_SECONDS,
    threshold: int = CRASH_LOOP_DEATHS,
) -> list[CrashLoop]:
    """Workers whose pool processes died ``threshold`` times or more within the window."""
    since = (now or utcnow()) - timedelta(seconds=window_seconds)
    per_worker: dict[tuple[str, int], list[WorkerDeath]] = defaultdict(list)
    for death in deaths:
        if death.at >= since:
            per_worker[(death.host, death.parent_pid)].append(death)
    loops = []
    for (host, parent_pid), recent in per_worker.items():
        if len(recent) >= threshold:
            newest = max(recent, key=lambda d: d.at)
            loops.append(
                CrashLoop(
                    node=newest.node,
                    host=host,
                    parent_pid=parent_pid,
                    deaths=len(recent),
                    since=min(d.at for d in recent),
                    last_cause=newest.cause,
                )
            )
    return sorted(loops, key=lambda loop: loop.since)

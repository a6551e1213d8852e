"""What Dateline is doing right now: files by state, queues, work in progress, the live
processes and failures; and how delivery goes: articles in flight, what the reconciler did,
pool processes that died and crash loops. Read by `dateline status` and the API's /status."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import redis
from pydantic import BaseModel, Field, computed_field

from shared.crashes import CrashLoop, WorkerDeath, crash_loops, read_deaths
from shared.heartbeat import Heartbeat, read_heartbeats
from shared.progress import ProgressLog
from shared.queues import INDEX_GROUP, INDEX_STREAM, PROCESSING_KEY, STAGE_QUEUES, TASK_DEAD_LETTER_KEY
from shared.reconciliation import Reconciliation, read_reconciliation
from shared.redis_client import as_text
from shared.registry import Failure, Registry
from shared.schemas import utcnow

WORKER_SERVICE = "worker"
RECENT_DEATHS = 10


class QueueDepth(BaseModel):
    name: str
    waiting: int
    pending: int = Field(0, description="Delivered but not yet acknowledged (index stream).")


class Status(BaseModel):
    files: dict[str, int]
    queues: list[QueueDepth]
    processing: list[dict[str, Any]] = Field(
        description="Stages running now; worker_alive is false for a process that is gone (the "
        "reconciler clears such entries once its heartbeat has expired).")
    heartbeats: list[Heartbeat] = Field(description="Every live process, workers included.")
    failures: list[Failure]
    dead_letters: int
    at: datetime
    in_flight: int = Field(0, description="Articles with a progress record: queued, processing or indexing.")
    reconciliation: Reconciliation = Field(default_factory=Reconciliation,
                                           description="What the reconciler did: last pass, totals, recent actions.")
    crash_loops: list[CrashLoop] = Field(default_factory=list,
                                         description="Workers whose pool processes keep dying, with the cause.")
    recent_deaths: list[WorkerDeath] = Field(default_factory=list, description="Pool process deaths, newest first.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def workers(self) -> list[Heartbeat]:
        """Enrichment worker processes (one per Celery pool process)."""
        return [beat for beat in self.heartbeats if beat.service == WORKER_SERVICE]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def services(self) -> list[Heartbeat]:
        """Every other live process: ingest, indexer, API."""
        return [beat for beat in self.heartbeats if beat.service != WORKER_SERVICE]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def queued(self) -> int:
        return sum(q.waiting + q.pending for q in self.queues)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def model_problems(self) -> list[str]:
        """One line per worker stage running without its model."""
        problems = []
        for worker in self.workers:
            for stage, info in (worker.details.get("stages") or {}).items():
                if info.get("error"):
                    problems.append(f"{worker.host}:{worker.pid} {stage}: {info['error']}")
        return problems


def _index_stream_depth(client: redis.Redis) -> QueueDepth:
    waiting = pending = 0
    try:
        groups = client.xinfo_groups(INDEX_STREAM)
    except redis.ResponseError:  # no stream yet: nothing was ever enriched
        return QueueDepth(name="index", waiting=0)
    for group in groups:
        if as_text(group.get("name")) == INDEX_GROUP:
            pending = int(group.get("pending") or 0)
            lag = group.get("lag")
            waiting = int(lag) if lag is not None else 0
    if not groups:  # no indexer has started yet: everything is waiting
        waiting = int(client.xlen(INDEX_STREAM))
    return QueueDepth(name="index", waiting=waiting, pending=pending)


def collect_status(client: redis.Redis) -> Status:
    queues = [QueueDepth(name=stage, waiting=int(client.llen(q))) for stage, q in STAGE_QUEUES.items()]
    queues.append(_index_stream_depth(client))
    heartbeats = read_heartbeats(client)
    live = {f"{beat.host}:{beat.pid}" for beat in heartbeats}
    processing = [json.loads(v) for v in client.hvals(PROCESSING_KEY)]
    for item in processing:
        item["worker_alive"] = item.get("worker") in live
    deaths = read_deaths(client)
    return Status(
        files=Registry(client).counts(),
        queues=queues,
        processing=processing,
        heartbeats=heartbeats,
        failures=Registry(client).failures(),
        dead_letters=int(client.llen(TASK_DEAD_LETTER_KEY)),
        at=utcnow(),
        in_flight=ProgressLog(client).count(),
        reconciliation=read_reconciliation(client),
        crash_loops=crash_loops(deaths),
        recent_deaths=deaths[:RECENT_DEATHS],
    )

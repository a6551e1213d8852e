"""What Dateline is doing right now: files by state, queues, work in progress, workers,
services and failures. Read by `dateline status` and the API's /status."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import redis
from pydantic import BaseModel, Field

from shared.queues import (
    INDEX_GROUP,
    INDEX_STREAM,
    PROCESSING_KEY,
    SERVICES_KEY,
    STAGE_QUEUES,
    TASK_DEAD_LETTER_KEY,
    WORKERS_KEY,
)
from shared.registry import Failure, Registry, as_text
from shared.schemas import utcnow


class QueueDepth(BaseModel):
    name: str
    waiting: int
    pending: int = Field(0, description="Delivered but not yet acknowledged (index stream).")


class Status(BaseModel):
    files: dict[str, int]
    queues: list[QueueDepth]
    processing: list[dict[str, Any]]
    workers: list[dict[str, Any]]
    services: list[dict[str, Any]]
    failures: list[Failure]
    dead_letters: int
    at: datetime

    @property
    def queued(self) -> int:
        return sum(q.waiting + q.pending for q in self.queues)

    @property
    def model_problems(self) -> list[str]:
        """One line per worker stage running without its model."""
        problems = []
        for worker in self.workers:
            for stage, info in (worker.get("stages") or {}).items():
                if info.get("error"):
                    problems.append(
                        f"{worker.get('host')}:{worker.get('pid')} {stage}: {info['error']}"
                    )
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


def read_heartbeats(client: redis.Redis, prefix: str, *, named: bool = False) -> list[dict[str, Any]]:
    """Live heartbeats under ``prefix``. With ``named``, keys are ``<service>:...`` and each
    heartbeat gets that service name unless it states one."""
    keys = sorted(client.scan_iter(match=prefix + "*", count=500))
    beats = []
    for key, value in zip(keys, client.mget(keys) if keys else [], strict=True):
        if value is None:
            continue  # expired between SCAN and MGET
        beat = json.loads(value)
        if named:
            beat.setdefault("service", as_text(key).removeprefix(prefix).split(":", 1)[0])
        beats.append(beat)
    return beats


def collect_status(client: redis.Redis) -> Status:
    queues = [QueueDepth(name=stage, waiting=int(client.llen(q))) for stage, q in STAGE_QUEUES.items()]
    queues.append(_index_stream_depth(client))
    processing = [json.loads(v) for v in client.hvals(PROCESSING_KEY)]
    return Status(
        files=Registry(client).counts(),
        queues=queues,
        processing=processing,
        workers=read_heartbeats(client, WORKERS_KEY),
        services=read_heartbeats(client, SERVICES_KEY, named=True),
        failures=Registry(client).failures(),
        dead_letters=int(client.llen(TASK_DEAD_LETTER_KEY)),
        at=utcnow(),
    )

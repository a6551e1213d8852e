"""What Dateline is doing right now: files by state, queues, work in progress, the live
processes and failures. Read by `dateline status` and the API's /status."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

import redis
from pydantic import BaseModel, Field, computed_field

from shared.heartbeat import Heartbeat, read_heartbeats
from shared.queues import (
    INDEX_GROUP,
    INDEX_STREAM,
    PROCESSING_KEY,
    STAGE_QUEUES,
    TASK_DEAD_LETTER_KEY,
    UNTAGGED_LANGUAGE_KEY,
)
from shared.redis_client import as_text
from shared.registry import Failure, Registry
from shared.schemas import utcnow

WORKER_SERVICE = "worker"


class QueueDepth(BaseModel):
    name: str
    waiting: int
    pending: int = Field(0, description="Delivered but not yet acknowledged (index stream).")


class Status(BaseModel):
    files: dict[str, int]
    queues: list[QueueDepth]
    processing: list[dict[str, Any]]
    heartbeats: list[Heartbeat] = Field(description="Every live process, workers included.")
    failures: list[Failure]
    dead_letters: int
    at: datetime
    untagged_languages: dict[str, int] = Field(
        default_factory=dict,
        description="Documents indexed without entities because no NER model covers their "
        "language, per language (not failures: DATELINE_NER_MODELS fixes them).",
    )

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
    processing = [json.loads(v) for v in client.hvals(PROCESSING_KEY)]
    return Status(
        files=Registry(client).counts(),
        queues=queues,
        processing=processing,
        heartbeats=read_heartbeats(client),
        failures=Registry(client).failures(),
        dead_letters=int(client.llen(TASK_DEAD_LETTER_KEY)),
        at=utcnow(),
        untagged_languages=untagged_languages(client),
    )


def untagged_languages(client: redis.Redis) -> dict[str, int]:
    """How many documents of each language no NER model covers, most first."""
    counts = Counter(as_text(value) for value in client.hvals(UNTAGGED_LANGUAGE_KEY))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

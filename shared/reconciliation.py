"""What the reconciler (``services/ingest/reconciler.py``) did, as ``dateline status`` shows it:
its last pass, its last index audit, running totals per reason and the latest actions.

The reasons a file is queued again (or repaired) are fixed words, so totals add up across
passes, reconcilers and restarts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import redis
from pydantic import BaseModel, Field

from shared.keys import RECONCILER_ACTIONS_KEY, RECONCILER_REPORT_KEY, RECONCILER_TOTALS_KEY
from shared.redis_client import as_text
from shared.schemas import utcnow

Reason = Literal[
    "never queued",  # registered, but no trace of it in any queue, worker or the index stream
    "lost in a queue",  # queued, gone from its queue, and no worker took it
    "worker died",  # a worker process that is gone had it, and its task is not coming back
    "lost in a worker",  # a live worker had it, and neither finished nor holds it any more
    "lost before indexing",  # enriched, but neither in the index stream nor in the index
    "missing from the index",  # registered as indexed, not in the index behind the alias
    "registry behind",  # in the index, the registry had not heard (repaired, not queued)
    "gave up",  # stuck again after reconcile_max_requeues re-queues: marked failed
]
KEEP_ACTIONS = 50


class Action(BaseModel):
    at: datetime = Field(default_factory=utcnow)
    path: str
    reason: Reason
    detail: str = Field(description="What the reconciler saw, e.g. where the article was last.")
    outcome: str = Field(description="What it did: queued again, marked indexed, failed.")


class AuditReport(BaseModel):
    at: datetime = Field(default_factory=utcnow)
    alias: str
    indices: list[str] = Field(description="The indices behind the alias.")
    uuids: list[str] = Field(
        default_factory=list, description="Their uuids: a wiped and recreated index has a new one."
    )
    expected: int = Field(description="Documents of files registered as indexed.")
    found: int = Field(description="Documents the index holds.")
    checked_ids: bool = Field(description="The cheap count check failed or the index changed: ids compared.")
    missing: int = 0
    requeued_files: int = 0


class ReconcilerReport(BaseModel):
    host: str
    pid: int
    at: datetime = Field(default_factory=utcnow, description="End of the last pass.")
    seconds: float = Field(description="How long the last pass took.")
    in_flight: int = Field(description="Articles with a progress record (queued, processing, indexing).")
    examined: int = Field(description="Records and files looked at in the last pass.")
    stuck: int = Field(description="Articles found stuck in the last pass.")
    audit: AuditReport | None = None


class Reconciliation(BaseModel):
    """Everything status shows about the reconciler."""

    last_pass: ReconcilerReport | None = None
    totals: dict[str, int] = Field(default_factory=dict, description="Files per reason, ever.")
    recent: list[Action] = Field(default_factory=list, description="Newest first.")


def record_action(client: redis.Redis, action: Action) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.lpush(RECONCILER_ACTIONS_KEY, action.model_dump_json())
    pipe.ltrim(RECONCILER_ACTIONS_KEY, 0, KEEP_ACTIONS - 1)
    pipe.hincrby(RECONCILER_TOTALS_KEY, action.reason, 1)
    pipe.execute()


def write_report(client: redis.Redis, report: ReconcilerReport) -> None:
    client.set(RECONCILER_REPORT_KEY, report.model_dump_json())


def read_reconciliation(client: redis.Redis, recent: int = 10) -> Reconciliation:
    raw = client.get(RECONCILER_REPORT_KEY)
    actions = []
    for value in client.lrange(RECONCILER_ACTIONS_KEY, 0, recent - 1) if recent > 0 else []:
        try:
            actions.append(Action.model_validate_json(value))
        except ValueError:
            continue
    totals = {as_text(k): int(v) for k, v in client.hgetall(RECONCILER_TOTALS_KEY).items()}
    return Reconciliation(
        last_pass=ReconcilerReport.model_validate_json(raw) if raw else None,
        totals=totals,
        recent=actions,
    )

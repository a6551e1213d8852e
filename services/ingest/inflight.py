"""Is an article in flight waiting, or lost? The reconciler's judgement, from the article's
progress record (``shared/progress.py``) and one cheap look at the queues and workers.

An article is stuck when its record has not moved for ``reconcile_stuck_seconds`` (longer
than a task may run), **and** no live worker holds it, **and** no queue holds it:

- *in a queue*: Celery's Redis queues are FIFO lists, so only the task at the tail (the one
  that has waited longest) is read. An article queued with a ticket older than that task's
  has left the queue; a younger one may still be waiting behind the backlog, and is judged
  once the queue has moved past it. A 10,000-article backlog costs one LINDEX per queue.
- *held by a worker*: kombu keeps every task a worker took in its ``unacked`` hash until it
  is acknowledged, and puts it back on its queue after the visibility timeout when that
  worker is gone (a small hash: one task per worker process); live workers also name the
  article they run in their heartbeats.
- *in the index stream*: the entry is read but unacknowledged, or not read yet.

Everything here reads; ``reconciler.py`` acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import redis

from shared.broker_layout import Oldest, delivered_tasks, oldest_waiting, tasks_near_ends
from shared.expected import WORKER_SERVICE
from shared.heartbeat import read_heartbeats
from shared.keys import INDEX_GROUP, INDEX_STREAM
from shared.progress import Progress
from shared.reconciliation import Reason
from shared.redis_client import as_text
from shared.schemas import STAGES, StageName, utcnow

NEAR_ENDS = 25  # tasks read at each end of a queue in the second look


@dataclass
class Snapshot:
    """What the queues and workers say at one moment."""

    now: datetime
    stuck_after: float
    oldest: dict[StageName, Oldest | None]  # per stage queue; None: the queue is empty
    delivered: set[tuple[str, int]]  # (doc id, revision) of tasks taken and not acknowledged
    live_workers: set[str]  # host:pid of worker processes with a live heartbeat
    busy: set[str] = field(default_factory=set)  # doc ids live workers say they run now


@dataclass(frozen=True)
class Verdict:
    action: Literal["wait", "requeue", "check-index"]
    why: str
    reason: Reason | None = None


def take_snapshot(client: redis.Redis, stuck_after: float) -> Snapshot:
    beats = read_heartbeats(client, WORKER_SERVICE)
    busy = {current.doc_id for b in beats if (current := b.worker_details.current) is not None}
    return Snapshot(
        now=utcnow(),
        stuck_after=stuck_after,
        oldest={stage: oldest_waiting(client, stage) for stage in STAGES},
        delivered={(t.document.id, t.document.revision) for t in delivered_tasks(client)},
        live_workers={f"{b.host}:{b.pid}" for b in beats},
        busy=busy,
    )


def judge(progress: Progress, snapshot: Snapshot) -> Verdict:
    """Whether the article of this record is waiting, lost, or (enriched) to be looked for in
    the index stream and the index."""
    if progress.doc_id in snapshot.busy:
        return Verdict("wait", "a live worker is running it")
    if (progress.doc_id, progress.revision) in snapshot.delivered:
        return Verdict(
            "wait", "a worker took its task; kombu puts it back on its queue if that worker is gone"
        )
    age = progress.age(snapshot.now)
    if age < snapshot.stuck_after:
        return Verdict("wait", f"it moved {age:.0f} s ago")
    since = f"{progress.since:%H:%M:%S}"
    if progress.hop == "queued":
        assert progress.stage is not None
        oldest = snapshot.oldest[progress.stage]
        if oldest is not None and (
            oldest.ticket is None or progress.ticket is None or progress.ticket >= oldest.ticket
        ):
            return Verdict("wait", f"waiting in the {progress.stage} queue")
        return Verdict(
            "requeue",
            f"queued for {progress.stage} at {since}, but no longer in that queue and no worker holds it",
            "lost in a queue",
        )
    if progress.hop == "processing":
        if progress.worker not in snapshot.live_workers:
            return Verdict(
                "requeue",
                f"{progress.stage} started at {since} by worker process {progress.worker}, "
                "which is gone, and its task is not coming back",
                "worker died",
            )
        return Verdict(
            "requeue",
            f"{progress.stage} started at {since} by worker process {progress.worker}, "
            "which no longer holds it",
            "lost in a worker",
        )
    return Verdict("check-index", f"enriched at {since}")


def back_in_a_queue(client: redis.Redis) -> set[tuple[str, int]]:
    """(doc id, revision) of tasks near either end of a stage queue: put back there after
    their worker vanished or gave up, they are redelivered soon. A second look, only for
    articles that look lost, so a task on its way back is not queued a second time."""
    return {
        (task.document.id, task.document.revision)
        for stage in STAGES
        for task in tasks_near_ends(client, stage, NEAR_ENDS)
    }


StreamState = Literal["waiting", "done", "gone"]


def _entry_key(entry: str) -> tuple[int, int]:
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


def stream_state(client: redis.Redis, entry: str | None) -> StreamState:
    """Where an index stream entry is: ``waiting`` for an indexer (unread, or read and not
    acknowledged), ``done`` (acknowledged), or ``gone`` (not in the stream)."""
    if entry is None or not client.xrange(INDEX_STREAM, min=entry, max=entry, count=1):
        return "gone"
    groups = client.xinfo_groups(INDEX_STREAM)
    group = next((g for g in groups if as_text(g.get("name")) == INDEX_GROUP), None)
    if group is None:
        return "waiting"  # no indexer has started yet
    last = as_text(group.get("last-delivered-id") or "0-0")
    if _entry_key(entry) > _entry_key(last):
        return "waiting"  # not read yet
    if client.xpending_range(INDEX_STREAM, INDEX_GROUP, min=entry, max=entry, count=1):
        return "waiting"  # read, not acknowledged: a live indexer takes it over from a dead one
    return "done"

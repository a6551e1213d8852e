"""Putting work on the queues: the one way any service hands a document on.

Ingest and ``dateline reprocess`` submit documents to the first enrichment stage; the
worker hands each document to the next stage and, after the last, to the indexer's
stream. Nothing here waits for a result: work only ever moves forward. Every hand-off
writes the document's progress record first (``shared/progress.py``), so a task that gets
lost on the way is found and queued again by the reconciler.

The broker is the Redis of ``DATELINE_REDIS_URL``: the progress records live next to the
queues they describe. This module also reads Celery's queues back (the task waiting longest
in a queue, the tasks delivered but not yet acknowledged) for the reconciler.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from celery import Celery

from shared.progress import ProgressLog
from shared.queues import CELERY_UNACKED_KEY, INDEX_STREAM, STAGE_QUEUES, STAGE_TASKS
from shared.redis_client import as_text, connect
from shared.schemas import STAGES, ArticleDocument, IndexRequest, StageName, StageTask


@lru_cache(maxsize=8)
def _progress_for(broker_url: str) -> ProgressLog:
    return ProgressLog(connect(broker_url))


def progress_of(app: Celery) -> ProgressLog:
    """The progress records next to ``app``'s queues (one client per broker URL)."""
    return _progress_for(str(app.conf.broker_url))


def send_stage_task(app: Celery, task: StageTask) -> bool:
    """Queue ``task`` for its first remaining stage; False when the document is stale (a
    newer revision of its file is in flight, so this one is not worth doing)."""
    stage = task.stages[0]
    document = task.document
    ticket = progress_of(app).queued(document, stage)
    if ticket is None:
        return False
    task.ticket = ticket
    # A readable id in worker logs: which article, which stage, which queueing.
    task_id = f"{document.id}.{stage}.r{document.revision}.t{ticket}"
    app.send_task(STAGE_TASKS[stage], args=[task.to_wire()], queue=STAGE_QUEUES[stage], task_id=task_id)
    return True


def submit_document(
    app: Celery, document: ArticleDocument, stages: Sequence[StageName] = STAGES
) -> bool:
    """Start enriching ``document`` with ``stages`` (all of them by default)."""
    return send_stage_task(app, StageTask(document=document, stages=list(stages)))


def hand_to_indexer(client: redis.Redis, document: ArticleDocument) -> str | None:
    """Give an enriched document to the indexer's stream, recording where it is; returns the
    entry id (None: stale, a newer revision is in flight, nothing was added)."""
    return ProgressLog(client).indexing(
        IndexRequest(action="upsert", source_path=document.source_path, revision=document.revision,
                     document=document)
    )


def push_index_request(client: redis.Redis, request: IndexRequest) -> str:
    """Append ``request`` to the indexer's stream; returns the stream entry id."""
    return as_text(client.xadd(INDEX_STREAM, {"request": request.model_dump_json()}))


def request_delete(
    client: redis.Redis, source_path: str, revision: int, doc_ids: Sequence[str] | None = None
) -> str:
    """Ask the indexer to remove a file's documents (all of them, or just ``doc_ids``)."""
    return push_index_request(
        client,
        IndexRequest(
            action="delete",
            source_path=source_path,
            revision=revision,
            doc_ids=list(doc_ids) if doc_ids is not None else None,
        ),
    )


# --- reading Celery's queues back -------------------------------------------------------------

def task_of_message(raw: bytes | str | dict[str, Any]) -> StageTask | None:
    """The ``StageTask`` inside a Celery message as kombu keeps it in Redis (a JSON envelope
    with a base64 body ``[args, kwargs, embed]``); None for anything else."""
    try:
        envelope = raw if isinstance(raw, dict) else json.loads(raw)
        args = json.loads(base64.b64decode(envelope["body"]))[0]
        return StageTask.from_wire(args[0])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


@dataclass(frozen=True)
class Oldest:
    """The task that has waited longest in a queue."""

    ticket: int | None  # None: a message without a ticket (another sender's, or an older release's)


def oldest_waiting(client: redis.Redis, stage: StageName) -> Oldest | None:
    """The task that has waited longest in ``stage``'s queue: kombu pushes on the left and
    workers pop on the right, so it is the last element. None when the queue is empty."""
    raw = client.lindex(STAGE_QUEUES[stage], -1)
    if raw is None:
        return None
    task = task_of_message(raw)
    return Oldest(task.ticket if task is not None else None)


def tasks_near_ends(client: redis.Redis, stage: StageName, count: int) -> list[StageTask]:
    """The tasks at both ends of ``stage``'s queue: kombu puts a task of a vanished worker
    back at the end consumed next, and one rejected for a retry at the other end."""
    queue = STAGE_QUEUES[stage]
    length = int(client.llen(queue))
    raw = client.lrange(queue, 0, -1) if length <= 2 * count else [
        *client.lrange(queue, 0, count - 1), *client.lrange(queue, -count, -1)]
    return [task for task in map(task_of_message, raw) if task is not None]


def delivered_tasks(client: redis.Redis) -> list[StageTask]:
    """Tasks a worker took but has not acknowledged yet. kombu keeps them until they are
    acknowledged, and puts them back on their queue after the visibility timeout when the
    worker that took them is gone."""
    found = []
    for value in client.hvals(CELERY_UNACKED_KEY):
        try:
            message = json.loads(value)[0]
        except (ValueError, IndexError, TypeError):
            continue
        task = task_of_message(message)
        if task is not None:
            found.append(task)
    return found

"""Putting work on the queues: the one way any service hands a document on.

Ingest and ``dateline reprocess`` submit documents to the first enrichment stage; the
worker hands each document to the next stage and, after the last, to the indexer's
stream. Nothing here waits for a result: work only ever moves forward.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis
from celery import Celery

from shared.queues import INDEX_STREAM, STAGE_QUEUES, STAGE_TASKS
from shared.redis_client import as_text
from shared.schemas import STAGES, ArticleDocument, IndexRequest, StageName, StageTask


def send_stage_task(app: Celery, task: StageTask) -> None:
    """Queue ``task`` for its first remaining stage."""
    stage = task.stages[0]
    app.send_task(STAGE_TASKS[stage], args=[task.to_wire()], queue=STAGE_QUEUES[stage])


def submit_document(
    app: Celery, document: ArticleDocument, stages: Sequence[StageName] = STAGES
) -> None:
    """Start enriching ``document`` with ``stages`` (all of them by default)."""
    send_stage_task(app, StageTask(document=document, stages=list(stages)))


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

"""Putting work on the queues: the one way any service hands a document on.

Ingest and ``dateline reprocess`` submit documents to the first enrichment stage; the
worker hands each document to the next stage and, after the last, to the indexer's
stream. Nothing here waits for a result: work only ever moves forward. Every hand-off
writes the document's progress record first (``shared/progress.py``), so a task that gets
lost on the way is found and queued again by the reconciler.

Every message is checked before it is sent (``encode_message``): text that cannot be encoded
(a lone surrogate) or a message over ``DATELINE_MAX_MESSAGE_MB`` raises an
``UnsendableMessage`` naming the field or the size, and the sender fails that document's
file with it at once; nothing is queued that a later hop could not read, serialize or index.

The broker is the Redis of ``DATELINE_REDIS_URL``: the progress records live next to the
queues they describe. Reading Celery's queues back (for the reconciler and status) is
``shared/broker_layout.py``'s: the one module that knows how kombu keeps them in Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import redis
from celery import Celery
from pydantic_core import PydanticSerializationError

from shared.keys import INDEX_STREAM, STAGE_QUEUES, STAGE_TASKS
from shared.progress import ProgressLog
from shared.redis_client import as_text, connect
from shared.schemas import STAGES, ArticleDocument, IndexRequest, StageName, StageTask, WireModel
from shared.settings import get_settings

MB = 1024 * 1024


class UnsendableMessage(ValueError):
    """This document cannot go on a queue as it is; the message says why and how to fix it.

    About the document, never about the infrastructure: the sender fails the document's
    file with ``str(exc)`` instead of retrying (a retry would fail the same way)."""


class MessageTooLarge(UnsendableMessage):
    """The document's message is over ``DATELINE_MAX_MESSAGE_MB`` (sizes in bytes)."""

    def __init__(self, size: int, limit: int):
        self.size = size
        self.limit = limit
        super().__init__(
            f"the article is {size / MB:.1f} MB as a queue message, over DATELINE_MAX_MESSAGE_MB="
            f"{round(limit / MB, 3):g}; split the file or raise the limit"
        )


class UnencodableText(UnsendableMessage):
    """A text field holds characters no UTF-8 encoder accepts (a lone surrogate)."""

    def __init__(self, field: str, detail: str):
        self.field = field
        super().__init__(
            f"the field {field} holds text that cannot be encoded as UTF-8 ({detail}), so the "
            "article cannot be queued or indexed; fix the file's encoding (e.g. a JSON escape "
            r"like \ud800 that is half of a character pair) and put it in the inbox again"
        )


def unencodable_field(value: Any, where: str = "") -> tuple[str, str] | None:
    """(dotted path, error) of the first string in ``value`` that UTF-8 cannot encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return where or "<text>", f"{exc.reason} at character {exc.start}: {value[exc.start]!r}"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unencodable_field(key, f"{where}<key>") or unencodable_field(
                item, f"{where}.{key}" if where else str(key)
            )
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = unencodable_field(item, f"{where}[{index}]")
            if found:
                return found
    return None


def encode_message(message: WireModel, max_bytes: int | None = None) -> bytes:
    """``message`` as the JSON that goes on a queue, checked: raises ``UnencodableText`` or
    ``MessageTooLarge`` (``max_bytes`` defaults to ``DATELINE_MAX_MESSAGE_MB``). The size is
    that of the UTF-8 JSON; Celery's envelope adds a little (escapes, base64)."""
    limit = get_settings().max_message_bytes if max_bytes is None else max_bytes
    try:
        data = message.model_dump_json().encode("utf-8")
    except (PydanticSerializationError, UnicodeEncodeError) as exc:
        found = unencodable_field(message.model_dump(mode="json"))
        if found is None:
            raise UnsendableMessage(f"the article cannot be serialized as a queue message: {exc}") from exc
        raise UnencodableText(*found) from exc
    if len(data) > limit:
        raise MessageTooLarge(len(data), limit)
    return data


@lru_cache(maxsize=8)
def _progress_for(broker_url: str) -> ProgressLog:
    return ProgressLog(connect(broker_url))


def progress_of(app: Celery) -> ProgressLog:
    """The progress records next to ``app``'s queues (one client per broker URL)."""
    return _progress_for(str(app.conf.broker_url))


def send_stage_task(app: Celery, task: StageTask, max_bytes: int | None = None) -> bool:
    """Queue ``task`` for its first remaining stage; False when the document is stale (a
    newer revision of its file is in flight, so this one is not worth doing).

    Raises ``UnsendableMessage`` (``MessageTooLarge``, ``UnencodableText``) before anything
    is recorded or queued: the caller fails the document's file with it."""
    encode_message(task, max_bytes)
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
    app: Celery,
    document: ArticleDocument,
    stages: Sequence[StageName] = STAGES,
    max_bytes: int | None = None,
) -> bool:
    """Start enriching ``document`` with ``stages`` (all of them by default). Raises
    ``UnsendableMessage`` for a document that cannot be queued (see ``send_stage_task``)."""
    return send_stage_task(app, StageTask(document=document, stages=list(stages)), max_bytes)


def hand_to_indexer(
    client: redis.Redis, document: ArticleDocument, max_bytes: int | None = None
) -> str | None:
    """Give an enriched document to the indexer's stream, recording where it is; returns the
    entry id (None: stale, a newer revision is in flight, nothing was added). Raises
    ``UnsendableMessage`` before anything is added for a document that cannot be indexed."""
    request = IndexRequest(
        action="upsert", source_path=document.source_path, revision=document.revision, document=document
    )
    encode_message(request, max_bytes)
    return ProgressLog(client).indexing(request)


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

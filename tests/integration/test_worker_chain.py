"""Real worker processes: a worker runs every consecutive stage it serves in one task, so an
article goes light worker -> NER worker -> indexer with one hop between workers."""

from __future__ import annotations

import base64
import json

from celery import Celery

from shared.heartbeat import read_heartbeats
from shared.keys import STAGE_QUEUES
from shared.pipeline import submit_document
from shared.registry import FileRecord, Registry
from shared.schemas import StageTask
from tests.support.documents import seed_documents
from tests.support.processes import wait_until


def _queued_task(raw: bytes) -> StageTask:
    """The StageTask inside a Celery message as kombu stores it in a Redis list."""
    envelope = json.loads(raw)
    args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
    return StageTask.from_wire(args[0])


def test_language_and_summary_are_one_task_then_one_hop_to_ner(make_stack):
    stack = make_stack()
    light = stack.start(
        "worker-light", "worker", "--queues", "language,summary", "--name", f"light-{stack.alias}"
    )
    (document,) = seed_documents(1)
    Registry(stack.redis).put(
        FileRecord(path=document.source_path, revision=document.revision, articles=1, doc_ids=[document.id])
    )
    submit_document(Celery(broker=stack.redis_url), document)

    # No NER worker yet: after the light worker the article waits in the entities queue.
    entities_queue = STAGE_QUEUES["entities"]
    wait_until(
        lambda: stack.redis.llen(entities_queue) == 1,
        timeout=300,
        what="the article handed on to the entities queue",
        processes=[light],
    )
    waiting = _queued_task(stack.redis.lindex(entities_queue, 0))
    assert waiting.stages == ["entities"]
    assert waiting.document.language == "en" and waiting.document.summary
    assert waiting.document.provenance.language and waiting.document.provenance.summary
    assert waiting.document.provenance.entities is None
    assert stack.redis.llen(STAGE_QUEUES["summary"]) == 0  # summary never went through a queue
    (beat,) = wait_until(
        lambda: [b for b in read_heartbeats(stack.redis, "worker") if b.worker_details.tasks_done == 1],
        timeout=60,
        what="the light worker's heartbeat counting one task",
        processes=[light],
    )
    assert beat.worker_details.queues == ["language", "summary"]

    processes = [
        light,
        stack.start("worker-ner", "worker", "--queues", "entities", "--name", f"ner-{stack.alias}"),
        stack.start_indexer(),
    ]
    wait_until(stack.count, timeout=300, what="the article indexed", processes=processes)
    (stored,) = stack.documents()
    assert {
        stage: stored["provenance"][stage]["status"] for stage in ("language", "summary", "entities")
    } == {"language": "ok", "summary": "ok", "entities": "ok"}

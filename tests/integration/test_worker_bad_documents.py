"""Real worker processes facing documents they can read but not send on: a lone surrogate
in a field (queued by another sender, past ingest's repair) and a message over
DATELINE_MAX_MESSAGE_MB. Each fails its own file at once with the real cause (no reconciler
runs here), and the worker goes on with the next article."""

from __future__ import annotations

from celery import Celery

from shared.keys import STAGE_QUEUES, STAGE_TASKS
from shared.pipeline import submit_document
from shared.progress import ProgressLog
from shared.registry import FileRecord, Registry
from shared.schemas import ArticleDocument, StageTask
from tests.support.documents import seed_documents
from tests.support.processes import wait_until


def _register(registry: Registry, document: ArticleDocument) -> None:
    registry.put(
        FileRecord(path=document.source_path, revision=document.revision, articles=1, doc_ids=[document.id])
    )


def _send_raw(broker: Celery, payload: dict) -> None:
    """Straight onto the language queue, as an older release or another sender would."""
    broker.send_task(STAGE_TASKS["language"], args=[payload], queue=STAGE_QUEUES["language"])


def _state(registry: Registry, path: str) -> str | None:
    record = registry.get(path)
    return record.state if record else None


def test_unsendable_documents_fail_their_file_at_once_and_the_worker_goes_on(make_stack):
    # A cap of 0.05 MB (52 KB): the seed articles are a few KB, the big one is 200 KB.
    stack = make_stack(extra_env={"DATELINE_MAX_MESSAGE_MB": "0.05"})
    processes = [*stack.start_workers(), stack.start_indexer()]
    registry = Registry(stack.redis)
    broker = Celery(broker=stack.redis_url)
    surrogate, big, good = seed_documents(3, prefix="bad")
    for document in (surrogate, big, good):
        _register(registry, document)

    # kombu writes JSON with ASCII escapes, so the lone surrogate travels as "\ud800".
    payload = StageTask(document=surrogate).to_wire()
    payload["document"]["author"] = "Staff \ud800 Reporter"
    _send_raw(broker, payload)
    oversize = StageTask(document=big).to_wire()
    oversize["document"]["body"] = "word " * 40_000
    _send_raw(broker, oversize)
    submit_document(Celery(broker=stack.redis_url), good)

    wait_until(
        lambda: _state(registry, surrogate.source_path) == "failed",
        timeout=300,
        what="the file with a lone surrogate failed",
        processes=processes,
    )
    wait_until(
        lambda: _state(registry, big.source_path) == "failed",
        timeout=300,
        what="the oversize file failed",
        processes=processes,
    )
    failures = {f.path: f for f in registry.failures()}
    encoding = failures[surrogate.source_path]
    assert encoding.stage == "language"
    assert "document.author" in encoding.reason and "UTF-8" in encoding.reason
    size = failures[big.source_path]
    assert (
        "over DATELINE_MAX_MESSAGE_MB=0.05" in size.reason
        and "split the file or raise the limit" in size.reason
    )
    # Nothing left for the reconciler to find: no progress record of either.
    assert not ProgressLog(stack.redis).get([surrogate.id, big.id])

    # The worker kept going: the good article is indexed.
    wait_until(
        lambda: _state(registry, good.source_path) == "indexed",
        timeout=600,
        what="the good article indexed after the bad ones",
        processes=processes,
    )
    assert stack.count() == 1
    assert all(p.running for p in processes)

"""The reconciler against a real Redis and Elasticsearch, one situation at a time: each is set
up with the real parts (ingest queues a real file; the bulk writer writes a real document),
then the one thing a crash or a lost write leaves behind is done by hand (a message gone
from its queue, a registry update that never came), and time is moved on by back-dating
the article's progress record. The fault tests (tests/integration/faults) make the same
situations happen with real kills.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from elasticsearch import Elasticsearch

from services.indexer.writer import BulkWriter
from services.ingest.reconciler import build_reconciler
from shared.broker_layout import oldest_waiting
from shared.keys import FILE_KEY, INDEX_GROUP, INDEX_STREAM, PROGRESS_KEY, STAGE_QUEUES
from shared.progress import Progress, ProgressLog
from shared.reconciliation import read_reconciliation
from shared.registry import FileRecord, Registry
from shared.schemas import IndexRequest, utcnow
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings, get_settings
from tests.support.paths import SEEDS

SEED = sorted(SEEDS.glob("*.txt"))[0]
LANGUAGE_QUEUE = STAGE_QUEUES["language"]


@pytest.fixture
def env(clean_settings: Callable[..., dict[str, str]], es_url: str, index_alias: str) -> Path:
    inbox = Path(clean_settings(RECONCILE_MAX_REQUEUES="2")["DATELINE_INBOX"])
    inbox.mkdir()
    return inbox


def settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


def rclient() -> redis.Redis:
    return redis.Redis.from_url(settings().redis_url)


def es() -> Elasticsearch:
    return make_client(settings().elasticsearch_url)


def drop(inbox: Path, name: str = "a.txt") -> str:
    shutil.copy(SEED, inbox / name)
    return name


def back_date_progress(doc_id: str, seconds: float) -> Progress:
    """Move an article's progress record ``seconds`` into the past."""
    client = rclient()
    record = Progress.model_validate_json(client.hget(PROGRESS_KEY, doc_id))
    record.since = utcnow() - timedelta(seconds=seconds)
    client.hset(PROGRESS_KEY, doc_id, record.model_dump_json())
    return record


def back_date_file(path: str, seconds: float) -> None:
    client = rclient()
    record = FileRecord.model_validate_json(client.get(FILE_KEY + path))
    record.updated_at = utcnow() - timedelta(seconds=seconds)
    client.set(FILE_KEY + path, record.model_dump_json())


def stuck_for() -> float:
    return settings().reconcile_stuck_seconds + 1


def test_a_task_lost_from_its_queue_is_queued_again(env: Path) -> None:
    reconciler = build_reconciler(settings())
    path = drop(env)
    assert reconciler.ingestor.process(env / path).status == "queued"
    (doc_id,) = Registry(rclient()).get(path).doc_ids  # type: ignore[union-attr]

    # Waiting in its queue, however long: left alone.
    back_date_progress(doc_id, stuck_for())
    reconciler.run_pass()
    assert rclient().llen(LANGUAGE_QUEUE) == 1
    assert read_reconciliation(rclient()).recent == []

    # Gone from the queue (Redis lost the write), nobody holds it: queued again, a new revision.
    rclient().delete(LANGUAGE_QUEUE)
    reconciler.run_pass()
    record = Registry(rclient()).get(path)
    assert record is not None and record.revision == 2 and record.state == "queued"
    assert rclient().llen(LANGUAGE_QUEUE) == 1
    (action,) = read_reconciliation(rclient()).recent
    assert action.path == path and action.reason == "lost in a queue"
    assert "queued for language" in action.detail and "queued again" in action.outcome
    assert read_reconciliation(rclient()).totals == {"lost in a queue": 1}


def test_a_task_behind_a_backlog_is_not_queued_twice(env: Path) -> None:
    reconciler = build_reconciler(settings())
    first, second = drop(env, "first.txt"), drop(env, "second.txt")
    for name in (first, second):
        reconciler.ingestor.process(env / name)
    first_id, second_id = (Registry(rclient()).get(p).doc_ids[0] for p in (first, second))  # type: ignore[union-attr]
    back_date_progress(first_id, stuck_for())
    back_date_progress(second_id, stuck_for())
    # A worker took the oldest task; the second waits behind it (FIFO): both left alone.
    rclient().rpop(LANGUAGE_QUEUE)
    assert (
        oldest_waiting(rclient(), "language").ticket
        == ProgressLog(rclient()).get([second_id])[second_id].ticket
    )
    reconciler.check_in_flight()
    assert {a.path for a in read_reconciliation(rclient()).recent} == {first}  # lost: nobody holds it
    assert Registry(rclient()).get(second).revision == 1  # type: ignore[union-attr]


def test_a_file_registered_but_never_queued_is_queued(env: Path) -> None:
    reconciler = build_reconciler(settings())
    path = drop(env)
    reconciler.ingestor.process(env / path)
    # Ingest died between registering the file and queueing its article.
    rclient().delete(LANGUAGE_QUEUE, PROGRESS_KEY)
    back_date_file(path, stuck_for())
    reconciler.run_pass()
    (action,) = read_reconciliation(rclient()).recent
    assert action.reason == "never queued" and "left no trace" in action.detail
    assert rclient().llen(LANGUAGE_QUEUE) == 1


def test_an_indexed_article_the_registry_missed_is_caught_up(env: Path) -> None:
    reconciler = build_reconciler(settings())
    path = drop(env)
    reconciler.ingestor.process(env / path)
    client = rclient()
    task = json.loads(client.rpop(LANGUAGE_QUEUE))
    del task  # a worker took the task and enriched the article...
    record = Registry(client).get(path)
    assert record is not None
    document = _document_of(reconciler, env / path, record.revision)
    entry = ProgressLog(client).indexing(
        IndexRequest(action="upsert", source_path=path, revision=record.revision, document=document)
    )
    # ...the indexer wrote it and acknowledged the entry, then died before telling the registry.
    ensure_index(es(), settings().index, settings())
    BulkWriter(es(), settings().index, settings()).write(
        [
            (
                str(entry),
                IndexRequest(action="upsert", source_path=path, revision=record.revision, document=document),
            )
        ]
    )
    client.xgroup_create(INDEX_STREAM, INDEX_GROUP, id="0", mkstream=True)
    client.xreadgroup(INDEX_GROUP, "dead-indexer", {INDEX_STREAM: ">"})
    client.xack(INDEX_STREAM, INDEX_GROUP, str(entry))
    back_date_progress(document.id, stuck_for())

    reconciler.run_pass()
    assert Registry(client).get(path).state == "indexed"  # type: ignore[union-attr]
    assert ProgressLog(client).count() == 0
    (action,) = read_reconciliation(client).recent
    assert action.reason == "registry behind" and action.outcome == "marked indexed"
    assert client.llen(LANGUAGE_QUEUE) == 0  # not queued again


def test_the_same_content_stuck_again_and_again_ends_failed_with_the_reason(env: Path) -> None:
    reconciler = build_reconciler(settings())
    path = drop(env)
    reconciler.ingestor.process(env / path)
    for _ in range(settings().reconcile_max_requeues + 1):
        rclient().delete(LANGUAGE_QUEUE)
        doc_id = Registry(rclient()).get(path).doc_ids[0]  # type: ignore[union-attr]
        back_date_progress(doc_id, stuck_for())
        reconciler.run_pass()
    record = Registry(rclient()).get(path)
    assert record is not None and record.state == "failed"
    (failure,) = [f for f in Registry(rclient()).failures() if f.path == path]
    assert "Queued again 2 times and stuck every time" in failure.reason
    assert f"dateline ingest --force {path}" in failure.reason
    assert read_reconciliation(rclient()).recent[0].reason == "gave up"


def test_files_missing_from_the_index_are_queued_again(env: Path) -> None:
    reconciler = build_reconciler(settings())
    ensure_index(es(), settings().index, settings())
    present, missing = drop(env, "present.txt"), drop(env, "missing.txt")
    for name in (present, missing):
        reconciler.ingestor.process(env / name)
        rclient().delete(LANGUAGE_QUEUE, PROGRESS_KEY)
        record = Registry(rclient()).get(name)
        assert record is not None
        record.state = "indexed"
        Registry(rclient()).put(record)
    record = Registry(rclient()).get(present)
    assert record is not None
    document = _document_of(reconciler, env / present, record.revision)
    BulkWriter(es(), settings().index, settings()).write(
        [
            (
                "1",
                IndexRequest(
                    action="upsert", source_path=present, revision=record.revision, document=document
                ),
            )
        ]
    )
    es().indices.refresh(index=settings().index)

    report = reconciler.run_pass()
    assert report is not None and report.audit is not None
    assert (report.audit.expected, report.audit.found, report.audit.missing) == (2, 1, 1)
    assert report.audit.checked_ids and report.audit.requeued_files == 1
    assert Registry(rclient()).get(missing).state == "queued"  # type: ignore[union-attr]
    assert Registry(rclient()).get(present).state == "indexed"  # type: ignore[union-attr]
    assert [a.reason for a in read_reconciliation(rclient()).recent] == ["missing from the index"]


def test_one_pass_at_a_time_across_reconcilers(env: Path) -> None:
    first, second = build_reconciler(settings()), build_reconciler(settings())
    lock = rclient().lock("dateline:reconciler:lock", timeout=30)
    assert lock.acquire(blocking=False)
    try:
        assert first.run_pass() is None and second.run_pass() is None
    finally:
        lock.release()
    assert first.run_pass() is not None


def _document_of(reconciler, path: Path, revision: int):
    from services.ingest.documents import build_document
    from services.ingest.readers import reader_for

    source = reconciler.ingestor.source_path(path)
    article = reader_for(path).read(path, path.read_bytes()).articles[0]
    return build_document(article, source_path=source, revision=revision)


def test_the_cheap_audit_holds_across_restarts_and_a_replaced_index_is_checked(env: Path) -> None:
    from tests.support.indices import drop_dateline_index

    path = drop(env)
    first = build_reconciler(settings())
    first.ingestor.process(env / path)
    rclient().delete(LANGUAGE_QUEUE, PROGRESS_KEY)
    record = Registry(rclient()).get(path)
    assert record is not None
    record.state = "indexed"
    Registry(rclient()).put(record)
    document = _document_of(first, env / path, record.revision)

    def index_it() -> None:
        ensure_index(es(), settings().index, settings())
        BulkWriter(es(), settings().index, settings()).write(
            [
                (
                    "1",
                    IndexRequest(
                        action="upsert", source_path=path, revision=record.revision, document=document
                    ),
                )
            ]
        )
        es().indices.refresh(index=settings().index)

    index_it()
    assert first.run_pass().audit.checked_ids  # type: ignore[union-attr]  # first look: ids compared
    restarted = build_reconciler(settings())
    restarted.setup()
    audit = restarted.run_pass().audit  # type: ignore[union-attr]
    assert audit is not None and not audit.checked_ids and audit.missing == 0  # same index, same count

    # The index replaced by one holding the same count: a new uuid, so the ids are compared.
    drop_dateline_index(es(), settings().index)
    index_it()
    restarted._next_audit = 0
    audit = restarted.run_pass().audit  # type: ignore[union-attr]
    assert audit is not None and audit.checked_ids and audit.missing == 0


def test_the_audit_pages_and_keeps_only_what_a_pass_requeues(env: Path) -> None:
    """More files missing than a pass queues again: the audit keeps ``keep`` of them and
    counts the rest, across several id batches, without holding the whole registry."""
    from services.ingest import audit as audit_module

    ensure_index(es(), settings().index, settings())
    registry = Registry(rclient())
    for i in range(7):  # registered as indexed (two articles each), none in the index
        registry.put(
            FileRecord(
                path=f"gone-{i}.txt",
                state="indexed",
                revision=1,
                articles=2,
                doc_ids=[f"gone-{i}-a", f"gone-{i}-b"],
            )
        )
    original = audit_module.ID_BATCH
    audit_module.ID_BATCH = 3  # several id batches
    try:
        audit = audit_module.audit_index(es(), registry, settings().index, None, keep=2)
    finally:
        audit_module.ID_BATCH = original
    assert audit.checked_ids and (audit.expected, audit.found) == (14, 0)
    assert audit.missing_docs == 14 and audit.missing_files == 7
    assert len(audit.missing) == 2 and len(audit.counted) == 5

"""Progress records in a real Redis: each hop written by one script, guarded by revision."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from shared.keys import INDEX_STREAM
from shared.progress import ProgressLog, marker_field
from shared.schemas import ArticleDocument, IndexRequest, document_id


@pytest.fixture
def log(redis_url: str) -> Iterator[ProgressLog]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield ProgressLog(client)
    client.flushdb()


def article(revision: int = 1) -> ArticleDocument:
    return ArticleDocument(
        id=document_id("a.txt"),
        source_path="a.txt",
        revision=revision,
        format="text",
        title="Title",
        body="Body.",
        content_sha256="0" * 64,
    )


def test_hops_replace_each_other_and_tickets_keep_the_order(log: ProgressLog) -> None:
    doc = article()
    first = log.queued(doc, "language")
    assert first is not None and log.queued(article(), "language") == first + 1
    assert log.processing(doc, "language", "host:1") == 1
    (marker,) = log.markers().values()
    assert marker["stage"] == "language" and marker["worker"] == "host:1" and marker["doc_id"] == doc.id
    assert log.processing(doc, "summary", "host:1") == 1
    assert list(log.markers()) == [marker_field(doc.id, "summary")]  # one marker per document
    ticket = log.queued(doc, "entities")
    record = log.get([doc.id])[doc.id]
    assert (record.hop, record.stage, record.ticket) == ("queued", "entities", ticket)
    assert log.markers() == {}


def test_a_stage_started_again_counts_its_attempts(log: ProgressLog) -> None:
    doc = article()
    assert log.processing(doc, "entities", "host:1") == 1
    assert log.processing(doc, "entities", "host:2") == 2  # the first process died on it
    assert log.processing(doc, "entities", "host:3") == 3
    assert log.processing(article(revision=2), "entities", "host:3") == 1  # a new revision starts over


def test_indexing_adds_the_stream_entry_and_records_it_in_one_step(log: ProgressLog) -> None:
    doc = article()
    log.processing(doc, "entities", "host:1")
    entry = log.indexing(IndexRequest(action="upsert", source_path=doc.source_path, revision=1, document=doc))
    assert entry is not None
    ((stream_id, fields),) = log.redis.xrange(INDEX_STREAM)
    assert stream_id.decode() == entry
    assert IndexRequest.model_validate_json(fields[b"request"]).document == doc
    record = log.get([doc.id])[doc.id]
    assert record.hop == "indexing" and record.entry == entry
    assert log.markers() == {}


def test_an_older_revision_never_overwrites_a_newer_one(log: ProgressLog) -> None:
    new, old = article(revision=3), article(revision=2)
    log.queued(new, "language")
    assert log.queued(old, "entities") is None
    assert log.processing(old, "entities", "host:1") is None
    assert log.indexing(IndexRequest(action="upsert", source_path="a.txt", revision=2, document=old)) is None
    assert log.redis.xlen(INDEX_STREAM) == 0  # a stale document is not even added
    log.finished(old.id, 2)  # an older revision's end leaves the newer record alone
    assert log.get([new.id])[new.id].revision == 3
    log.finished(new.id, 3)
    assert log.count() == 0


def test_a_batch_finishes_in_one_pipeline_and_each_keeps_its_revision_guard(log: ProgressLog) -> None:
    documents = [
        ArticleDocument(
            id=document_id(f"{i}.txt"),
            source_path=f"{i}.txt",
            revision=2,
            format="text",
            title="Title",
            body="Body.",
            content_sha256="0" * 64,
        )
        for i in range(5)
    ]
    for doc in documents:
        log.processing(doc, "entities", "host:1")
    # The first document's file moved on to revision 3 meanwhile: its record stays.
    log.queued(documents[0].model_copy(update={"revision": 3}), "language")
    done = log.finished_many([(doc.id, 2) for doc in documents] + [("never-recorded", 1)])
    assert done == [False, True, True, True, True, True]
    assert log.count() == 1 and log.get([documents[0].id])[documents[0].id].revision == 3
    assert log.markers() == {}  # every finished document's marker went with its record
    assert log.finished_many([]) == []

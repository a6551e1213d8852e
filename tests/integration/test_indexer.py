"""The indexer against a real Elasticsearch and Redis: writes, replays, deletes, failures."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from elasticsearch import Elasticsearch

from services.indexer.consumer import Entry, StreamConsumer
from services.indexer.service import Indexer
from services.indexer.writer import BulkWriter
from shared.heartbeat import IndexerDetails, read_heartbeats
from shared.registry import FileRecord, Registry
from shared.schemas import ArticleDocument, Entities, IndexRequest, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from tests.support.processes import wait_until


@pytest.fixture
def settings(es_url: str, redis_url: str, alias: str) -> Settings:
    return Settings(elasticsearch_url=es_url, redis_url=redis_url, index=alias, index_flush_seconds=0.2)


@pytest.fixture
def stream(rclient: redis.Redis) -> Iterator[str]:
    name = f"test:index:{uuid.uuid4().hex[:12]}"
    yield name
    rclient.delete(name, name + ":dead")


def make_indexer(es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str) -> Indexer:
    consumer = StreamConsumer(rclient, "test-consumer", stream=stream, dead_letter_stream=stream + ":dead")
    consumer.ensure_group()
    return Indexer(BulkWriter(es, settings.index, settings), consumer, Registry(rclient), settings)


def register(rclient: redis.Redis, path: str, revision: int, articles: int, state: str = "queued") -> None:
    Registry(rclient).put(FileRecord(path=path, revision=revision, articles=articles, state=state))  # type: ignore[arg-type]


def article(path: str, record: int = 0, revision: int = 1, title: str = "Harbour reopens") -> ArticleDocument:
    return ArticleDocument(
        id=document_id(path, record),
        source_path=path,
        record=record,
        revision=revision,
        format="text",
        title=title,
        body=f"{title}. The harbour of Hamburg reopened on Monday.",
        content_sha256=uuid.uuid4().hex,
        source="Test Wire",
        language="en",
        entities=Entities(location=["Hamburg"]),
    )


def push(rclient: redis.Redis, stream: str, request: IndexRequest) -> str:
    return rclient.xadd(stream, {"request": request.model_dump_json()}).decode()


def upsert(doc: ArticleDocument) -> IndexRequest:
    return IndexRequest(action="upsert", source_path=doc.source_path, revision=doc.revision, document=doc)


def drain(indexer: Indexer, max_attempts: int | None = None) -> bool:
    entries = indexer.consumer.read(100, 0.2)
    assert entries, "expected entries on the stream"
    return indexer.handle(entries, max_attempts=max_attempts)


def count(es: Elasticsearch, alias: str, **term: str) -> int:
    es.indices.refresh(index=alias)
    query = {"term": term} if term else {"match_all": {}}
    return int(es.count(index=alias, query=query)["count"])


def test_upsert_batch_marks_files_indexed_and_is_idempotent_on_replay(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    path = f"feeds/{uuid.uuid4().hex}.jsonl"
    register(rclient, path, revision=1, articles=3)
    docs = [article(path, record=i) for i in range(3)]
    ids = [push(rclient, stream, upsert(doc)) for doc in docs]

    assert drain(indexer)
    assert count(es, settings.index) == 3
    assert Registry(rclient).get(path).state == "indexed"
    assert indexer.consumer.pending_ids() == []
    stored = es.get(index=settings.index, id=docs[0].id)
    assert stored["_version"] == 1 and stored["_source"]["entities"]["location"] == ["Hamburg"]

    # Replaying the same entries (as after a crash before XACK) changes nothing.
    for doc in docs:
        push(rclient, stream, upsert(doc))
    assert drain(indexer)
    assert count(es, settings.index) == 3
    assert len(ids) == 3


def test_older_revision_never_overwrites_newer(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    path = f"{uuid.uuid4().hex}.txt"
    register(rclient, path, revision=2, articles=1)
    push(rclient, stream, upsert(article(path, revision=2, title="New text")))
    assert drain(indexer)

    # A late revision-1 write: the registry still says revision 1 was current when it was
    # queued, so bypass the stale check and let Elasticsearch's versioning decide.
    register(rclient, path, revision=1, articles=1)
    push(rclient, stream, upsert(article(path, revision=1, title="Old text")))
    assert drain(indexer)
    stored = es.get(index=settings.index, id=document_id(path, 0))
    assert stored["_source"]["title"] == "New text"
    assert stored["_version"] == 2
    assert indexer.consumer.pending_ids() == []


def test_stale_upsert_is_skipped_and_acked(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    path = f"{uuid.uuid4().hex}.txt"
    register(rclient, path, revision=3, articles=1)
    push(rclient, stream, upsert(article(path, revision=2)))
    deleted = f"{uuid.uuid4().hex}.txt"
    register(rclient, deleted, revision=1, articles=1, state="deleted")
    push(rclient, stream, upsert(article(deleted, revision=1)))
    assert drain(indexer)
    assert count(es, settings.index) == 0
    assert indexer.consumer.pending_ids() == []


def test_delete_by_doc_ids_and_by_source_path(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    one, two = f"{uuid.uuid4().hex}.jsonl", f"{uuid.uuid4().hex}.jsonl"
    register(rclient, one, revision=1, articles=3)
    register(rclient, two, revision=1, articles=2)
    for doc in [article(one, i) for i in range(3)] + [article(two, i) for i in range(2)]:
        push(rclient, stream, upsert(doc))
    assert drain(indexer)
    assert count(es, settings.index) == 5

    push(
        rclient,
        stream,
        IndexRequest(action="delete", source_path=one, revision=1, doc_ids=[document_id(one, 2)]),
    )
    push(rclient, stream, IndexRequest(action="delete", source_path=two, revision=1))
    assert drain(indexer)
    assert count(es, settings.index, source_path=one) == 2
    assert count(es, settings.index, source_path=two) == 0
    assert not es.exists(index=settings.index, id=document_id(one, 2))


def test_delete_of_older_revision_keeps_newer_documents(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    path = f"{uuid.uuid4().hex}.txt"
    register(rclient, path, revision=5, articles=1)
    push(rclient, stream, upsert(article(path, revision=5)))
    push(rclient, stream, IndexRequest(action="delete", source_path=path, revision=4))
    assert drain(indexer)
    assert count(es, settings.index, source_path=path) == 1


def test_malformed_entries_are_recorded_dead_lettered_and_acked(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    path = f"broken/{uuid.uuid4().hex}.txt"
    bad_json = rclient.xadd(stream, {"request": "{not json"}).decode()
    bad_shape = rclient.xadd(
        stream, {"request": json.dumps({"action": "upsert", "source_path": path, "revision": 1})}
    ).decode()
    no_field = rclient.xadd(stream, {"other": "x"}).decode()
    assert drain(indexer)

    assert indexer.consumer.pending_ids() == []
    dead = rclient.xrange(stream + ":dead")
    assert sorted(fields[b"entry_id"].decode() for _id, fields in dead) == sorted(
        [bad_json, bad_shape, no_field]
    )
    payloads = {fields[b"entry_id"].decode(): json.loads(fields[b"payload"]) for _id, fields in dead}
    assert payloads[bad_json] == {"request": "{not json"}
    failures = {f.path: f for f in Registry(rclient).failures() if f.stage == "index"}
    assert "without a document" in failures[path].reason
    assert f"stream entry {bad_json}" in failures
    assert f"stream entry {no_field}" in failures
    for key in (path, f"stream entry {bad_json}", f"stream entry {no_field}"):
        rclient.hdel("dateline:failures", key)


def test_mapping_rejection_becomes_a_failure_and_is_acked(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    path = f"{uuid.uuid4().hex}.txt"
    register(rclient, path, revision=1, articles=2)
    good = article(path, 0)
    bad = article(path, 1)
    push(rclient, stream, upsert(good))
    raw = json.loads(upsert(bad).model_dump_json())
    # Valid for the schema (an int), out of range for the mapping's integer: ES says 400.
    raw["document"]["entity_list"] = [{"name": "Hamburg", "type": "location", "count": 2**40}]
    rclient.xadd(stream, {"request": json.dumps(raw)})
    assert drain(indexer)

    assert indexer.consumer.pending_ids() == []
    assert es.exists(index=settings.index, id=good.id)
    assert not es.exists(index=settings.index, id=bad.id)
    failure = next(f for f in Registry(rclient).failures() if f.path == path)
    assert failure.stage == "index" and "Elasticsearch rejected document" in failure.reason
    assert Registry(rclient).get(path).state != "indexed"
    rclient.hdel("dateline:failures", path)


def test_a_rejected_document_ends_its_file_failed_and_its_progress(es, rclient, settings, stream):
    from shared.progress import ProgressLog

    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    path = f"{uuid.uuid4().hex}.jsonl"
    register(rclient, path, revision=1, articles=2)
    good, bad = article(path, 0), article(path, 1)
    progress = ProgressLog(rclient)
    for doc in (good, bad):
        progress.processing(doc, "entities", "host:1")
    push(rclient, stream, upsert(good))
    raw = json.loads(upsert(bad).model_dump_json())
    raw["document"]["entity_list"] = [{"name": "Hamburg", "type": "location", "count": 2**40}]
    rclient.xadd(stream, {"request": json.dumps(raw)})
    assert drain(indexer)

    # Never wholly indexable as it is: failed, with the reason, and nothing left in flight.
    assert Registry(rclient).get(path).state == "failed"
    assert any(f.path == path and f.stage == "index" for f in Registry(rclient).failures())
    assert progress.get([good.id, bad.id]) == {}
    rclient.hdel("dateline:failures", path)


def test_unencodable_or_oversize_documents_fail_their_files_without_poisoning_the_batch(
    es, rclient, settings, stream
):
    from shared.progress import ProgressLog

    settings = settings.model_copy(update={"max_message_mb": 0.05})  # 52 KB
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    good, surrogate, big = (article(f"{uuid.uuid4().hex}.json") for _ in range(3))
    progress = ProgressLog(rclient)
    for doc in (good, surrogate, big):
        register(rclient, doc.source_path, revision=1, articles=1)
        progress.processing(doc, "entities", "host:1")
    # Another sender's JSON escape of half a surrogate pair: the ES client cannot encode it,
    # and before it failed the whole bulk request, over and over.
    raw = json.loads(upsert(surrogate).model_dump_json())
    raw["document"]["author"] = "Staff \ud800 Reporter"
    rclient.xadd(stream, {"request": json.dumps(raw)})
    push(rclient, stream, upsert(big.model_copy(update={"body": "word " * 40_000})))
    push(rclient, stream, upsert(good))
    assert drain(indexer)

    assert indexer.consumer.pending_ids() == []
    assert es.exists(index=settings.index, id=good.id)
    assert Registry(rclient).get(good.source_path).state == "indexed"
    failures = {f.path: f for f in Registry(rclient).failures()}
    for doc in (surrogate, big):
        assert Registry(rclient).get(doc.source_path).state == "failed"
        assert failures[doc.source_path].stage == "index"
        assert not es.exists(index=settings.index, id=doc.id)
    assert "document.author" in failures[surrogate.source_path].reason
    assert "DATELINE_MAX_MESSAGE_MB=0.05" in failures[big.source_path].reason
    assert progress.get([good.id, surrogate.id, big.id]) == {}
    rclient.hdel("dateline:failures", surrogate.source_path, big.source_path)


def test_entries_stay_pending_while_elasticsearch_is_down_then_land(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    path = f"{uuid.uuid4().hex}.jsonl"
    register(rclient, path, revision=1, articles=2)
    for i in range(2):
        push(rclient, stream, upsert(article(path, i)))

    down = make_indexer(make_client("http://127.0.0.1:1"), rclient, settings, stream)
    entries = down.consumer.read(100, 0.2)
    assert len(entries) == 2
    assert down.handle(entries, max_attempts=2) is False
    assert sorted(down.consumer.pending_ids()) == sorted(e.id for e in entries)
    assert Registry(rclient).get(path).state == "queued"

    up = make_indexer(es, rclient, settings, stream)  # same consumer name: picks up its batch
    assert up.handle(entries) is True
    assert up.consumer.pending_ids() == []
    assert count(es, settings.index, source_path=path) == 2
    assert Registry(rclient).get(path).state == "indexed"


def test_dead_consumers_entries_are_reclaimed(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    path = f"{uuid.uuid4().hex}.txt"
    register(rclient, path, revision=1, articles=1)
    push(rclient, stream, upsert(article(path)))
    dead = StreamConsumer(rclient, "dead-consumer", stream=stream)
    dead.ensure_group()
    assert len(dead.read(10, 0.2)) == 1  # read, never acked: the process "died"

    alive = make_indexer(es, rclient, settings, stream)
    reclaimed = alive.consumer.reclaim(0, 10)  # min idle 0 here; the service uses 60 s
    assert len(reclaimed) == 1
    assert alive.handle(reclaimed)
    assert dead.pending_ids() == [] and alive.consumer.pending_ids() == []
    assert count(es, settings.index, source_path=path) == 1


def test_service_loop_beats_while_running_and_deletes_its_heartbeat_on_stop(es, rclient, settings, stream):
    indexer = make_indexer(es, rclient, settings, stream)
    thread = threading.Thread(target=indexer.run)
    thread.start()
    try:
        beat = wait_until(
            lambda: [b for b in read_heartbeats(rclient, "indexer") if b.state == "running"],
            timeout=60,
            what="the indexer's heartbeat",
        )[0]
        assert isinstance(beat.details, IndexerDetails)
        assert beat.details.consumer == "test-consumer"
    finally:
        indexer.request_stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert rclient.get(beat.key) is None  # a stopped indexer does not look alive


def test_documents_written_are_counted_per_minute_for_the_rate(es, rclient, settings, stream):
    from shared.throughput import read_throughput

    indexer = make_indexer(es, rclient, settings, stream)
    before = sum(m.indexed for m in read_throughput(rclient, backlog=0).minutes)
    register(rclient, "rate/a.txt", 1, 1)
    register(rclient, "rate/b.txt", 1, 1)
    for path in ("rate/a.txt", "rate/b.txt"):
        push(
            rclient,
            stream,
            IndexRequest(action="upsert", source_path=path, revision=1, document=article(path)),
        )
    assert indexer.handle(indexer.consumer.read(10, 1.0))
    after = read_throughput(rclient, backlog=4)
    assert sum(m.indexed for m in after.minutes) - before == 2
    assert after.rate_per_minute > 0 and after.eta_seconds is not None and after.eta_seconds > 0


def test_versions_of_one_story_share_its_id_and_a_deleted_file_leaves_it(es, rclient, settings, stream):
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    wire = (
        "The harbour of Hamburg reopened on Monday after a week of strikes by dock workers, the port "
        "authority said, and the first container ships were unloaded in the afternoon while unions "
        "said talks over pay would continue next week."
    )
    paths = [f"{uuid.uuid4().hex}.txt" for _ in range(3)]
    bodies = [
        f"HAMBURG (Reuters) - {wire}",
        wire + " Follow us for more news.",
        "A different story: " + wire[::-1],
    ]
    docs = []
    for path, body in zip(paths, bodies, strict=True):
        register(rclient, path, revision=1, articles=1)
        doc = article(path)
        docs.append(doc.model_copy(update={"body": body}))
        push(rclient, stream, upsert(docs[-1]))
    assert drain(indexer)
    stored = [es.get(index=settings.index, id=doc.id)["_source"] for doc in docs]
    assert stored[0]["story_id"] == stored[1]["story_id"] != stored[2]["story_id"]
    assert stored[0]["carried_from"] == ["Reuters"] and stored[1]["carried_from"] == []
    assert [s["story_joined"] for s in stored] == [False, True, False]
    assert count(es, settings.index, story_id=stored[0]["story_id"]) == 2

    push(rclient, stream, IndexRequest(action="delete", source_path=paths[0], revision=1))
    assert drain(indexer)
    assert indexer.stories.story_of(docs[0].id) is None
    assert indexer.stories.story_of(docs[1].id) == stored[0]["story_id"]


def test_articles_trickling_in_within_the_flush_window_make_one_batch(rclient, stream):
    """A partial batch waits DATELINE_INDEX_FLUSH_SECONDS from its first entry for more (one
    bulk request for several articles); a full one holds no more than asked."""
    consumer = StreamConsumer(rclient, "test-consumer", stream=stream, dead_letter_stream=stream + ":dead")
    consumer.ensure_group()
    first = upsert(article("trickle/0.txt"))
    push(rclient, stream, first)
    later = threading.Event()

    def trickle() -> None:
        for i in (1, 2):
            if later.wait(0.15):
                return
            push(rclient, stream, upsert(article(f"trickle/{i}.txt")))

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        batch = consumer.read(10, 3.0)
    finally:
        later.set()
        sender.join()
    assert [decode_path(e) for e in batch] == ["trickle/0.txt", "trickle/1.txt", "trickle/2.txt"]
    push(rclient, stream, upsert(article("trickle/3.txt")))
    push(rclient, stream, upsert(article("trickle/4.txt")))
    assert [decode_path(e) for e in consumer.read(2, 3.0)] == ["trickle/3.txt", "trickle/4.txt"]
    assert consumer.read(10, 0.1) == []  # nothing left: the wait for a first entry ends


def decode_path(entry: Entry) -> str:
    return json.loads(entry.fields["request"])["source_path"]

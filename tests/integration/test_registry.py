"""The file registry and failure log on a real Redis."""

from __future__ import annotations

import threading

import pytest
import redis

from shared.registry import Failure, FileRecord, Registry, format_failure
from shared.status import collect_status


@pytest.fixture
def registry(redis_url):
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/15")
    client.flushdb()
    yield Registry(client)
    client.flushdb()


def test_records_move_between_state_sets(registry):
    registry.put(
        FileRecord(path="a.txt", size=3, mtime=1.0, sha256="x", state="queued", revision=1, articles=1)
    )
    registry.put(FileRecord(path="b.txt", state="failed", revision=1))
    assert registry.counts() == {"queued": 1, "indexed": 0, "failed": 1, "deleted": 0}
    record = registry.get("a.txt")
    assert record.sha256 == "x" and record.state == "queued"
    record.state = "failed"
    registry.put(record)
    assert registry.counts()["failed"] == 2 and registry.counts()["queued"] == 0
    registry.forget("a.txt")
    assert registry.get("a.txt") is None and registry.paths() == {"b.txt"}


def test_revisions_only_grow(registry):
    assert [registry.next_revision("a.txt") for _ in range(3)] == [1, 2, 3]
    registry.forget("a.txt")
    assert registry.next_revision("a.txt") == 4  # a re-created file never reuses a revision


def test_file_is_indexed_when_all_its_articles_are(registry):
    registry.put(FileRecord(path="feed.jsonl", state="queued", revision=2, articles=2))
    assert registry.mark_indexed("feed.jsonl", 2, "doc-a") is False
    assert registry.mark_indexed("feed.jsonl", 2, "doc-a") is False  # replays count once
    assert registry.mark_indexed("feed.jsonl", 1, "doc-old") is False  # stale revision ignored
    assert registry.mark_indexed("feed.jsonl", 2, "doc-b") is True
    assert registry.get("feed.jsonl").state == "indexed"


def test_failures_are_kept_per_file_and_line_and_cleared_together(registry):
    registry.record_failure(Failure(path="feed.jsonl", line=3, reason="line 3 is not JSON", stage="ingest"))
    registry.record_failure(Failure(path="feed.jsonl", line=7, reason="line 7 has no body", stage="ingest"))
    registry.record_failure(Failure(path="empty.txt", reason="file is empty", stage="ingest"))
    assert len(registry.failures()) == 3
    assert "feed.jsonl line 3: line 3 is not JSON [ingest" in format_failure(registry.failures()[0])
    registry.clear_failures("feed.jsonl")
    assert [f.path for f in registry.failures()] == ["empty.txt"]


def test_a_record_put_with_failures_replaces_its_files_failures_and_no_others(registry):
    registry.record_failure(Failure(path="feed.jsonl", line=3, reason="line 3 is not JSON", stage="ingest"))
    registry.record_failure(Failure(path="feed.jsonl.bak", reason="unsupported format", stage="ingest"))
    record = FileRecord(path="feed.jsonl", state="queued", revision=2, articles=4)
    registry.put(record, [Failure(path="feed.jsonl", line=9, reason="line 9 has no body", stage="ingest")])
    assert sorted(f.key for f in registry.failures()) == ["feed.jsonl.bak", "feed.jsonl:9"]
    registry.put(record)  # no verdict given: the failures stay
    assert len(registry.failures()) == 2
    registry.put(record, [])
    assert [f.key for f in registry.failures()] == ["feed.jsonl.bak"]


def test_a_failed_file_is_never_seen_without_its_reason(registry):
    """Ingest's verdict on a file (state and reasons) lands at once: a reader taking
    snapshots (MULTI/EXEC) while files fail again and again never sees one half of it."""
    from services.ingest.ledger import Ledger
    from services.ingest.readers import ReadIssue
    from shared.keys import FAILURES_KEY, FILE_KEY

    ledger, done, torn = Ledger(registry), threading.Event(), []

    def read() -> None:
        reader = redis.Redis(connection_pool=registry.redis.connection_pool)
        while not done.is_set():
            pipe = reader.pipeline(transaction=True)
            pipe.get(FILE_KEY + "bad.jsonl")
            pipe.hkeys(FAILURES_KEY)
            raw, keys = pipe.execute()
            if raw and FileRecord.model_validate_json(raw).state == "failed" and not keys:
                torn.append(raw)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(300):
            if i % 2:
                ledger.refused("bad.jsonl", "too large", size=i, mtime=float(i))
            else:
                ledger.bad_content(
                    "bad.jsonl", None, f"sha{i}", i, float(i), [ReadIssue(reason="not JSON", line=1)]
                )
    finally:
        done.set()
        thread.join()
    assert torn == []
    assert [f.key for f in registry.failures()] == ["bad.jsonl"]


def test_status_reads_back_files_queues_and_failures(registry):
    registry.put(FileRecord(path="a.txt", state="indexed", revision=1, articles=1))
    registry.record_failure(Failure(path="b.bin", reason="unsupported format .bin", stage="ingest"))
    registry.redis.rpush("dateline.entities", "{}", "{}")
    status = collect_status(registry.redis)
    assert status.files["indexed"] == 1
    assert {q.name: q.waiting for q in status.queues}["entities"] == 2
    assert status.queued == 2
    assert [f.path for f in status.failures] == ["b.bin"]
    assert status.workers == [] and status.model_problems == []


def _calls(client: redis.Redis, command: str) -> int:
    return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def test_marking_the_documents_of_a_large_file_reads_its_record_once(registry):
    # A file's record lists all its document ids; reading it for each document made a file
    # of n articles cost n^2 (issue 15). Counted in Redis commands, not seconds.
    n = 3000
    ids = [f"d{i}" for i in range(n)]
    registry.put(FileRecord(path="big.jsonl", state="queued", revision=4, articles=n, doc_ids=ids))
    registry.mark_indexed("big.jsonl", 3, "stale")  # an older revision's document counts for nothing
    before = {c: _calls(registry.redis, c) for c in ("watch", "smembers")}
    done = [registry.mark_indexed("big.jsonl", 4, doc_id) for doc_id in ids]
    assert done == [False] * (n - 1) + [True]
    # One transaction on the record (WATCH) and one look at the whole set, for the completing
    # document only: the n-1 others cost a small script each.
    assert _calls(registry.redis, "watch") - before["watch"] == 1
    assert _calls(registry.redis, "smembers") - before["smembers"] <= 2
    assert registry.get("big.jsonl").state == "indexed"
    assert registry.indexed_doc_ids("big.jsonl", 4) == set(ids)


def test_a_record_written_before_the_expect_key_is_still_marked(registry):
    registry.put(FileRecord(path="old.txt", state="queued", revision=1, articles=1, doc_ids=["a"]))
    registry.redis.delete("dateline:expect:old.txt")  # as an older version left it
    assert registry.mark_indexed("old.txt", 1, "a") is True
    assert registry.get("old.txt").state == "indexed"


def test_documents_of_a_deleted_file_are_not_marked(registry):
    registry.put(FileRecord(path="gone.txt", state="deleted", revision=2, articles=1, doc_ids=["a"]))
    assert registry.mark_indexed("gone.txt", 2, "a") is False
    assert registry.get("gone.txt").state == "deleted"


def test_a_batch_of_documents_is_noted_in_a_few_round_trips_and_settles_only_whole_files(registry):
    # The indexer notes a batch at once: one pipelined script per document, then one
    # transaction (one WATCH) for every file the batch completes, whatever their number.
    for i in range(20):
        registry.put(FileRecord(path=f"one-{i}.txt", revision=1, articles=1, doc_ids=[f"o{i}"]))
    registry.put(FileRecord(path="feed.jsonl", revision=3, articles=3, doc_ids=["f1", "f2", "f3"]))
    registry.put(FileRecord(path="gone.txt", state="deleted", revision=2, articles=1, doc_ids=["g"]))
    registry.put(FileRecord(path="moved.txt", revision=5, articles=1, doc_ids=["m"]))
    registry.put(FileRecord(path="old.txt", revision=1, articles=1, doc_ids=["a"]))
    registry.redis.delete("dateline:expect:old.txt")  # as an older version left it
    batch = [(f"one-{i}.txt", 1, f"o{i}") for i in range(20)]
    batch += [("feed.jsonl", 3, "f1"), ("feed.jsonl", 3, "f2"), ("feed.jsonl", 3, "f1")]  # a replay
    batch += [("gone.txt", 2, "g"), ("moved.txt", 4, "m"), ("old.txt", 1, "a")]
    before = {c: _calls(registry.redis, c) for c in ("watch", "evalsha", "get", "mget")}
    indexed = registry.mark_indexed_many(batch)
    assert indexed == {f"one-{i}.txt" for i in range(20)} | {"old.txt"}
    # One WATCH for the twenty files together, one for the record without an expect key.
    assert _calls(registry.redis, "watch") - before["watch"] == 2
    assert _calls(registry.redis, "evalsha") - before["evalsha"] == len(batch)
    assert _calls(registry.redis, "mget") - before["mget"] == 1
    assert registry.counts() == {"queued": 2, "indexed": 21, "failed": 0, "deleted": 1}
    assert registry.get("feed.jsonl").state == "queued"  # two of its three articles
    assert registry.get("moved.txt").state == "queued"  # the note was of an older revision
    assert registry.indexed_doc_ids("feed.jsonl", 3) == {"f1", "f2"}
    assert registry.mark_indexed_many([("feed.jsonl", 3, "f3")]) == {"feed.jsonl"}
    assert registry.get("feed.jsonl").state == "indexed"
    assert registry.mark_indexed_many([]) == set()


def test_a_file_that_moves_on_while_its_batch_settles_keeps_its_new_revision(registry):
    # The transaction re-reads the record under WATCH: a new revision written between the
    # note and the settling wins, and the retried transaction does not count the old file.
    registry.put(FileRecord(path="a.txt", revision=1, articles=1, doc_ids=["a"]))
    registry.put(FileRecord(path="b.txt", revision=1, articles=1, doc_ids=["b"]))
    real_transaction = registry.redis.transaction
    calls = 0

    def transaction_after_a_change(func, *watches, **kwargs):
        def changed_once(pipe):
            nonlocal calls
            calls += 1
            func(pipe)  # reads both records at revision 1 and queues both as indexed
            if calls == 1:  # ingest writes revision 2 of a.txt after the read, before EXEC
                Registry(registry.redis).put(FileRecord(path="a.txt", revision=2, articles=1))

        return real_transaction(changed_once, *watches, **kwargs)

    registry.redis.transaction = transaction_after_a_change
    try:
        indexed = registry.mark_indexed_many([("a.txt", 1, "a"), ("b.txt", 1, "b")])
    finally:
        del registry.redis.transaction
    assert calls == 2  # the first EXEC failed on the changed record and the batch was retried
    assert indexed == {"b.txt"}
    assert registry.get("a.txt").revision == 2 and registry.get("a.txt").state == "queued"
    assert registry.get("b.txt").state == "indexed"

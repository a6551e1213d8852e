"""Ingest against a real Redis: the registry, the failure log and real Celery messages.

No workers run here: the tests read the broker's queue (``dateline.language``) and the
indexer's stream directly, which is exactly what ingest promises to produce.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from services.ingest.backfill import ingest_paths
from services.ingest.processor import Ingestor
from services.ingest.watcher import Watcher
from shared.keys import INDEX_STREAM, STAGE_QUEUES
from shared.registry import Registry
from shared.schemas import IndexRequest, StageTask, document_id
from shared.settings import get_settings
from tests.support.paths import FIXTURES, SEEDS

LANGUAGE_QUEUE = STAGE_QUEUES["language"]
SEED_FILES = sorted(SEEDS.glob("*.txt"))


@pytest.fixture
def env(clean_settings: Callable[..., dict[str, str]]) -> Path:
    inbox = Path(clean_settings(STABLE_SECONDS="0", ON_DELETE="remove")["DATELINE_INBOX"])
    inbox.mkdir()
    return inbox


def ingestor() -> Ingestor:
    get_settings.cache_clear()
    return Ingestor.from_settings()


def client() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url)


def registry() -> Registry:
    return Registry(client())


def queued_tasks() -> list[StageTask]:
    """The stage tasks waiting on the broker's language queue (Celery protocol 2)."""
    tasks = []
    for raw in client().lrange(LANGUAGE_QUEUE, 0, -1):
        message = json.loads(raw)
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, _kwargs, _embed = json.loads(body)
        tasks.append(StageTask.from_wire(args[0]))
    # LPUSH puts the newest first: oldest first reads more naturally.
    return list(reversed(tasks))


def index_requests() -> list[IndexRequest]:
    return [
        IndexRequest.model_validate_json(fields[b"request"]) for _id, fields in client().xrange(INDEX_STREAM)
    ]


def test_seeds_are_queued_once_and_skipped_after_restart(env: Path) -> None:
    (env / "Reuters").mkdir()
    for seed in SEED_FILES:
        shutil.copy(seed, env / "Reuters" / seed.name)
    before = {p.name: p.read_bytes() for p in (env / "Reuters").iterdir()}

    summary = ingest_paths([env], ingestor=ingestor())
    assert (summary.queued, summary.skipped, summary.failed) == (5, 0, [])
    tasks = queued_tasks()
    assert len(tasks) == 5
    for task in tasks:
        doc = task.document
        assert task.stages == ["language", "summary", "entities"]
        assert doc.source_path.startswith("Reuters/")
        assert doc.id == document_id(doc.source_path, 0)
        assert doc.source == "Reuters"  # the folder under the inbox
        assert doc.revision == 1 and doc.format == "text"
        record = registry().get(doc.source_path)
        assert record is not None
        assert (record.state, record.articles, record.doc_ids) == ("queued", 1, [doc.id])
    by_path = {t.document.source_path: t.document for t in tasks}
    seed3 = by_path[f"Reuters/{SEED_FILES[3].name}"]
    assert seed3.dateline == "Islamabad" and seed3.published_at is not None

    # A new process (a restart) finds everything unchanged: nothing more is queued.
    again = ingest_paths([env], ingestor=ingestor())
    assert (again.queued, again.skipped) == (0, 5)
    assert len(queued_tasks()) == 5
    # The inbox is never touched.
    assert {p.name: p.read_bytes() for p in (env / "Reuters").iterdir()} == before


def test_changed_file_gets_new_revision_and_dropped_records_are_deleted(env: Path) -> None:
    feed = env / "feed.jsonl"
    lines = [json.dumps({"title": f"T{i}", "body": f"Story number {i}."}) for i in range(3)]
    feed.write_text("\n".join(lines) + "\n")
    ing = ingestor()
    assert ing.process(feed).status == "queued"
    first = registry().get("feed.jsonl")
    assert first is not None and first.articles == 3
    registry().mark_indexed("feed.jsonl", first.revision, first.doc_ids[0])

    feed.write_text(lines[0] + "\n")  # two articles removed from the file
    outcome = ing.process(feed)
    assert (outcome.status, outcome.articles) == ("queued", 1)
    second = registry().get("feed.jsonl")
    assert second is not None
    assert second.revision > first.revision
    assert second.doc_ids == [document_id("feed.jsonl", 0)]
    assert not client().exists("dateline:indexed:feed.jsonl")  # reset for the new revision
    (delete,) = index_requests()
    assert delete.action == "delete" and delete.revision == second.revision
    assert delete.doc_ids == [document_id("feed.jsonl", 1), document_id("feed.jsonl", 2)]
    assert [t.document.revision for t in queued_tasks()] == [1, 1, 1, second.revision]


def test_bad_content_is_recorded_once_and_retried_when_fixed(env: Path) -> None:
    bad = env / "broken.json"
    bad.write_text('{"title": "no body here"}')
    ing = ingestor()
    outcome = ing.process(bad)
    assert outcome.status == "failed"
    record = registry().get("broken.json")
    assert record is not None and record.state == "failed" and record.sha256
    (failure,) = registry().failures()
    assert failure.path == "broken.json" and failure.stage == "ingest"
    assert "missing the article body" in failure.reason and "articleBody" in failure.reason

    # Same bad content: not retried, not re-reported, nothing queued.
    assert ing.process(bad).status == "skipped"
    assert ingestor().process(bad).status == "skipped"
    assert queued_tasks() == []

    bad.write_text('{"title": "fixed", "body": "Now it has a body."}')
    assert ing.process(bad).status == "queued"
    assert registry().failures() == []
    assert registry().get("broken.json").state == "queued"  # type: ignore[union-attr]
    assert bad.exists()  # a failed file is left where it is


def test_jsonl_bad_lines_are_failures_with_line_numbers(env: Path) -> None:
    shutil.copy(FIXTURES / "ingest" / "articles.jsonl", env / "articles.jsonl")
    outcome = ingestor().process(env / "articles.jsonl")
    assert (outcome.status, outcome.articles) == ("queued", 2)
    failures = registry().failures()
    assert sorted(f.line for f in failures) == [3, 4, 5]  # type: ignore[type-var]
    assert {f.key for f in failures} == {"articles.jsonl:3", "articles.jsonl:4", "articles.jsonl:5"}
    assert [t.document.record for t in queued_tasks()] == [0, 4]
    assert registry().get("articles.jsonl").articles == 2  # type: ignore[union-attr]


def test_empty_unsupported_symlinked_and_ignored_files(env: Path, tmp_path: Path) -> None:
    (env / "empty.txt").write_text("  \n\n")
    (env / "scan.pdf").write_bytes(b"%PDF-1.4\n")
    (env / "picture.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    outside = tmp_path / "outside.txt"
    outside.write_text("Secret title\n\nA secret story.")
    os.symlink(outside, env / "link.txt")
    (env / "draft.txt.part").write_text("Title\n\nHalf a story")
    (env / ".notes.txt").write_text("Title\n\nHidden story.")

    summary = ingest_paths([env], ingestor=ingestor())
    reasons = {f.path: f.reason for f in summary.failed}
    assert reasons["empty.txt"] == (  # "  \n\n" is blank, not empty: the reason says so
        "the file is blank: it holds only spaces or empty lines; add the article text or remove the file"
    )
    assert "'.pdf'" in reasons["scan.pdf"] and ".txt" in reasons["scan.pdf"]
    assert "binary" in reasons["picture.txt"]
    assert "symlink points outside the inbox" in reasons["link.txt"]
    assert set(reasons) == {"empty.txt", "scan.pdf", "picture.txt", "link.txt"}
    assert summary.queued == 0 and queued_tasks() == []
    assert {f.path for f in registry().failures()} == set(reasons)
    assert registry().get("draft.txt.part") is None and registry().get(".notes.txt") is None


def test_too_large_file(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATELINE_MAX_FILE_MB", "0.001")
    (env / "big.txt").write_text("Title\n\n" + "A long story. " * 200)
    outcome = ingestor().process(env / "big.txt")
    assert outcome.status == "failed"
    assert "too large" in outcome.failures[0].reason
    assert "DATELINE_MAX_FILE_MB" in outcome.failures[0].reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(env: Path) -> None:
    path = env / "locked.txt"
    path.write_text("Title\n\nStory.")
    path.chmod(0)
    try:
        outcome = ingestor().process(path)
    finally:
        path.chmod(0o644)
    assert outcome.status == "failed" and "permission denied" in outcome.failures[0].reason
    assert ingestor().process(path).status == "queued"  # retried, since chmod keeps mtime


def test_deleted_file_removes_documents(env: Path) -> None:
    path = env / "a.txt"
    shutil.copy(SEED_FILES[4], path)
    ing = ingestor()
    ing.process(path)
    path.unlink()
    assert ing.process(path).status == "deleted"
    (request,) = index_requests()
    assert (request.action, request.source_path, request.doc_ids) == ("delete", "a.txt", None)
    assert registry().get("a.txt") is None and "a.txt" not in registry().paths()


def test_deleted_file_keeps_documents_when_configured(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATELINE_ON_DELETE", "keep")
    path = env / "a.txt"
    shutil.copy(SEED_FILES[4], path)
    ing = ingestor()
    ing.process(path)
    path.unlink()
    assert ing.handle_deleted("a.txt").status == "deleted"
    assert index_requests() == []
    assert registry().get("a.txt") is None


def _drain(watcher: Watcher) -> None:
    """Rescan, then process stable files until nothing is pending (stable_seconds is 0 here)."""
    watcher.rescan()
    for _ in range(5):
        watcher.process_stable()


def test_rename_found_by_rescan_leaves_one_document(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATELINE_ON_DELETE", "keep")  # a rename removes the old name anyway
    shutil.copy(SEED_FILES[0], env / "old.txt")
    watcher = Watcher(ingestor())
    _drain(watcher)
    assert registry().get("old.txt") is not None

    (env / "old.txt").rename(env / "new.txt")
    _drain(watcher)
    assert registry().paths() == {"new.txt"}
    (request,) = index_requests()
    assert (request.action, request.source_path) == ("delete", "old.txt")
    assert [t.document.source_path for t in queued_tasks()] == ["old.txt", "new.txt"]


def test_moved_event_renames(env: Path) -> None:
    shutil.copy(SEED_FILES[1], env / "a.txt")
    watcher = Watcher(ingestor())
    _drain(watcher)
    (env / "a.txt").rename(env / "b.txt")
    watcher.moved(env / "a.txt", env / "b.txt")
    for _ in range(3):
        watcher.process_stable()
    assert registry().paths() == {"b.txt"}
    assert [r.source_path for r in index_requests()] == ["a.txt"]


def test_exact_duplicates_each_keep_their_document(env: Path) -> None:
    shutil.copy(SEED_FILES[2], env / "one.txt")
    shutil.copy(SEED_FILES[2], env / "two.txt")
    _drain(Watcher(ingestor()))
    docs = [t.document for t in queued_tasks()]
    assert sorted(d.source_path for d in docs) == ["one.txt", "two.txt"]
    assert docs[0].content_sha256 == docs[1].content_sha256
    assert docs[0].id != docs[1].id
    assert index_requests() == []


def test_backfill_outside_the_inbox(env: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "Dawn").mkdir(parents=True)
    shutil.copy(SEED_FILES[1], archive / "Dawn" / "x.txt")
    shutil.copy(FIXTURES / "ingest" / "single.json", archive / "single.json")
    summary = ingest_paths([archive], ingestor=ingestor())
    assert summary.queued == 2
    docs = {Path(t.document.source_path).name: t.document for t in queued_tasks()}
    assert docs["x.txt"].source_path == (archive / "Dawn" / "x.txt").resolve().as_posix()
    assert docs["x.txt"].source == "Dawn"
    assert docs["single.json"].source == "The Balochistan Post"  # the file's own metadata
    assert docs["single.json"].language_hint == "en"


def test_missing_path_is_reported(env: Path) -> None:
    summary = ingest_paths([env / "nope"], ingestor=ingestor())
    (failure,) = summary.failed
    assert "no such file or folder" in failure.reason

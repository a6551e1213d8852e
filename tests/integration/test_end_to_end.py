"""The whole pipeline on real parts: files dropped into a watched inbox come out enriched
in Elasticsearch, through real Celery worker processes, a real flair model and the indexer."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from segtok.segmenter import split_single

from tests.support.paths import REPO_DIR, SEEDS
from tests.support.processes import wait_until

SEED_FILES = sorted(SEEDS.glob("*.txt"))


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _loads_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


def _cli(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=REPO_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def running(make_stack):
    stack = make_stack()
    processes = [*stack.start_workers(), stack.start_indexer(), stack.start_ingest()]
    return stack, processes


def test_dropped_seed_articles_become_searchable_and_enriched(running, ner_model_path):
    stack, processes = running
    for seed in SEED_FILES:
        shutil.copy(seed, stack.inbox / seed.name)
    before = {p.name: _sha(p) for p in stack.inbox.iterdir()}

    wait_until(
        lambda: stack.count() == len(SEED_FILES),
        timeout=600,
        what="all sample articles indexed",
        processes=processes,
    )
    documents = stack.documents()
    assert len(documents) == len(SEED_FILES)

    people = set()
    salience: dict[str, int] = {}
    for doc in documents:
        assert doc["language"] == "en", doc["source_path"]
        assert doc["title"] and doc["body"]
        # The summary is made of whole sentences of the article.
        summary_sentences = [s for s in split_single(doc["summary"]) if s.strip()]
        assert 1 <= len(summary_sentences)
        for sentence in summary_sentences:
            assert sentence in doc["body"], sentence
        for stage in ("language", "entities", "summary"):
            record = doc["provenance"][stage]
            assert record["status"] == "ok", (stage, record)
            assert record["model"] and record["version"]
            assert record["seconds"] >= 0
        assert doc["provenance"]["entities"]["model"].endswith(".pt")
        assert doc["content_sha256"] and doc["source_path"] and doc["ingested_at"] and doc["enriched_at"]
        for mention in doc["mentions"]:
            assert doc["body"][mention["start"] : mention["end"]] == mention["text"]
        people.update(doc["entities"]["person"])
        for entity in doc["entity_list"]:
            if entity["type"] == "person":
                salience[entity["name"]] = salience.get(entity["name"], 0) + entity["count"]
    # Entities come from the tiny flair model trained on tests/fixtures/ner.
    assert "Zalmay Khalilzad" in people
    # His mentions ("Ambassador Khalilzad", "Khalilzad", ...) fold into one canonical entity.
    assert salience["Zalmay Khalilzad"] >= 3
    assert not {"Khalilzad", "Ambassador Khalilzad"} & people

    # Files stay where they were dropped, unchanged.
    assert {p.name: _sha(p) for p in stack.inbox.iterdir()} == before

    # The terminal search finds them, with facets.
    result = _cli(stack, "search", "--json", "Taliban")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["total"] == len(SEED_FILES)
    assert body["facets"]["language"] == {"en": len(SEED_FILES)}
    hit = body["hits"][0]
    for field in ("id", "title", "body", "summary", "language", "entities", "provenance", "source_path"):
        assert field in hit

    # Canonical entities are facets and filters: one Zalmay Khalilzad, in one article.
    result = _cli(stack, "search", "--json", "--entity", "person=Zalmay Khalilzad")
    body = json.loads(result.stdout)
    assert body["total"] == 1
    assert body["facets"]["entities.person"]["Zalmay Khalilzad"] == 1
    assert "Khalilzad" in body["hits"][0]["body"]

    # Models are loaded once per pool process, after the fork, never in the parent.
    workers = [p for p in processes if p.name.startswith("worker")]
    assert workers
    for worker in workers:
        children = Path(f"/proc/{worker.process.pid}/task/{worker.process.pid}/children").read_text().split()
        assert children, f"{worker.name} has no pool process"
        assert not _loads_torch(worker.process.pid), f"{worker.name}'s parent process loaded torch"
        assert all(_loads_torch(int(child)) for child in children)

    # Status shows every file indexed and nothing failed.
    status = json.loads(_cli(stack, "status", "--json").stdout)
    assert status["files"]["indexed"] == len(SEED_FILES)
    assert status["failures"] == []
    assert {w["pid"] for w in status["workers"]}, "workers announce themselves"


def test_missing_ner_model_is_reported_and_articles_still_indexed(make_stack):
    stack = make_stack(ner_model=str(REPO_DIR / ".dateline" / "no-such-model.pt"))
    processes = [*stack.start_workers(), stack.start_indexer(), stack.start_ingest()]
    shutil.copy(SEED_FILES[2], stack.inbox / SEED_FILES[2].name)

    wait_until(stack.count, timeout=600, what="the article indexed without entities", processes=processes)
    (doc,) = stack.documents()
    entities = doc["provenance"]["entities"]
    assert entities["status"] == "failed"
    assert "no-such-model.pt" in entities["error"]
    assert "DATELINE_NER_MODEL" in entities["error"]
    assert doc["entities"]["person"] == [] and doc["summary"] and doc["language"] == "en"
    assert all(p.running for p in processes), "workers keep running without a model"

    status = json.loads(_cli(stack, "status", "--json").stdout)
    assert any("no-such-model.pt" in problem for problem in status["model_problems"])
    readable = _cli(stack, "status").stdout
    assert "model missing" in readable and "no-such-model.pt" in readable


def test_reprocess_fills_in_entities_once_the_model_is_installed(make_stack, ner_model_path):
    missing = str(REPO_DIR / ".dateline" / "no-such-model.pt")
    stack = make_stack(ner_model=missing)
    workers = stack.start_workers()
    processes = [*workers, stack.start_indexer(), stack.start_ingest()]
    for seed in SEED_FILES[:2]:
        shutil.copy(seed, stack.inbox / seed.name)
    wait_until(lambda: stack.count() == 2, timeout=600, what="two articles indexed", processes=processes)
    assert all(d["provenance"]["entities"]["status"] == "failed" for d in stack.documents())

    # The model is installed: restart the NER worker with it and reprocess what failed.
    for worker in workers:
        worker.stop()
    stack.env["DATELINE_NER_MODEL"] = str(ner_model_path)
    processes = [*stack.start_workers(), *processes[len(workers) :]]
    result = _cli(stack, "reprocess", "--stage", "entities", "--failed-only")
    assert result.returncode == 0, result.stderr
    assert "Queued 2" in result.stdout

    def entities_filled() -> bool:
        docs = stack.documents()
        return all(d["provenance"]["entities"]["status"] == "ok" for d in docs) and len(docs) == 2

    wait_until(entities_filled, timeout=600, what="entities filled in by reprocess", processes=processes)
    assert stack.count() == 2, "reprocessing overwrites, never duplicates"
    assert any(d["entities"]["person"] or d["entities"]["organization"] for d in stack.documents())

"""The status views tell the truth, against real Redis and Elasticsearch: `dateline status`
(text and --json), the API's /status and /health agree with each other and with what
happened - counts with lists, partly failed files, documents a stage failed on, starting
workers, missing services, rate and ETA."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.ingest.processor import Ingestor
from shared.celery_app import make_app
from shared.heartbeat import HeartbeatWriter, StageState, WorkerDetails
from shared.registry import FileRecord, Registry
from shared.schemas import ArticleDocument, Provenance, StageRecord, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.throughput import read_throughput, record_indexed
from tests.support.indices import drop_dateline_index
from tests.support.paths import REPO_DIR, SEEDS

DB = 13  # a Redis database of this module's own


@dataclass
class Env:
    settings: Settings
    client: redis.Redis
    es: Elasticsearch
    inbox: Path

    @property
    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATELINE_REDIS_URL": self.settings.redis_url,
            "DATELINE_ELASTICSEARCH_URL": self.settings.elasticsearch_url,
            "DATELINE_INDEX": self.settings.index,
            "DATELINE_INBOX": str(self.inbox),
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            cwd=REPO_DIR,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def status_json(self) -> dict:
        result = self.cli("status", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def env(redis_url: str, es_url: str, tmp_path: Path) -> Iterator[Env]:
    url = redis_url.rsplit("/", 1)[0] + f"/{DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    alias = f"test-{uuid.uuid4().hex[:10]}"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = Settings(redis_url=url, elasticsearch_url=es_url, index=alias, inbox=inbox, stable_seconds=0)
    es = make_client(es_url)
    ensure_index(es, alias, settings)
    yield Env(settings, client, es, inbox)
    client.flushdb()
    drop_dateline_index(es, alias)


def _index(env: Env, document: ArticleDocument) -> None:
    env.es.index(
        index=env.settings.index, id=document.id, document=document.model_dump(mode="json"), refresh=True
    )


def _ingest_like_a_user(env: Env) -> dict[str, str]:
    """A good article, a feed with one bad line, a cut-off JSON file, all through real ingest;
    the indexer's registry updates for what was queued; and a file marked failed whose
    reason could not be recorded (Redis refused its articles)."""
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], env.inbox / "good.txt")
    (env.inbox / "feed.jsonl").write_text(
        '{"title": "Port reopens", "body": "The port of Karachi reopened on Monday, officials said."}\n'
        '{"title": "Broken\n'
        '{"title": "Rail line", "body": "The Lahore rail line was upgraded on Tuesday, officials said."}\n'
    )
    (env.inbox / "cut.json").write_text('{"title": "Budget", "body": "The bud')
    # The real Celery app on this module's Redis database: no worker takes the tasks here.
    ingestor = Ingestor(Registry(env.client), make_app(env.settings), env.settings)
    for name in ("good.txt", "feed.jsonl", "cut.json"):
        ingestor.process(env.inbox / name)
    registry = Registry(env.client)
    for path in ("good.txt", "feed.jsonl"):
        record = registry.get(path)
        assert record is not None and record.state == "queued"
        for doc_id in record.doc_ids:
            registry.mark_indexed(path, record.revision, doc_id)
    registry.put(FileRecord(path="lost.txt", state="failed", revision=3))
    return {"partly": "feed.jsonl", "failed": "cut.json", "silent": "lost.txt"}


def test_counts_agree_with_lists_and_a_partly_failed_file_is_indexed_and_listed(env):
    names = _ingest_like_a_user(env)
    status = env.status_json()

    assert status["files"]["indexed"] == 2  # good.txt and the feed, whose good lines are indexed
    problems = {p["path"]: p for p in status["problems"]}
    failed = [p for p in status["problems"] if p["state"] == "failed"]
    assert status["files"]["failed"] == len(failed) == 2
    assert {p["path"] for p in failed} == {names["failed"], names["silent"]}
    # The feed counts as indexed and is listed with its bad line.
    partly = problems[names["partly"]]
    assert partly["state"] == "indexed" and [f["line"] for f in partly["failures"]] == [2]
    # A failed file with no recorded reason still has one, in words.
    (silent,) = problems[names["silent"]]["failures"]
    assert "could not be queued" in silent["reason"]
    assert all(p["fix"] for p in status["problems"])

    text = env.cli("status").stdout
    assert "indexed 2 (1 with failed parts" in text and "failed 2" in text
    assert "Files that failed (2)" in text and "Files with failed parts (1)" in text
    assert "feed.jsonl line 2" in text and "lost.txt" in text


def test_documents_whose_stage_failed_are_listed_with_the_reason(env):
    failed = ArticleDocument(
        id=document_id("x/failed.txt"),
        source_path="x/failed.txt",
        format="text",
        title="Flood warning",
        body="Rivers rose.",
        content_sha256="f1",
        language="en",
        provenance=Provenance(
            language=StageRecord(status="ok"),
            entities=StageRecord(
                status="failed",
                model="models/gone.pt",
                error="FileNotFoundError: models/gone.pt does not exist",
            ),
        ),
    )
    skipped = ArticleDocument(
        id=document_id("x/urdu.txt"),
        source_path="x/urdu.txt",
        format="text",
        title="Urdu",
        body="...",
        content_sha256="f2",
        language="ur",
        provenance=Provenance(
            entities=StageRecord(
                status="skipped", code="no_model_for_language", error="no NER model covers language 'ur'"
            )
        ),
    )
    _index(env, failed)
    _index(env, skipped)

    status = env.status_json()
    outcomes = status["index"]["outcomes"]
    assert outcomes["documents"] == 2 and outcomes["failed_documents"] == 1
    (doc,) = outcomes["failed"]
    assert (doc["source_path"], doc["stage"]) == ("x/failed.txt", "entities")
    assert "does not exist" in doc["error"] and "--failed-only" in doc["fix"]
    assert outcomes["skipped"] == [
        {
            "stage": "entities",
            "code": "no_model_for_language",
            "reason": "no NER model covers language 'ur'",
            "documents": 1,
        }
    ]
    text = env.cli("status").stdout
    assert "Documents a stage failed on (1)" in text
    assert "x/failed.txt: entities failed: FileNotFoundError" in text
    assert (
        "entities skipped on 1 document(s) (no_model_for_language), e.g.: no NER model covers language 'ur'"
        in " ".join(text.split())
    )  # the console wraps long lines


def _process(writer: HeartbeatWriter, pid: int) -> HeartbeatWriter:
    """A heartbeat as another process on this host writes it (one key per process)."""
    writer.beat_model.pid = pid
    return writer.start()


def test_health_status_and_cli_share_one_state(env):
    client = env.client
    writers = [
        _process(HeartbeatWriter(lambda: client, service, 60), 1000 + i)
        for i, service in enumerate(("ingest", "reconciler", "indexer", "api", "delivery"))
    ]
    light = _process(
        HeartbeatWriter(lambda: client, "worker", 60, lambda: WorkerDetails(queues=["language", "summary"])),
        2000,
    )
    ner_stage = StageState(model="m.pt", loaded=False)
    ner = _process(
        HeartbeatWriter(
            lambda: client,
            "worker",
            60,
            lambda: WorkerDetails(queues=["entities"], stages={"entities": ner_stage}),
            state="starting",
        ),
        2001,
    )
    api = TestClient(create_app(env.settings), base_url="http://127.0.0.1")
    try:
        health = api.get("/health")
        assert health.status_code == 200  # searches are answered while a worker starts
        body = health.json()
        assert body["state"] == "degraded" and body["ok"] is False
        assert any("entities stage's workers are still starting" in r for r in body["reasons"])
        assert {p["name"]: p["presence"] for p in body["parts"]}["entities"] == "starting"
        assert env.status_json()["reasons"] == body["reasons"] == api.get("/status").json()["reasons"]
        text = env.cli("status").stdout
        assert "Dateline: degraded" in text and "starting" in text and "No workers are running" not in text

        ner.set_state("running")
        assert api.get("/health").json()["state"] == "ok", api.get("/health").json()["reasons"]
        assert env.status_json()["state"] == "ok"

        # A stage running without its model: degraded, with the reason, everywhere.
        ner_stage.error = "FileNotFoundError: m.pt does not exist"
        ner.beat()
        body = api.get("/health").json()
        assert api.get("/health").status_code == 200 and body["state"] == "degraded"
        (reason,) = body["reasons"]
        assert (
            "entities stage on" in reason
            and "runs without its model" in reason
            and "m.pt does not exist" in reason
        )
        assert env.status_json()["reasons"] == [reason]
        assert "runs without its model" in env.cli("status").stdout
        ner_stage.loaded, ner_stage.error = True, None
        ner.beat()
        assert api.get("/health").json()["state"] == "ok"

        # A service whose heartbeat is gone makes every view degraded, with the reason.
        writers[0].stop()
        body = api.get("/health").json()
        assert body["state"] == "degraded"
        assert any("No ingest process has a live heartbeat" in r for r in body["reasons"])
        assert env.status_json()["state"] == "degraded"
        assert "No ingest process has a live heartbeat" in env.cli("status").stdout
    finally:
        for writer in [*writers, light, ner]:
            writer.stop()


def test_redis_away_is_down_in_every_view(env):
    closed = "redis://127.0.0.1:1/0"
    broken = env.settings.model_copy(update={"redis_url": closed})
    health = TestClient(create_app(broken), base_url="http://127.0.0.1").get("/health")
    assert health.status_code == 503 and health.json()["state"] == "down"
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "status", "--json"],
        cwd=REPO_DIR,
        env={**env.environ, "DATELINE_REDIS_URL": closed},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert json.loads(result.stdout)["state"] == "down"


def test_rate_and_eta_come_from_per_minute_counters(env):
    now = time.time()
    for minutes_ago, count in ((0, 6), (1, 12), (2, 12), (40, 500)):  # 40 min ago: outside the window
        record_indexed(env.client, count, now=now - minutes_ago * 60)
    found = read_throughput(env.client, backlog=60, now=now)
    assert found.minutes[-1].indexed == 6 and found.minutes[-2].indexed == 12
    assert sum(m.indexed for m in found.minutes) == 30
    assert 0 < found.rate_per_minute <= 30
    assert found.eta_seconds == pytest.approx(60 / found.rate_per_minute * 60, rel=0.01)
    assert read_throughput(env.client, backlog=0, now=now).eta_seconds == 0
    assert read_throughput(env.client, backlog=5, now=now + 3600).eta_seconds is None  # nothing moved lately


def test_every_service_deletes_its_heartbeat_on_a_clean_stop(make_stack):
    from services.stack.health import process_tree
    from shared.heartbeat import read_heartbeats
    from tests.support.demo import start_api
    from tests.support.processes import wait_until

    # Beats every 60 s live 180 s: a heartbeat gone within the wait below was deleted, not expired.
    stack = make_stack(extra_env={"DATELINE_HEARTBEAT_SECONDS": "60"})
    processes = [*stack.start_workers(), stack.start_indexer(), stack.start_ingest()]
    api, _ = start_api(stack)
    processes.append(api)

    def services() -> set[str]:
        beats = read_heartbeats(stack.redis)
        return {b.service for b in beats} | {f"worker:{q}" for b in beats for q in b.worker_details.queues}

    expected = {
        "ingest",
        "reconciler",
        "indexer",
        "api",
        "worker",
        "worker:language",
        "worker:summary",
        "worker:entities",
    }
    wait_until(lambda: services() >= expected, timeout=600, what="every heartbeat", processes=processes)
    for process in processes:
        family = process_tree(process.process.pid)  # Celery's pool processes beat for a worker
        assert any(b.pid in family for b in read_heartbeats(stack.redis)), process.name
        process.stop()
        left = [b.label for b in read_heartbeats(stack.redis) if b.pid in family]
        assert not left, f"{process.name} left its heartbeat after a clean stop: {left}"
    assert read_heartbeats(stack.redis) == []

"""The HTTP API against real Elasticsearch and Redis, through FastAPI's TestClient."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import redis
from fastapi.testclient import TestClient

from services.api.app import create_app
from shared.heartbeat import HeartbeatWriter, WorkerDetails
from shared.schemas import ArticleDocument, Entities, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from tests.support.indices import drop_dateline_index


@pytest.fixture
def settings(es_url: str, redis_url: str) -> Iterator[Settings]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    cfg = Settings(elasticsearch_url=es_url, redis_url=redis_url, index=name)
    es = make_client(es_url)
    ensure_index(es, name, cfg)
    for i, sha in enumerate(["dup", "dup", "solo"]):
        doc = ArticleDocument(
            id=document_id(f"api/{i}.txt"),
            source_path=f"api/{i}.txt",
            format="text",
            title=f"Flood warning {i}",
            body="Rivers rose across the Rhine valley.",
            content_sha256=sha,
            source="Wire",
            language="en",
            published_at=datetime(2024, 6, 1, tzinfo=timezone.utc),
            entities=Entities(location=["Rhine"]),
        )
        es.index(index=name, id=doc.id, document=doc.model_dump(mode="json"))
    es.indices.refresh(index=name)
    yield cfg
    drop_dateline_index(es, name)


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


def test_search_collapses_and_filters(client):
    body = client.get("/search", params={"q": "flood", "entity": "location=Rhine"}).json()
    assert body["total"] == 2 and len(body["hits"]) == 2
    assert body["facets"]["entities.location"] == {"Rhine": 2}  # identical articles count once, as in hits
    every = client.get("/search", params={"q": "flood", "collapse": "false", "size": 2, "page": 2}).json()
    assert every["total"] == 3 and len(every["hits"]) == 1 and every["page"] == 2
    assert every["facets"]["entities.location"] == {"Rhine": 3}
    langs = client.get("/search", params=[("lang", "de"), ("lang", "fr")]).json()
    assert langs["total"] == 0


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"entity": "planet=Mars"}, "not one of"),
        ({"since": "soon"}, "not understood"),
        ({"size": 500}, "less than or equal"),
        ({"page": 0}, "greater than or equal"),
        ({"page": 5000, "size": 10}, "narrow the search"),
    ],
)
def test_bad_search_input_is_a_clean_422(client, params, fragment):
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert fragment in json.dumps(response.json())


def test_article_by_id(client):
    found = client.get(f"/articles/{document_id('api/2.txt')}")
    assert found.status_code == 200
    assert found.json()["title"] == "Flood warning 2" and found.json()["indexed_at"] is None
    assert client.get(f"/articles/{'a' * 32}").status_code == 404
    for bad in ("../../etc", "A" * 32, "abc", "_all"):
        assert client.get(f"/articles/{bad}").status_code in (404, 422), bad


def test_health_reports_each_part(client, settings, redis_url):
    r = redis.Redis.from_url(redis_url)
    worker = HeartbeatWriter(lambda: r, "worker", 10.0, lambda: WorkerDetails(queues=["entities"])).start()
    try:
        response = client.get("/health")
        body = response.json()
        assert response.status_code == 200, body
        assert body["redis"]["ok"] and body["elasticsearch"]["ok"]
        assert body["elasticsearch"]["index"] == settings.index
        assert any(
            w["pid"] == os.getpid() and w["details"]["queues"] == ["entities"]
            for w in body["workers"]["workers"]
        )
    finally:
        worker.stop()


def test_health_is_503_when_elasticsearch_is_down(settings, redis_url):
    broken = settings.model_copy(update={"elasticsearch_url": "http://127.0.0.1:1"})
    response = TestClient(create_app(broken), base_url="http://127.0.0.1").get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False and body["elasticsearch"]["ok"] is False and body["redis"]["ok"] is True
    assert "127.0.0.1:1" in body["elasticsearch"]["detail"]


def test_search_is_503_when_elasticsearch_is_down(settings):
    broken = settings.model_copy(update={"elasticsearch_url": "http://127.0.0.1:1"})
    response = TestClient(create_app(broken), base_url="http://127.0.0.1").get("/search")
    assert response.status_code == 503 and "unavailable" in response.json()["detail"]


def test_status_and_openapi(client):
    status = client.get("/status")
    assert status.status_code == 200, status.text
    assert "files" in status.json()
    spec = client.get("/openapi.json").json()
    assert {"/search", "/articles/{doc_id}", "/health", "/status"} <= set(spec["paths"])
    # No endpoint lets a caller choose an index or a path.
    names = {
        p["name"] for path in spec["paths"].values() for op in path.values() for p in op.get("parameters", [])
    }
    assert not names & {"index", "path", "alias"}

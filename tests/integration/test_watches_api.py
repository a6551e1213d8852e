"""The watches' HTTP API and Atom feed against real Elasticsearch and Redis (TestClient), with
alerts raised by the real indexer code; the feed read back by feedparser, as a reader would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import feedparser
import pytest
import redis
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.api.app import create_app
from shared.schemas import Entities
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.watches.models import Watch, alert_id, alert_index, watch_id, watch_index
from tests.integration.test_watches import article, index_documents, make_indexer
from tests.support.indices import drop_dateline_index

TOKEN = "test-token-" + "x" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(es: Elasticsearch, es_url: str, redis_url: str) -> Iterator[Settings]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    cfg = Settings(
        elasticsearch_url=es_url,
        redis_url=redis_url,
        index=name,
        index_flush_seconds=0.2,
        api_token=SecretStr(TOKEN),
        public_url="http://news.example:8000",
    )
    ensure_index(es, name, cfg)
    yield cfg
    drop_dateline_index(es, name)
    es.indices.delete(index=[watch_index(name), alert_index(name)], ignore_unavailable=True)


@pytest.fixture
def stream(rclient: redis.Redis) -> Iterator[str]:
    name = f"test:index:{uuid.uuid4().hex[:12]}"
    yield name
    rclient.delete(name, name + ":dead")


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


def test_changes_need_the_token_and_reads_do_not(client: TestClient, settings: Settings) -> None:
    spec = {"name": "harbour", "query": "harbour"}
    refused = client.post("/watches", json=spec)
    assert refused.status_code == 401 and "API token" in refused.json()["detail"]
    wrong = client.post("/watches", json=spec, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.get("/watches").json() == []
    made = client.post("/watches", json=spec, headers=AUTH)
    assert made.status_code == 201
    assert client.delete("/watches/harbour").status_code == 401
    assert client.get("/watches/harbour").status_code == 200
    assert client.delete("/watches/harbour", headers=AUTH).status_code == 204
    assert client.delete("/watches/harbour", headers=AUTH).status_code == 404


def test_no_token_configured_refuses_every_change(settings: Settings) -> None:
    open_app = TestClient(
        create_app(settings.model_copy(update={"api_token": None})), base_url="http://127.0.0.1"
    )
    answer = open_app.post("/watches", json={"name": "x", "query": "x"}, headers=AUTH)
    assert answer.status_code == 403 and "DATELINE_API_TOKEN" in answer.json()["detail"]


def test_where_a_watch_delivers_is_shown_only_to_the_token_holder(settings: Settings) -> None:
    """A webhook URL often holds a secret and an email address is personal: reading watches is
    open like search, but those two only reach a request with the token."""
    allowed = settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1"]})
    client = TestClient(create_app(allowed), base_url="http://127.0.0.1")
    spec = {"name": "hooked", "query": "harbour", "webhook": "http://127.0.0.1:9/T000/secret-path"}
    assert client.post("/watches", json=spec, headers=AUTH).status_code == 201
    for answer in (client.get("/watches").json()[0], client.get("/watches/hooked").json()):
        assert answer["name"] == "hooked" and answer["webhook"] is None
    assert client.get("/watches/hooked/alerts").json()["watch"]["webhook"] is None
    wrong = client.get("/watches", headers={"Authorization": "Bearer nope"}).json()[0]
    assert wrong["webhook"] is None
    assert client.get("/watches", headers=AUTH).json()[0]["webhook"] == spec["webhook"]
    assert client.get("/watches/hooked", headers=AUTH).json()["webhook"] == spec["webhook"]


def test_create_list_get_and_refusals(client: TestClient) -> None:
    made = client.post(
        "/watches",
        json={"name": "US talks", "query": "talks", "entity": ["United States"], "lang": ["en"]},
        headers=AUTH,
    )
    assert made.status_code == 201, made.text
    watch = Watch.model_validate({k: v for k, v in made.json().items() if k != "backfill"})
    assert watch.id == watch_id("us talks")
    assert watch.feed_url == "http://news.example:8000/watches/US%20talks/feed.atom"
    assert made.json()["backfill"] is None
    listed = [Watch.model_validate(w) for w in client.get("/watches").json()]
    assert [w.name for w in listed] == ["US talks"] and listed[0].entity == ["United States"]
    assert Watch.model_validate(client.get("/watches/us talks").json()).id == watch.id

    again = client.post("/watches", json={"name": "us TALKS", "query": "x"}, headers=AUTH)
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    bad_hook = client.post(
        "/watches", json={"name": "hook", "query": "x", "webhook": "http://127.0.0.1:6379/"}, headers=AUTH
    )
    assert bad_hook.status_code == 422 and "loopback" in bad_hook.json()["detail"]
    bad_date = client.post("/watches", json={"name": "d", "query": "x", "since": "soon"}, headers=AUTH)
    assert bad_date.status_code == 422 and "not understood" in bad_date.json()["detail"]
    bad_name = client.post("/watches", json={"name": "!!", "query": "x"}, headers=AUTH)
    assert bad_name.status_code == 422 and "watch name" in bad_name.json()["detail"]
    assert client.get("/watches/nothing").status_code == 404


def test_backfill_alerts_and_feed(
    client: TestClient, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    indexer = make_indexer(es, rclient, settings, stream)
    earlier = article("Harbour closed", "The harbour closed for the storm.")
    index_documents(indexer, rclient, [earlier])

    made = client.post("/watches?backfill=true", json={"name": "Harbour", "query": "harbour"}, headers=AUTH)
    assert made.status_code == 201
    assert [hit["id"] for hit in made.json()["backfill"]["hits"]] == [earlier.id]

    first = article(
        "Harbour reopened",
        "The harbour reopened on Monday.",
        entities=Entities(location=["Hamburg"]),
    )
    first.summary = "The harbour of Hamburg reopened."
    first.dateline = "HAMBURG"
    index_documents(indexer, rclient, [first, article("Bread", "Bakers raised prices.")])
    second = article("Harbour busy", "The harbour was busy again.")
    index_documents(indexer, rclient, [second])
    es.indices.refresh(index=alert_index(settings.index))

    page = client.get("/watches/harbour/alerts").json()
    assert page["total"] == 2
    assert [a["article"]["id"] for a in page["alerts"]] == [second.id, first.id]  # newest first
    assert (
        client.get("/watches/harbour/alerts", params={"size": 1, "page": 2}).json()["alerts"][0]["article"][
            "id"
        ]
        == first.id
    )

    answer = client.get("/watches/harbour/feed.atom")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Dateline: Harbour"
    assert [e.title for e in feed.entries] == ["Harbour busy", "Harbour reopened"]
    entry = feed.entries[1]
    assert entry.id == f"urn:dateline:alert:{alert_id(watch_id('Harbour'), first.content_sha256)}"
    assert entry.link == f"http://news.example:8000/article/{first.id}"
    assert "The harbour of Hamburg reopened." in entry.summary and "HAMBURG" in entry.summary
    assert entry.published_parsed is not None
    # Polled again after the same article is written again: the same entries, same ids.
    index_documents(indexer, rclient, [first])
    again = feedparser.parse(client.get("/watches/harbour/feed.atom").content)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]
    assert client.get("/watches/nothing/feed.atom").status_code == 404
    too_far = client.get("/watches/harbour/alerts", params={"size": 100, "page": 101})
    assert too_far.status_code == 422 and "past the first" in too_far.json()["detail"]

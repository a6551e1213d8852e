"""Watches against a real Elasticsearch and Redis: the store's checks, percolation on the same
analysis as search, and alerts raised exactly once by the real indexer code."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from elasticsearch import Elasticsearch

from services.indexer.consumer import StreamConsumer
from services.indexer.service import Indexer
from services.indexer.writer import BulkWriter
from shared.registry import FileRecord, Registry
from shared.schemas import ArticleDocument, Entities, IndexRequest, document_id, utcnow
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.watches.models import Alert, WatchSpec, alert_id, alert_index, watch_id, watch_index
from shared.watches.store import WatchExists, WatchInputError, WatchStore


@pytest.fixture
def settings(es_url: str, redis_url: str, alias: str) -> Settings:
    return Settings(
        elasticsearch_url=es_url,
        redis_url=redis_url,
        index=alias,
        index_flush_seconds=0.2,
        public_url="http://dateline.test:8000",
        webhook_allowed_hosts=["127.0.0.1"],
    )


@pytest.fixture
def store(es: Elasticsearch, settings: Settings) -> WatchStore:
    ensure_index(es, settings.index, settings)
    return WatchStore(es, settings.index, settings)


@pytest.fixture
def stream(rclient: redis.Redis) -> Iterator[str]:
    name = f"test:index:{uuid.uuid4().hex[:12]}"
    yield name
    rclient.delete(name, name + ":dead")


def make_indexer(
    es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str, consumer: str = "one"
) -> Indexer:
    reader = StreamConsumer(rclient, consumer, stream=stream, dead_letter_stream=stream + ":dead")
    reader.ensure_group()
    return Indexer(BulkWriter(es, settings.index, settings), reader, Registry(rclient), settings)


def article(
    title: str,
    body: str,
    *,
    path: str | None = None,
    entities: Entities | None = None,
    language: str = "en",
    source: str = "Test Wire",
    text_sha: str | None = None,
    revision: int = 1,
) -> ArticleDocument:
    path = path or f"feeds/{uuid.uuid4().hex}.txt"
    return ArticleDocument(
        id=document_id(path, 0),
        source_path=path,
        revision=revision,
        format="text",
        title=title,
        body=body,
        content_sha256=text_sha or uuid.uuid4().hex,
        source=source,
        language=language,
        entities=entities or Entities(),
    )


def index_documents(indexer: Indexer, rclient: redis.Redis, docs: list[ArticleDocument]) -> None:
    """Put the documents on the stream as ingest/workers do, and let the indexer handle them."""
    for doc in docs:
        Registry(rclient).put(
            FileRecord(path=doc.source_path, revision=doc.revision, articles=1, state="queued")
        )
        request = IndexRequest(
            action="upsert", source_path=doc.source_path, revision=doc.revision, document=doc
        )
        rclient.xadd(indexer.consumer.stream, {"request": request.model_dump_json()})
    entries = indexer.consumer.read(100, 0.2)
    assert entries
    assert indexer.handle(entries, max_attempts=3)
    assert indexer.consumer.pending_ids() == []


def alerts(es: Elasticsearch, alias: str) -> list[Alert]:
    index = alert_index(alias)
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    found = es.search(index=index, size=100, query={"match_all": {}})
    return [Alert.model_validate(hit["_source"]) for hit in found["hits"]["hits"]]


def pairs(es: Elasticsearch, alias: str) -> set[tuple[str, str]]:
    return {(a.watch_name, a.article.id) for a in alerts(es, alias)}


# --- the store ------------------------------------------------------------------------------
def test_add_list_get_remove(store: WatchStore, es: Elasticsearch) -> None:
    store.ensure()
    store.ensure()  # idempotent
    made = store.add(WatchSpec(name="Harbour news", query='"harbour reopened"', lang=["en"]))
    assert made.id == watch_id("harbour news")
    assert made.feed_url == "http://dateline.test:8000/watches/Harbour%20news/feed.atom"
    assert [w.name for w in store.list()] == ["Harbour news"]
    got = store.get("HARBOUR NEWS")
    assert got is not None and got.query == '"harbour reopened"' and got.lang == ["en"]
    assert got.created_at == made.created_at
    with pytest.raises(WatchExists, match="exists already"):
        store.add(WatchSpec(name="harbour NEWS", query="anything"))
    assert store.remove("harbour news") is True
    assert store.remove("harbour news") is False
    assert store.list() == [] and store.get("Harbour news") is None


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"query": "title:*bour"}, "leading wildcard"),
        ({"query": "x", "since": "last tuesday"}, "not understood"),
        ({"query": "x", "entity": ["colour=red"]}, "is not one of"),
        (
            {"query": "x", "webhook": "http://10.0.0.5/hook"},
            "webhook: the webhook host 10.0.0.5 is a private",
        ),
        ({"query": "x", "webhook": "ftp://8.8.8.8/"}, "only http:// and https://"),
        ({"query": "x", "email": "someone@example.org"}, "DATELINE_SMTP_HOST"),
    ],
)
def test_add_refuses_with_a_sentence(store: WatchStore, spec: dict[str, object], words: str) -> None:
    with pytest.raises(WatchInputError, match=words):
        store.add(WatchSpec(name="refused", **spec))  # type: ignore[arg-type]
    assert store.get("refused") is None


def test_email_needs_smtp_and_an_address(es: Elasticsearch, settings: Settings) -> None:
    ensure_index(es, settings.index, settings)
    with_smtp = WatchStore(es, settings.index, settings.model_copy(update={"smtp_host": "127.0.0.1"}))
    with pytest.raises(WatchInputError, match="not an address"):
        with_smtp.add(WatchSpec(name="mail", query="x", email="not-an-address"))
    for hostile in (
        "desk@example.org\r\nBcc: all@example.org",
        "desk@example.org\x00",
        "desk\x1b@example.org",
    ):
        with pytest.raises(WatchInputError, match="not an address"):
            with_smtp.add(WatchSpec(name="mail", query="x", email=hostile))
    made = with_smtp.add(WatchSpec(name="mail", query="x", email="desk@example.org", email_mode="daily"))
    assert made.email == "desk@example.org" and made.email_mode == "daily"


def test_allowed_webhook_is_stored_normalised(store: WatchStore) -> None:
    made = store.add(WatchSpec(name="hooked", query="x", webhook="HTTP://127.0.0.1:9/Hook#x"))
    assert made.webhook == "http://127.0.0.1:9/Hook"
    assert store.get("hooked").webhook == "http://127.0.0.1:9/Hook"  # type: ignore[union-attr]


def test_two_stores_racing_to_create_the_indexes(es: Elasticsearch, settings: Settings) -> None:
    import threading

    ensure_index(es, settings.index, settings)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            WatchStore(make_client(settings.elasticsearch_url), settings.index, settings).ensure()
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert es.indices.exists(index=watch_index(settings.index))
    assert es.indices.exists(index=alert_index(settings.index))


def test_backfill_lists_what_already_matches(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    indexer = make_indexer(es, rclient, settings, stream)
    old = article("Harbour reopened", "The harbour reopened on Monday after the storm.")
    index_documents(indexer, rclient, [old, article("Bread prices", "Bakers raised prices.")])
    es.indices.refresh(index=settings.index)
    spec = WatchSpec(name="harbour", query='"harbour reopened"')
    store.add(spec)
    found = store.backfill(spec)
    assert [hit.id for hit in found.hits] == [old.id]
    assert alerts(es, settings.index) == []  # indexed before the watch: listed, not alerted


# --- percolation on the same analysis as search ---------------------------------------------
def test_phrase_filter_and_alias_entity_match_like_search(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    store.add(WatchSpec(name="phrase", query='"harbour reopened"'))
    store.add(WatchSpec(name="german wire", query="harbour", lang=["de"], source=["Test Wire"]))
    store.add(WatchSpec(name="united states", entity=["United States"]))
    store.add(WatchSpec(name="us places", query="sanctions", entity=["location=United States"]))
    phrase = article("Harbour news", "The harbour reopened on Monday.")
    words_apart = article("Harbour news", "The harbour was not reopened on Monday.")
    german = article("Harbour", "Der harbour ist offen.", language="de")
    german_other_source = article("Harbour", "Der harbour ist offen.", language="de", source="Other")
    us_only = article("Talks", "New sanctions were announced by the US.", entities=Entities(location=["US"]))
    us_person = article("Talks", "Sanctions.", entities=Entities(organization=["USA"]))
    indexer = make_indexer(es, rclient, settings, stream)
    index_documents(indexer, rclient, [phrase, words_apart, german, german_other_source, us_only, us_person])

    assert pairs(es, settings.index) == {
        ("phrase", phrase.id),
        ("german wire", german.id),
        ("united states", us_only.id),
        ("united states", us_person.id),
        ("us places", us_only.id),
    }
    assert indexer.details().alerts == 5
    # What search finds for the same watch is what the watch matched.
    for name in ("phrase", "german wire", "united states", "us places"):
        watch = store.get(name)
        assert watch is not None
        es.indices.refresh(index=settings.index)
        found = {hit.id for hit in store.backfill(watch, size=50).hits}
        assert found == {doc for watch_name, doc in pairs(es, settings.index) if watch_name == name}


def test_an_alert_carries_the_article_and_a_pending_delivery_per_channel(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    store.add(WatchSpec(name="hooked", query="harbour", webhook="http://127.0.0.1:9/hook"))
    store.add(WatchSpec(name="plain", query="harbour"))
    doc = article("Harbour reopened", "The harbour reopened.", entities=Entities(location=["Hamburg"]))
    index_documents(make_indexer(es, rclient, settings, stream), rclient, [doc])
    by_watch = {a.watch_name: a for a in alerts(es, settings.index)}
    hooked = by_watch["hooked"]
    assert hooked.id == alert_id(watch_id("hooked"), doc.content_sha256)
    assert hooked.article.title == "Harbour reopened"
    assert hooked.article.link == f"http://dateline.test:8000/article/{doc.id}"
    assert hooked.article.entities.location == ["Hamburg"]
    assert hooked.webhook is not None and hooked.webhook.state == "pending" and hooked.email is None
    assert by_watch["plain"].webhook is None and by_watch["plain"].email is None


# --- exactly once ---------------------------------------------------------------------------
def test_a_batch_handled_twice_alerts_once(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    store.add(WatchSpec(name="harbour", query="harbour"))
    doc = article("Harbour reopened", "The harbour reopened.")
    indexer = make_indexer(es, rclient, settings, stream)
    index_documents(indexer, rclient, [doc])
    index_documents(indexer, rclient, [doc])  # the same entry again, as a replay
    assert pairs(es, settings.index) == {("harbour", doc.id)}
    assert len(alerts(es, settings.index)) == 1
    assert indexer.details().alerts == 1


def test_a_killed_indexers_batch_reclaimed_by_another_alerts_once(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    store.add(WatchSpec(name="harbour", query="harbour"))
    doc = article("Harbour reopened", "The harbour reopened.")
    first = make_indexer(es, rclient, settings, stream, consumer="first")
    Registry(rclient).put(FileRecord(path=doc.source_path, revision=1, articles=1, state="queued"))
    request = IndexRequest(action="upsert", source_path=doc.source_path, revision=1, document=doc)
    rclient.xadd(stream, {"request": request.model_dump_json()})
    # The first indexer writes and raises the alert, then dies before its ack: exactly the
    # state a kill -9 between the two leaves (the entry pending, claimed by the dead one).
    entries = first.consumer.read(10, 0.2)
    requests = first._sort_out(entries)
    written = first._write(requests, 1)
    assert written is not None and first._raise_alerts(requests, written, 1)
    assert first.consumer.pending_ids() != []
    # Another indexer reclaims the entry and handles it whole.
    second = make_indexer(es, rclient, settings, stream, consumer="second")
    reclaimed = second.consumer.reclaim(0.0, 10)
    assert [e.id for e in reclaimed] == [e.id for e in entries]
    assert second.handle(reclaimed, max_attempts=3)
    assert second.consumer.pending_ids() == [] and first.consumer.pending_ids() == []
    assert len(alerts(es, settings.index)) == 1
    assert second.details().alerts == 0


def test_reprocess_alerts_only_for_a_new_match(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    store.add(WatchSpec(name="talks", query="talks"))
    store.add(WatchSpec(name="merkel", entity=["person=Angela Merkel"]))
    doc = article("Talks resume", "Talks resumed in Berlin with the chancellor.")
    indexer = make_indexer(es, rclient, settings, stream)
    index_documents(indexer, rclient, [doc])
    assert pairs(es, settings.index) == {("talks", doc.id)}
    # Reprocessed with the same matches (the summary stage ran again): nothing new.
    index_documents(indexer, rclient, [doc.model_copy(update={"summary": "Talks resumed."})])
    assert len(alerts(es, settings.index)) == 1
    # Reprocessed by the entities stage, which now finds a person: only that watch's alert.
    again = doc.model_copy(update={"entities": Entities(person=["Angela Merkel"])})
    index_documents(indexer, rclient, [again])
    assert pairs(es, settings.index) == {("talks", doc.id), ("merkel", doc.id)}
    assert indexer.details().alerts == 2
    # A removed watch takes its alerts along; the other's stay.
    assert store.remove("talks")
    assert pairs(es, settings.index) == {("merkel", doc.id)}


def test_a_copy_of_an_alerted_text_does_not_alert_again(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    store.add(WatchSpec(name="harbour", query="harbour"))
    sha = uuid.uuid4().hex
    original = article("Harbour reopened", "The harbour reopened.", text_sha=sha)
    copy = article("Harbour reopened", "The harbour reopened.", text_sha=sha)
    both_in_one = article("Harbour reopened", "The harbour reopened.", text_sha=sha)
    indexer = make_indexer(es, rclient, settings, stream)
    index_documents(indexer, rclient, [original])
    index_documents(indexer, rclient, [copy, both_in_one])
    assert pairs(es, settings.index) == {("harbour", original.id)}


def test_articles_ingested_before_the_watch_do_not_alert(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    before = article("Harbour reopened", "The harbour reopened.")
    before.ingested_at = utcnow() - timedelta(minutes=5)
    store.add(WatchSpec(name="harbour", query="harbour"))
    after = article("Harbour again", "The harbour reopened again.")
    index_documents(make_indexer(es, rclient, settings, stream), rclient, [before, after])
    assert pairs(es, settings.index) == {("harbour", after.id)}


def test_no_watches_no_alert_index(
    es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    ensure_index(es, settings.index, settings)
    indexer = make_indexer(es, rclient, settings, stream)
    index_documents(indexer, rclient, [article("Harbour", "The harbour.")])
    assert not es.indices.exists(index=alert_index(settings.index))
    assert indexer.details().alerts == 0


def test_the_watches_index_removed_by_hand_stops_nothing(
    store: WatchStore, es: Elasticsearch, rclient: redis.Redis, settings: Settings, stream: str
) -> None:
    store.add(WatchSpec(name="harbour", query="harbour"))
    indexer = make_indexer(es, rclient, settings, stream)
    index_documents(indexer, rclient, [article("Harbour", "The harbour reopened.")])
    es.indices.delete(index=[watch_index(settings.index), alert_index(settings.index)])
    index_documents(indexer, rclient, [article("Harbour", "The harbour closed.")])  # no watch, no error
    store.add(WatchSpec(name="harbour", query="harbour"))
    later = article("Harbour", "The harbour is busy.")
    index_documents(indexer, rclient, [later])
    assert pairs(es, settings.index) == {("harbour", later.id)}

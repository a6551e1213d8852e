"""The delivery service against a real Elasticsearch, a real local HTTP server and a real SMTP
server (aiosmtpd): alerts raised by the indexer's own code, sent by the service's ticks.

The service's clock is a test clock, so back-off, leases, digest windows and giving up are
reached by moving it rather than by waiting."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis
from elasticsearch import Elasticsearch

from services.delivery.service import DeliveryService
from services.indexer.writer import BulkWriter
from shared.schemas import ArticleDocument, Entities, IndexRequest, document_id, utcnow
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.watches.matching import AlertRaiser
from shared.watches.models import Alert, WatchSpec, alert_index
from shared.watches.outbox import Outbox, delivery_status
from shared.watches.store import WatchStore
from tests.support.receivers import SmtpReceiver, WebhookReceiver

SECRET = "test-webhook-secret"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def settings(es_url: str, alias: str, smtp: SmtpReceiver) -> Settings:
    return Settings(
        elasticsearch_url=es_url,
        index=alias,
        public_url="http://dateline.test:8000",
        webhook_secret=SECRET,
        webhook_allowed_hosts=["127.0.0.1"],
        webhook_timeout_seconds=5,
        delivery_retry_max_seconds=8,
        delivery_give_up_hours=1,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
    )


@pytest.fixture
def store(es: Elasticsearch, settings: Settings) -> WatchStore:
    ensure_index(es, settings.index, settings)
    made = WatchStore(es, settings.index, settings)
    made.ensure()
    return made


def article(title: str, body: str) -> ArticleDocument:
    path = f"feeds/{uuid.uuid4().hex}.txt"
    return ArticleDocument(
        id=document_id(path, 0),
        source_path=path,
        revision=1,
        format="text",
        title=title,
        body=body,
        content_sha256=uuid.uuid4().hex,
        source="Test Wire",
        language="en",
        dateline="Lisbon",
        entities=Entities(location=["Lisbon"]),
        summary=body,
    )


def raise_alerts(es: Elasticsearch, settings: Settings, docs: list[ArticleDocument]) -> int:
    """Write ``docs`` and raise their alerts as the indexer does (write, then match)."""
    requests = [
        (str(i), IndexRequest(action="upsert", source_path=d.source_path, revision=1, document=d))
        for i, d in enumerate(docs)
    ]
    BulkWriter(es, settings.index, settings).write(requests)
    es.indices.refresh(index=settings.index)
    raised = AlertRaiser(es, settings.index, settings).raise_alerts(docs)
    es.indices.refresh(index=alert_index(settings.index))
    return raised


def service(es_url: str, settings: Settings, clock: Clock) -> DeliveryService:
    """A delivery process's service, with its own Elasticsearch client (as another process)."""
    return DeliveryService(make_client(es_url), settings.index, settings, clock=clock)


def tick(svc: DeliveryService, es: Elasticsearch) -> int:
    tried = svc.tick()
    es.indices.refresh(index=svc.outbox.index)
    return tried


def stored(es: Elasticsearch, settings: Settings) -> list[Alert]:
    index = alert_index(settings.index)
    es.indices.refresh(index=index)
    return [Alert.model_validate(h["_source"]) for h in es.search(index=index, size=100)["hits"]["hits"]]


def test_webhook_is_signed_carries_the_article_and_is_sent_once(
    es: Elasticsearch, es_url: str, settings: Settings, store: WatchStore, hook: WebhookReceiver
) -> None:
    store.add(WatchSpec(name="Harbour", query="harbour", webhook=hook.url))
    docs = [article("Harbour reopened", "The harbour reopened today."), article("Weather", "Rain.")]
    assert raise_alerts(es, settings, docs) == 1
    clock = Clock()
    svc = service(es_url, settings, clock)
    assert tick(svc, es) == 1
    assert tick(svc, es) == 0  # delivered: nothing due any more
    (call,) = hook.received()
    assert call.signed_by(SECRET)
    assert not call.signed_by("another secret")
    (alert,) = stored(es, settings)
    assert call.headers["x-dateline-alert"] == alert.id and call.headers["x-dateline-event"] == "alert"
    body = call.json
    assert body["watch"] == "Harbour" and body["alert_id"] == alert.id
    assert body["article"]["id"] == docs[0].id and body["article"]["title"] == "Harbour reopened"
    assert body["article"]["source"] == "Test Wire" and body["article"]["dateline"] == "Lisbon"
    assert body["article"]["entities"]["location"] == ["Lisbon"]
    assert body["article"]["summary"] == "The harbour reopened today."
    assert body["article"]["link"] == f"http://dateline.test:8000/article/{docs[0].id}"
    assert alert.webhook is not None and alert.webhook.state == "delivered" and alert.webhook.attempts == 1
    assert alert.webhook.target == f"http://127.0.0.1:{hook.port}/…" and alert.webhook.claimed_by is None


def test_a_target_down_then_failing_gets_everything_once_back(
    es: Elasticsearch, es_url: str, settings: Settings, store: WatchStore, hook: WebhookReceiver
) -> None:
    store.add(WatchSpec(name="Harbour", query="harbour", webhook=hook.url))
    hook.stop()  # down: nothing listens on its port
    raise_alerts(es, settings, [article(f"Harbour {i}", "The harbour reopened.") for i in range(3)])
    clock = Clock()
    svc = service(es_url, settings, clock)
    assert tick(svc, es) == 1  # one try: the target's other alerts wait for its next one
    entries = [a.webhook for a in stored(es, settings) if a.webhook]
    (tried,) = [e for e in entries if e.attempts]
    assert tried.state == "retrying" and "cannot connect" in (tried.last_error or "")
    waiting = [e for e in entries if not e.attempts]
    assert len(waiting) == 2 and {e.state for e in waiting} == {"pending"}
    assert {e.next_attempt_at for e in waiting} == {tried.next_attempt_at}
    assert list(svc.failing_targets) == [f"http://127.0.0.1:{hook.port}/…"]  # no path: it may hold a secret
    assert tick(svc, es) == 0  # backing off: not due before a second has passed

    # It answers, but refuses: the answer is kept, the back-off grows.
    hook.status, hook.answer = 503, b"Service Unavailable: maintenance"
    hook.start()
    clock.advance(1)
    assert tick(svc, es) == 1
    entries = [a.webhook for a in stored(es, settings) if a.webhook]
    assert sum(e.attempts for e in entries) == 2
    assert "HTTP 503: Service Unavailable: maintenance" in {e.last_error for e in entries}
    status = delivery_status(es, settings.index, clock.now)
    assert status.delivered == 0 and status.retrying >= 1 and status.pending + status.retrying == 3
    assert {(f.watch, f.channel, f.target) for f in status.failing} == {
        ("Harbour", "webhook", f"http://127.0.0.1:{hook.port}/…")
    }
    assert tick(svc, es) == 0  # all wait for the next try

    # Back for good: everything arrives, once.
    hook.status, hook.answer = 200, b"ok"
    clock.advance(60)
    assert tick(svc, es) == 3
    assert tick(svc, es) == 0
    assert sorted(c.json["article"]["title"] for c in hook.received()) == [
        "Harbour 0",
        "Harbour 1",
        "Harbour 2",
    ]
    assert {a.webhook.state for a in stored(es, settings) if a.webhook} == {"delivered"}
    assert svc.failing_targets == {}
    done = delivery_status(es, settings.index, clock.now)
    assert done.failing == [] and done.counts["webhook"] == {"delivered": 3}
    assert (done.pending, done.delivered, done.retrying, done.failed) == (0, 3, 0, 0)


def test_redirects_are_not_followed_and_a_target_is_given_up_in_time(
    es: Elasticsearch, es_url: str, settings: Settings, store: WatchStore, hook: WebhookReceiver
) -> None:
    store.add(WatchSpec(name="Harbour", query="harbour", webhook=hook.url))
    hook.status, hook.location = 302, "http://169.254.169.254/latest/meta-data/"
    raise_alerts(es, settings, [article("Harbour", "The harbour reopened.")])
    clock = Clock()
    svc = service(es_url, settings, clock)
    tick(svc, es)
    (alert,) = stored(es, settings)
    assert alert.webhook is not None and alert.webhook.state == "retrying"
    assert "HTTP 302 (redirect to http://169.254.169.254/latest/meta-data/, not followed)" in (
        alert.webhook.last_error or ""
    )
    clock.advance(3600)  # delivery_give_up_hours=1 after the first try
    tick(svc, es)
    (alert,) = stored(es, settings)
    assert alert.webhook is not None and alert.webhook.state == "failed" and alert.webhook.attempts == 2
    status = delivery_status(es, settings.index, clock.now)
    assert status.failed == 1 and status.failing[0].state == "failed"
    assert "not followed" in (status.failing[0].last_error or "")
    assert hook.received() == []


def test_two_delivery_processes_never_send_one_alert_twice(
    es: Elasticsearch, es_url: str, settings: Settings, store: WatchStore, hook: WebhookReceiver
) -> None:
    store.add(WatchSpec(name="Harbour", query="harbour", webhook=hook.url))
    raise_alerts(es, settings, [article(f"Harbour {i}", "The harbour reopened.") for i in range(30)])
    clock = Clock()
    services = [service(es_url, settings, clock) for _ in range(3)]
    start = threading.Barrier(len(services))

    def run(svc: DeliveryService) -> None:
        start.wait()
        for _ in range(5):
            svc.tick()

    threads = [threading.Thread(target=run, args=(svc,)) for svc in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    es.indices.refresh(index=alert_index(settings.index))
    tick(services[0], es)  # whatever a stale read left for later
    counts = Counter(c.headers["x-dateline-alert"] for c in hook.received())
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert sum(svc.delivered for svc in services) == 30


def test_a_claim_whose_process_died_is_sent_after_its_lease(
    es: Elasticsearch, es_url: str, settings: Settings, store: WatchStore, hook: WebhookReceiver
) -> None:
    store.add(WatchSpec(name="Harbour", query="harbour", webhook=hook.url))
    raise_alerts(es, settings, [article("Harbour", "The harbour reopened.")])
    clock = Clock()
    outbox = Outbox(es, settings.index)
    (due,) = outbox.due("webhook", clock.now, 10)
    assert outbox.claim(due, "webhook", clock.now, 60, hook.url) is not None  # then "killed"
    assert outbox.claim(due, "webhook", clock.now, 60, hook.url) is None  # the same read: refused
    es.indices.refresh(index=outbox.index)
    svc = service(es_url, settings, clock)
    assert tick(svc, es) == 0  # leased
    clock.advance(61)
    assert tick(svc, es) == 1
    (call,) = hook.received()
    (alert,) = stored(es, settings)
    assert alert.webhook is not None and alert.webhook.state == "delivered" and alert.webhook.attempts == 2
    assert call.headers["x-dateline-alert"] == alert.id


def test_email_per_alert_and_as_an_hourly_digest(
    es: Elasticsearch, es_url: str, settings: Settings, store: WatchStore, smtp: SmtpReceiver
) -> None:
    store.add(WatchSpec(name="Each", query="harbour", email="desk@example.org"))
    store.add(WatchSpec(name="Digest", query="harbour", email="chief@example.org", email_mode="hourly"))
    raise_alerts(es, settings, [article(f"Harbour {i}", "The harbour reopened.") for i in range(2)])
    clock = Clock()
    svc = service(es_url, settings, clock)
    tick(svc, es)
    each = [m for m in smtp.messages if m["To"] == "desk@example.org"]
    assert sorted(m["Subject"] for m in each) == ["[Dateline] Each: Harbour 0", "[Dateline] Each: Harbour 1"]
    alerts = {a.id: a for a in stored(es, settings)}
    for mail in each:
        alert = alerts[mail["X-Dateline-Alert"]]
        assert mail["Message-ID"] == f"<{alert.id}@localhost>"
        body = mail.get_content()
        assert alert.article.link in body and "Source: Test Wire" in body and "Dateline: Lisbon" in body
    assert not [m for m in smtp.messages if m["To"] == "chief@example.org"]  # its hour is open

    digest_alerts = [a for a in alerts.values() if a.watch_name == "Digest"]
    closes = min(a.email.next_attempt_at for a in digest_alerts if a.email)  # type: ignore[type-var]
    assert closes is not None and closes.minute == 0 and closes > clock.now
    clock.now = closes + timedelta(seconds=1)
    tick(svc, es)
    (digest,) = [m for m in smtp.messages if m["To"] == "chief@example.org"]
    assert digest["Subject"] == "[Dateline] Digest: 2 new article(s)"
    text = digest.get_content()
    assert "1. Harbour" in text and "2. Harbour" in text
    assert {part.strip() for part in digest["X-Dateline-Alert"].split(",")} == {a.id for a in digest_alerts}
    assert {a.email.state for a in stored(es, settings) if a.email} == {"delivered"}
    tick(svc, es)
    assert len(smtp.messages) == 3


def test_an_smtp_server_away_keeps_the_alerts_waiting(
    es: Elasticsearch, es_url: str, settings: Settings, store: WatchStore, smtp: SmtpReceiver
) -> None:
    store.add(WatchSpec(name="Each", query="harbour", email="desk@example.org"))
    raise_alerts(es, settings, [article(f"Harbour {i}", "The harbour reopened.") for i in range(2)])
    clock = Clock()
    away = settings.model_copy(update={"smtp_port": WebhookReceiver().port})  # nothing listens there
    svc = service(es_url, away, clock)
    assert tick(svc, es) == 1  # the server failed: the other email waits for its next try
    entries = sorted((a.email for a in stored(es, settings) if a.email), key=lambda e: e.attempts)
    assert [(e.state, e.attempts) for e in entries] == [("pending", 0), ("retrying", 1)]
    assert f"cannot send through 127.0.0.1:{away.smtp_port}" in (entries[1].last_error or "")
    assert smtp.messages == []
    clock.advance(5)
    assert tick(service(es_url, settings, clock), es) == 2  # the server is back (the configured one)
    assert sorted(m["X-Dateline-Alert"] for m in smtp.messages) == sorted(a.id for a in stored(es, settings))


def test_failing_deliveries_are_shown_with_the_answer_in_every_status_view(
    es: Elasticsearch,
    es_url: str,
    redis_url: str,
    settings: Settings,
    store: WatchStore,
    hook: WebhookReceiver,
) -> None:
    from fastapi.testclient import TestClient
    from rich.console import Console

    from services.api.app import create_app
    from services.cli.status import print_status
    from shared.status import collect_status

    store.add(WatchSpec(name="Harbour", query="harbour", webhook=hook.url))
    hook.status, hook.answer = 503, b"Service Unavailable: maintenance"
    raise_alerts(es, settings, [article("Harbour", "The harbour reopened.")])
    clock = Clock()
    tick(service(es_url, settings, clock), es)

    client = redis.Redis.from_url(redis_url)
    status = collect_status(client, es, es_url=es_url, alias=settings.index)
    assert status.deliveries is not None and status.deliveries.retrying == 1
    (failing,) = status.deliveries.failing
    assert (failing.watch, failing.channel, failing.target) == (
        "Harbour",
        "webhook",
        f"http://127.0.0.1:{hook.port}/…",
    )
    assert failing.last_error == "HTTP 503: Service Unavailable: maintenance"
    assert status.state == "degraded"
    assert any(
        "webhook of watch 'Harbour'" in r and "HTTP 503: Service Unavailable: maintenance" in r
        for r in status.reasons
    )
    dumped = status.model_dump(mode="json")["deliveries"]
    assert dumped["retrying"] == 1 and dumped["failing"][0]["last_error"].startswith("HTTP 503")

    console = Console(record=True, width=400)
    print_status(status, console)
    text = console.export_text()
    assert "Alerts sent  pending 0, delivered 0, retrying 1, failed 0" in text
    assert (
        f"retrying webhook of watch 'Harbour' to http://127.0.0.1:{hook.port}/…" in text
        and "/hook" not in text
        and "HTTP 503" in text
    )

    page = TestClient(
        create_app(settings.model_copy(update={"redis_url": redis_url})), base_url="http://127.0.0.1"
    )
    html = page.get("/pipeline").text
    assert "Alerts sent" in html and "delivery-failing" in html and "Service Unavailable: maintenance" in html
    assert page.get("/status").json()["deliveries"]["failing"][0]["watch"] == "Harbour"

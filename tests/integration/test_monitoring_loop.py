"""Issue 16's "Done when", on a real stack: real worker, indexer, ingest and delivery processes,
real Redis and Elasticsearch, a local HTTP server receiving the webhooks, aiosmtpd the emails,
feedparser reading the feeds.

A watch made with the CLI (`dateline watch add`) and one made on the search page (logged in with the token)
each get exactly one webhook call, one email and one feed entry per matching article, across
a kill -9 of the indexer and a `dateline reprocess --stage entities`, and none for the
articles that do not match or for an exact copy of one that does. The webhook target is down
for a minute meanwhile, and receives everything once it is back.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import feedparser
from fastapi.testclient import TestClient

from services.api.app import create_app
from shared.schemas import utcnow
from shared.settings import Settings
from shared.watches.models import alert_index, watch_index
from shared.watches.outbox import delivery_status
from tests.integration.faults.conftest import FAST_BOUNDS, SEED_FILES, indexed_files, settled
from tests.support.cli import dateline
from tests.support.processes import wait_until
from tests.support.receivers import SmtpReceiver, WebhookReceiver

TOKEN = "monitoring-loop-test-token"
SECRET = "monitoring-loop-test-secret"
MARKER = "zeppelin"  # the word both watches look for
MATCHING, OTHERS = 4, 4
TARGET_DOWN_SECONDS = 60


def drop(inbox: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """Matching articles (each with the marker), others without, and an exact copy of the first
    matching one under another name; returns (matching, others, copy -> original)."""
    inbox.mkdir(parents=True, exist_ok=True)
    matching, others = [], []
    for i in range(MATCHING + OTHERS):
        seed = SEED_FILES[i % len(SEED_FILES)]
        hit = i < MATCHING
        name = f"{'m' if hit else 'o'}{i:02d}-{seed.name}"
        extra = f"\n\nA {MARKER} was seen over the city, report {i}.\n" if hit else f"\n\nReport {i}.\n"
        (inbox / name).write_text(seed.read_text() + extra, encoding="utf-8")
        (matching if hit else others).append(name)
    copy = f"copy-{matching[0]}"
    (inbox / copy).write_text((inbox / matching[0]).read_text(encoding="utf-8"), encoding="utf-8")
    return matching, others, {copy: matching[0]}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = dateline(env, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def test_each_watch_alerts_once_per_matching_article_by_webhook_email_and_feed(make_stack):
    hook = WebhookReceiver()  # down: not started yet
    smtp = SmtpReceiver().start()
    env = {
        **FAST_BOUNDS,
        "DATELINE_API_TOKEN": TOKEN,
        "DATELINE_WEBHOOK_SECRET": SECRET,
        "DATELINE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "DATELINE_SMTP_HOST": "127.0.0.1",
        "DATELINE_SMTP_PORT": str(smtp.port),
        "DATELINE_PUBLIC_URL": "http://dateline.test:8000",
        # A target down for a minute is tried every few seconds, so it gets everything soon after.
        "DATELINE_DELIVERY_RETRY_MAX_SECONDS": "4",
        "DATELINE_DELIVERY_TICK_SECONDS": "0.5",
    }
    stack = make_stack(extra_env=env)
    settings = Settings(
        _env_file=None,
        elasticsearch_url=stack.es_url,
        redis_url=stack.redis_url,
        index=stack.alias,
        api_token=TOKEN,
        public_url="http://dateline.test:8000",
        webhook_allowed_hosts=["127.0.0.1"],
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
    )
    api = TestClient(create_app(settings), base_url="http://127.0.0.1")
    try:
        # The two watches: one from the CLI, one from the search page (logged in, its CSRF token).
        cli(
            stack.env,
            "watch", "add", "From CLI", MARKER,
            "--webhook", f"http://127.0.0.1:{hook.port}/cli",
            "--email", "cli@example.org",
        )  # fmt: skip
        body = {"name": "From page", "query": MARKER, "webhook": f"http://127.0.0.1:{hook.port}/page"}
        assert api.post("/watches", json={**body, "email": "page@example.org"}).status_code == 401
        login_page = api.get("/login")
        logged_in = api.post(
            "/login",
            data={"token": TOKEN, "csrf_token": csrf_of(login_page.text), "next": "/"},
            follow_redirects=False,
        )
        assert logged_in.status_code == 303, logged_in.text
        search_page = api.get("/", params={"q": MARKER})
        made = api.post(
            "/watch",
            data={
                "name": "From page",
                "webhook": body["webhook"],
                "email": "page@example.org",
                "email_mode": "each",
                "q": MARKER,
                "csrf_token": csrf_of(search_page.text),
            },
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
        down_since = time.monotonic()

        indexer = stack.start("indexer", "indexer", autorestart=True)
        delivery = stack.start("delivery", "delivery", autorestart=True)
        processes = [*stack.start_workers(), indexer, delivery, stack.start_ingest()]
        matching, others, copies = drop(stack.inbox)
        every = [*matching, *others, *copies]

        # kill -9 of the indexer once some articles are in (supervisord starts it again).
        wait_until(lambda: indexed_files(stack) > 0, timeout=600, every=0.2, what="a first article indexed",
                   processes=processes)  # fmt: skip
        indexer.kill(signal.SIGKILL)
        wait_until(lambda: indexer.running, timeout=60, what="the indexer restarted")
        wait_until(lambda: settled(stack, every), timeout=900, every=2, what="every file indexed",
                   processes=processes)  # fmt: skip

        # Every document enriched again by the entities stage, then indexed (and matched) again.
        before = utcnow()
        cli(stack.env, "reprocess", "--stage", "entities")

        def reindexed() -> bool:
            documents = stack.documents()
            return len(documents) == len(every) and all(
                doc.get("indexed_at") and datetime.fromisoformat(doc["indexed_at"]) > before
                for doc in documents
            )

        wait_until(reindexed, timeout=900, every=2, what="every document reprocessed and indexed",
                   processes=processes)  # fmt: skip

        # Emails went out meanwhile; the webhook target is still down (the alerts wait).
        assert hook.received() == []
        wait_until(
            lambda: time.monotonic() - down_since >= TARGET_DOWN_SECONDS,
            timeout=TARGET_DOWN_SECONDS + 5,
            what="the webhook target down for a minute",
        )
        hook.start()

        def all_delivered() -> bool:
            found = delivery_status(stack.es, stack.alias, utcnow())
            return found.delivered == 4 * MATCHING and found.pending == found.retrying == 0

        wait_until(all_delivered, timeout=300, every=1, what="every webhook and email delivered",
                   processes=processes)  # fmt: skip

        original = {name: copies.get(name, name) for name in every}
        for path, watch, address in (
            ("/cli", "From CLI", "cli@example.org"),
            ("/page", "From page", "page@example.org"),
        ):
            calls = [c for c in hook.received() if c.path == path]
            assert all(c.signed_by(SECRET) for c in calls)
            assert {c.json["watch"] for c in calls} == {watch}
            sent = Counter(original[c.json["article"]["source_path"]] for c in calls)
            assert sent == Counter(matching), (watch, sent)
            assert len({c.headers["x-dateline-alert"] for c in calls}) == MATCHING

            mails = [m for m in smtp.messages if m["To"] == address]
            assert len(mails) == MATCHING and len({m["X-Dateline-Alert"] for m in mails}) == MATCHING
            assert {m["X-Dateline-Alert"] for m in mails} == {c.headers["x-dateline-alert"] for c in calls}

            feed = feedparser.parse(api.get(f"/watches/{watch}/feed.atom").content)
            assert not feed.bozo, feed.bozo_exception
            assert len(feed.entries) == MATCHING, [e.title for e in feed.entries]

        stack.es.indices.refresh(index=alert_index(stack.alias))
        assert stack.es.count(index=alert_index(stack.alias))["count"] == 2 * MATCHING
    finally:
        hook.stop()
        smtp.stop()
        stack.es.indices.delete(
            index=[alert_index(stack.alias), watch_index(stack.alias)], ignore_unavailable=True
        )


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry (a hidden field)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)

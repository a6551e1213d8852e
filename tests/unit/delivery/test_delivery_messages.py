"""What delivery sends, built without a network: the webhook body and its signature, the
address pinning against DNS rebinding, the emails, the back-off and the digest windows.
(Sending to real receivers: tests/integration/test_delivery.py.)"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone

import httpx
import pytest

from services.delivery import email, webhook
from shared.retry import backoff_seconds
from shared.schemas import Entities
from shared.settings import Settings
from shared.watches.models import Alert, AlertArticle, Delivery, Watch

AT = datetime(2026, 3, 1, 14, 25, tzinfo=timezone.utc)


def alert(number: int = 1) -> Alert:
    return Alert(
        id=f"alert{number}",
        watch_id="w1",
        watch_name="Harbour",
        content_sha256="c" * 64,
        matched_at=AT,
        article=AlertArticle(
            id=f"doc{number}",
            title=f"Harbour reopened {number}",
            url="https://news.example/harbour",
            source="Test Wire",
            published_at=AT,
            dateline="Lisbon",
            entities=Entities(location=["Lisbon"], person=["Ana Costa"]),
            summary="The harbour reopened after the storm.",
            source_path="feeds/a.txt",
            link=f"http://dateline.test/article/doc{number}",
        ),
        webhook=Delivery(),
    )


def watch(mode: str = "each") -> Watch:
    return Watch(
        name="Harbour",
        query="harbour",
        email="desk@example.org",
        email_mode=mode,  # type: ignore[arg-type]
        id="w1",
        feed_url="http://dateline.test/watches/Harbour/feed.atom",
    )


def test_the_body_is_the_alert_and_the_signature_its_hmac():
    body = webhook.body_of(alert())
    parsed = json.loads(body)
    assert parsed["event"] == "alert" and parsed["alert_id"] == "alert1" and parsed["watch"] == "Harbour"
    article = parsed["article"]
    assert {"id", "title", "url", "source", "published_at", "dateline", "entities", "summary", "link"} <= set(
        article
    )
    assert article["entities"]["location"] == ["Lisbon"]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert webhook.signature("s3cret", body) == f"sha256={expected}"
    assert webhook.signature("other", body) != webhook.signature("s3cret", body)


def test_the_connection_goes_to_the_checked_address_with_the_name_kept():
    assert webhook._pinned("https://hooks.example.org:8443/in?x=1", "93.184.216.34") == (
        "https://93.184.216.34:8443/in?x=1",
        "hooks.example.org:8443",
        "hooks.example.org",
    )
    assert webhook._pinned("http://hooks.example.org/", "2001:db8::1")[0] == "http://[2001:db8::1]/"


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_nothing_is_sent_unsigned_or_to_a_refused_target():
    client = httpx.Client()
    unsigned = webhook.send(
        client, "http://127.0.0.1:9/hook", alert(), _settings(webhook_allowed_hosts=["127.0.0.1"])
    )
    assert not unsigned.accepted and "DATELINE_WEBHOOK_SECRET is not set" in (unsigned.error or "")
    refused = webhook.send(
        client, "http://127.0.0.1:9/hook", alert(), _settings(webhook_secret="k" * 20 + "x")
    )
    assert not refused.accepted and "loopback" in (refused.error or "")


def test_backoff_doubles_from_one_second_to_the_cap():
    assert [backoff_seconds(n, 60) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


@pytest.mark.parametrize(
    ("mode", "closes"),
    [
        ("hourly", datetime(2026, 3, 1, 15, 0, tzinfo=timezone.utc)),
        ("daily", datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)),
    ],
)
def test_digest_windows_close_on_the_hour_and_the_day(mode, closes):
    assert email.window_end(AT, mode) == closes


def test_one_email_per_alert_names_the_watch_article_and_link():
    mail = email.message(_settings(public_url="http://dateline.test"), watch(), [alert()])
    assert mail["Subject"] == "[Dateline] Harbour: Harbour reopened 1"
    assert mail["To"] == "desk@example.org" and mail["Message-ID"] == "<alert1@localhost>"
    text = mail.get_content()
    for words in ("Source: Test Wire", "Dateline: Lisbon", "Ana Costa", "http://dateline.test/article/doc1",
                  "The harbour reopened after the storm.", "watches/Harbour/feed.atom"):  # fmt: skip
        assert words in text


def test_a_digest_lists_every_alert_once():
    closes = email.window_end(AT, "hourly")
    mail = email.message(_settings(), watch("hourly"), [alert(1), alert(2)], closed=closes)
    assert mail["Subject"] == "[Dateline] Harbour: 2 new article(s)"
    text = mail.get_content()
    assert "1. Harbour reopened 1" in text and "2. Harbour reopened 2" in text and "15:00 UTC" in text
    assert mail["X-Dateline-Alert"] == "alert1, alert2"


def test_status_and_alert_records_show_where_without_secrets():
    from shared.watches.outbox import shown_target

    hook = "https://hooks.slack.example/services/T000/B000/SECRETPART?token=abc"
    assert shown_target("webhook", hook) == "https://hooks.slack.example/…"
    assert shown_target("webhook", "http://127.0.0.1:8080/in") == "http://127.0.0.1:8080/…"
    assert shown_target("email", "desk.editor@example.org") == "d…@example.org"
    assert shown_target("email", "") == ""

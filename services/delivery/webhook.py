"""One webhook call: the signed JSON body of an alert, POSTed to the watch's URL.

Receivers check ``X-Dateline-Signature: sha256=HEX``, the HMAC-SHA256 of the raw body under
``DATELINE_WEBHOOK_SECRET``, and drop a repeated ``X-Dateline-Alert`` (the alert id: see
shared/watches/outbox.py for the one case where an alert is sent twice).

The target is checked again right before the call (``resolve_allowed``) and the connection
goes to an address checked now, not to whatever the name resolves to a moment later (DNS
rebinding): the URL's host is replaced by the checked address, the Host header and the TLS
server name (SNI, and so the certificate check) keep the name. Redirects are not followed:
a 3xx would send the signed body to a place nobody checked.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, Field

from shared.settings import Settings, is_placeholder
from shared.watches.models import Alert, AlertArticle
from shared.watches.targets import TargetRefused, resolve_allowed

SIGNATURE_HEADER = "X-Dateline-Signature"
ALERT_HEADER = "X-Dateline-Alert"
EVENT_HEADER = "X-Dateline-Event"
ANSWER_SHOWN = 200  # characters of the target's answer kept in last_error
USER_AGENT = "Dateline-Webhook/1"


class WebhookBody(BaseModel):
    """What a webhook receives (JSON): the watch, the alert and the whole article record."""

    event: str = "alert"
    alert_id: str = Field(description="The same for every repeat of one alert: receivers drop repeats by it.")
    watch: str
    watch_id: str
    matched_at: datetime
    article: AlertArticle = Field(
        description="id, title, url, source, published_at, dateline, entities, summary and link "
        "(the article's page on this Dateline)."
    )


def body_of(alert: Alert) -> bytes:
    return (
        WebhookBody(
            alert_id=alert.id,
            watch=alert.watch_name,
            watch_id=alert.watch_id,
            matched_at=alert.matched_at,
            article=alert.article,
        )
        .model_dump_json()
        .encode()
    )


def signature(secret: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What the target said: accepted (2xx), or why not in one line (for last_error)."""

    accepted: bool
    error: str | None = None


def _pinned(url: str, address: str) -> tuple[str, str, str]:
    """(URL with the checked address as host, Host header, host name for TLS)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header, host


def send(client: httpx.Client, url: str, alert: Alert, settings: Settings) -> Outcome:
    """POST the alert to ``url``; never raises for the target's failures."""
    if settings.webhook_secret is None or is_placeholder(settings.webhook_secret.get_secret_value()):
        return Outcome(
            False,
            "DATELINE_WEBHOOK_SECRET is not set (or a placeholder): webhook calls are not sent unsigned. Set it (make setup "
            "writes one into .env) and restart delivery",
        )
    try:
        addresses = resolve_allowed(url, settings.webhook_allowed_hosts)
    except TargetRefused as exc:
        return Outcome(False, f"refused: {exc}")
    body = body_of(alert)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(settings.webhook_secret.get_secret_value(), body),
        ALERT_HEADER: alert.id,
        EVENT_HEADER: "alert",
    }
    last = "no address to connect to"
    for address in addresses:
        target, host_header, host = _pinned(url, address.compressed)
        extensions = {"sni_hostname": host} if target.startswith("https:") else {}
        try:
            response = client.post(
                target, content=body, headers={**headers, "Host": host_header}, extensions=extensions
            )
        except httpx.ConnectError as exc:
            last = f"cannot connect to {host} ({address.compressed}): {exc or type(exc).__name__}"
            continue  # the next address of the name, if any
        except httpx.TimeoutException:
            return Outcome(False, f"no answer within {settings.webhook_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return Outcome(True)
        answer = " ".join(response.text[:ANSWER_SHOWN].split())
        where = (
            f" (redirect to {response.headers.get('location')}, not followed)" if response.is_redirect else ""
        )
        return Outcome(False, f"HTTP {response.status_code}{where}: {answer}".rstrip(": "))
    return Outcome(False, last)


def make_client(settings: Settings) -> httpx.Client:
    """One client for every call (connections reused); proxies from the environment are not
    used: the target must be the checked address itself."""
    return httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False)

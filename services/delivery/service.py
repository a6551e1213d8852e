"""The delivery service: sends the watches' alerts by webhook and email, exactly one process
per alert, retried with back-off while a target fails, nothing lost while it is down.

Each tick reads the due entries of the alerts' outbox (shared/watches/outbox.py: oldest first,
a bounded batch), claims each with optimistic concurrency, sends, and records the outcome:

* accepted (a 2xx, or the SMTP server took the message): ``delivered``;
* anything else: ``retrying``, tried again after 1, 2, 4 ... s up to
  ``delivery_retry_max_seconds``, with the target's answer in ``last_error``; once
  ``delivery_give_up_hours`` have passed since the first try: ``failed``.

Several delivery processes (hosts) may run: the claim makes each entry one process's. A target
that fails is logged once when it starts failing and once when it answers again, never per
alert or per try.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

import httpx
from elasticsearch import Elasticsearch

from services.delivery import email, webhook
from shared.heartbeat import DeliveryDetails, ServiceName
from shared.retry import backoff_seconds
from shared.schemas import utcnow
from shared.service import ServiceLoop
from shared.settings import Settings, is_placeholder
from shared.watches.models import Channel, Delivery, Watch
from shared.watches.outbox import Claim, Due, Outbox, shown_target
from shared.watches.store import WatchStore

log = logging.getLogger("dateline.delivery")

BATCH = 100  # entries per channel and tick
# A claim lasts longer than one send may take (every address of a name, each with its timeout),
# so a slow target never makes a second process send the same alert.
ADDRESSES_TRIED = 4
LEASE_MARGIN_SECONDS = 30.0


class DeliveryService(ServiceLoop):
    service: ClassVar[ServiceName] = "delivery"

    def __init__(
        self,
        es: Elasticsearch,
        alias: str,
        settings: Settings,
        *,
        stop: threading.Event | None = None,
        clock: Callable[[], datetime] = utcnow,
        http: httpx.Client | None = None,
    ):
        super().__init__(settings, stop=stop)
        self.es = es
        self.alias = alias
        self.outbox = Outbox(es, alias)
        self.store = WatchStore(es, alias, settings)
        self.http = http or webhook.make_client(settings)
        self.clock = clock
        self.delivered = 0
        self.retried = 0
        self.failed = 0
        self.failing_targets: dict[str, str] = {}
        self.last_tick_at: datetime | None = None
        self._smtp_retry_at: datetime | None = None

    # --- the service loop -----------------------------------------------------------------
    def setup(self) -> None:
        # The alerts' index exists from the start (an index pattern in Kibana finds it), and an
        # answer from Elasticsearch proves the connection before the first tick.
        self.store.ensure()
        secret = self.settings.webhook_secret
        if secret is None or is_placeholder(secret.get_secret_value()):
            log.warning(
                "DATELINE_WEBHOOK_SECRET is not set: webhooks are not sent (unsigned calls could be forged) "
                "and show as failing in status; set it and restart"
            )
        log.info("delivery sending the alerts of %s", self.alias)

    def step(self) -> None:
        if self.tick() == 0:
            self.stop_event.wait(self.settings.delivery_tick_seconds)

    def teardown(self) -> None:
        self.http.close()

    def details(self) -> DeliveryDetails:
        return DeliveryDetails(
            alias=self.alias,
            delivered=self.delivered,
            retried=self.retried,
            failed=self.failed,
            failing_targets=dict(self.failing_targets),
            last_tick_at=self.last_tick_at,
        )

    # --- one tick -------------------------------------------------------------------------
    def tick(self) -> int:
        """Send what is due now; returns how many entries were tried."""
        now = self.clock()
        watches: dict[str, Watch | None] = {}
        tried = self._webhooks(now, watches) + self._emails(now, watches)
        self.last_tick_at = now
        return tried

    def _watch(self, due: Due, watches: dict[str, Watch | None]) -> Watch | None:
        """The alert's watch (read once per tick); None when it was removed (with its alerts)."""
        ident = due.alert.watch_id
        if ident not in watches:
            watch = self.store.get(due.alert.watch_name)
            watches[ident] = watch if watch is not None and watch.id == ident else None
        return watches[ident]

    def _webhooks(self, now: datetime, watches: dict[str, Watch | None]) -> int:
        tried = 0
        lease = self.settings.webhook_timeout_seconds * ADDRESSES_TRIED + LEASE_MARGIN_SECONDS
        # A target that just failed is not tried again for its other alerts in this tick: they
        # wait for its next try (one probe per back-off, not a timeout per alert).
        paused: dict[str, datetime] = {}
        for due in self.outbox.due("webhook", now, BATCH):
            if self.stopping:
                break
            watch = self._watch(due, watches)
            if watch is None:
                continue
            if watch.webhook in paused:
                self.outbox.defer(due, "webhook", paused[watch.webhook])
                continue
            claim = self.outbox.claim(
                due, "webhook", now, lease, shown_target("webhook", watch.webhook or "")
            )
            if claim is None:
                continue  # another process has it, or this hit was stale
            tried += 1
            if not watch.webhook:
                self._settle(claim, False, "the watch has no webhook any more", give_up=True)
                continue
            outcome = webhook.send(self.http, watch.webhook, claim.alert, self.settings)
            retry_at = self._settle(claim, outcome.accepted, outcome.error)
            if retry_at is not None:
                paused[watch.webhook] = retry_at
        return tried

    def _emails(self, now: datetime, watches: dict[str, Watch | None]) -> int:
        tried = 0
        lease = email.SMTP_TIMEOUT_SECONDS * 2 + LEASE_MARGIN_SECONDS
        digests: dict[tuple[str, datetime], list[Due]] = defaultdict(list)
        self._smtp_retry_at = None  # set when the SMTP server fails in this tick
        for due in self.outbox.due("email", now, BATCH):
            if self.stopping:
                break
            watch = self._watch(due, watches)
            if watch is None:
                continue
            if self._smtp_retry_at is not None:
                self.outbox.defer(due, "email", self._smtp_retry_at)
                continue
            if watch.email_mode == "each" or not watch.email:
                claim = self.outbox.claim(due, "email", now, lease, shown_target("email", watch.email or ""))
                if claim is None:
                    continue
                tried += 1
                if not watch.email:
                    self._settle(claim, False, "the watch has no email address any more", give_up=True)
                    continue
                self._settle_email([claim], watch, email.message(self.settings, watch, [claim.alert]))
                continue
            closes = email.window_end(due.alert.matched_at, watch.email_mode)
            entry = due.alert.email
            if entry is not None and entry.attempts == 0 and closes > now:
                # The digest's window is open: come back when it closes.
                self.outbox.defer(due, "email", closes)
                continue
            digests[(watch.id, closes)].append(due)
        for (ident, closes), group in digests.items():
            if self._smtp_retry_at is not None:
                break  # due again next tick, after the back-off of the failed email's alerts
            watch = watches[ident]
            assert watch is not None and watch.email  # grouped above only then
            shown = shown_target("email", watch.email)
            claims = [c for d in group if (c := self.outbox.claim(d, "email", now, lease, shown))]
            if not claims:
                continue
            tried += len(claims)
            claims.sort(key=lambda c: (c.alert.matched_at, c.alert.id))
            mail = email.message(self.settings, watch, [c.alert for c in claims], closed=closes)
            self._settle_email(claims, watch, mail)
        return tried

    def _settle_email(self, claims: list[Claim], watch: Watch, mail: email.EmailMessage) -> None:
        error = email.send(self.settings, mail)
        for claim in claims:
            # Each alert of a digest is delivered only when the digest was accepted.
            retry_at = self._settle(claim, error is None, error)
            if retry_at is not None:
                self._smtp_retry_at = retry_at

    # --- outcomes -------------------------------------------------------------------------
    def _settle(
        self, claim: Claim, accepted: bool, error: str | None, *, give_up: bool = False
    ) -> datetime | None:
        """Record the outcome; returns when a failed entry is tried next (None: not retried)."""
        now = self.clock()
        entry = claim.delivery
        target = self._target_name(claim.channel, entry)
        if accepted:
            settled = entry.model_copy(
                update={
                    "state": "delivered",
                    "delivered_at": now,
                    "next_attempt_at": None,
                    "last_error": None,
                }
            )
            self._target_up(target)
        else:
            first = entry.first_attempt_at or now
            if give_up or now >= first + timedelta(hours=self.settings.delivery_give_up_hours):
                settled = entry.model_copy(
                    update={"state": "failed", "next_attempt_at": None, "last_error": error}
                )
            else:
                wait = backoff_seconds(entry.attempts, self.settings.delivery_retry_max_seconds)
                settled = entry.model_copy(
                    update={
                        "state": "retrying",
                        "next_attempt_at": now + timedelta(seconds=wait),
                        "last_error": error,
                    }
                )
            self._target_down(target, claim, error or "no answer")
        retry_at = settled.next_attempt_at if settled.state == "retrying" else None
        if not self.outbox.settle(claim, settled):
            return retry_at
        if settled.state == "delivered":
            self.delivered += 1
        elif settled.state == "failed":
            self.failed += 1
            log.error(
                "gave up the %s of alert %s (watch %r, %s) after %d tries: %s",
                claim.channel,
                claim.alert.id,
                claim.alert.watch_name,
                target,
                settled.attempts,
                error,
            )
        else:
            self.retried += 1
        return retry_at

    def _target_name(self, channel: Channel, entry: Delivery) -> str:
        if channel == "email":
            return f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}"
        return entry.target or "?"

    def _target_down(self, target: str, claim: Claim, error: str) -> None:
        if target not in self.failing_targets:
            # One line per outage of a target, not one per alert or try.
            log.error(
                "%s %s is failing (watch %r): %s; its alerts wait and are retried with back-off up to %g s",
                claim.channel,
                target,
                claim.alert.watch_name,
                error,
                self.settings.delivery_retry_max_seconds,
            )
        self.failing_targets[target] = error

    def _target_up(self, target: str) -> None:
        if self.failing_targets.pop(target, None) is not None:
            log.warning("%s accepts again; its waiting alerts are being sent", target)


def build_delivery(
    settings: Settings, es: Elasticsearch, alias: str | None = None, stop: threading.Event | None = None
) -> DeliveryService:
    return DeliveryService(es, alias or settings.index, settings, stop=stop)

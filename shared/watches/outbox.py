"""The alerts' outbox: which webhook and email deliveries are due, claiming one so that exactly
one delivery process sends it, settling it after, and what status shows about them.

Every alert (``<alias>-alerts``, written by the indexer) carries one ``Delivery`` per channel
the watch has. A delivery process works through them like this:

1. ``due``: the entries in state pending/retrying whose ``next_attempt_at`` has come, oldest
   first, a bounded batch, each with the alert's ``_seq_no``/``_primary_term``.
2. ``claim``: an update of that entry conditioned on the same ``_seq_no``/``_primary_term``
   (optimistic concurrency): it writes a claim token and moves ``next_attempt_at`` a lease
   ahead. Of two processes (on two hosts) that read the same entry, one claim succeeds and
   the other gets 409 and leaves it. A stale search hit (the index refreshes every second)
   carries an old ``_seq_no`` and is refused the same way.
3. The process sends, then ``settle`` writes delivered / retrying / failed, but only while its
   claim token is still the entry's (read, check, write with ``if_seq_no``, again on 409:
   the other channel of the same alert may have been updated meanwhile).

What this means for exactly once: a process killed between sending and settling leaves the
entry claimed; once the lease runs out it is due again and is sent a second time. That is the
one window for a repeat, so every webhook call carries the alert id (``X-Dateline-Alert``) and
every email a ``Message-ID`` made from it, and a receiver that keeps the ids it saw drops the
repeat. Nothing is lost: an entry is only ever ``delivered`` after the target accepted it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from elasticsearch import ConflictError, Elasticsearch, NotFoundError
from pydantic import BaseModel, Field, computed_field

from shared.watches.models import Alert, Channel, Delivery, alert_index

log = logging.getLogger(__name__)

CHANNELS: tuple[Channel, ...] = ("webhook", "email")
OPEN_STATES = ("pending", "retrying")
SETTLE_ATTEMPTS = 10  # 409s in a row while settling: the other channel's updates racing ours
FAILING_SHOWN = 20  # failing deliveries status lists per channel
FAILED_RECENT = timedelta(days=1)  # failed deliveries older than this no longer degrade status


@dataclass(frozen=True)
class Due:
    """An alert with a delivery that may be sent now, as read (with its version)."""

    alert: Alert
    seq_no: int
    primary_term: int


@dataclass(frozen=True)
class Claim:
    """An entry this process holds until ``lease_until``."""

    alert: Alert
    channel: Channel
    token: str
    delivery: Delivery  # the entry as claimed (attempts counted, target set)
    lease_until: datetime
    seq_no: int  # the record's version as this claim wrote it (settling tries it first)
    primary_term: int


class Outbox:
    """The deliveries of the article alias ``alias``'s alerts."""

    def __init__(self, es: Elasticsearch, alias: str):
        self.es = es
        self.index = alert_index(alias)

    def due(self, channel: Channel, now: datetime, size: int) -> list[Due]:
        """Entries of ``channel`` to send now, oldest first (at most ``size``)."""
        found = self.es.search(
            index=self.index,
            query={
                "bool": {
                    "filter": [
                        {"terms": {f"{channel}.state": list(OPEN_STATES)}},
                        {"range": {f"{channel}.next_attempt_at": {"lte": now.isoformat()}}},
                    ]
                }
            },
            sort=[{f"{channel}.next_attempt_at": "asc"}, {"matched_at": "asc"}, {"id": "asc"}],
            size=size,
            seq_no_primary_term=True,
            ignore_unavailable=True,  # no alert yet: nothing to send
        )
        return [
            Due(Alert.model_validate(hit["_source"]), int(hit["_seq_no"]), int(hit["_primary_term"]))
            for hit in found["hits"]["hits"]
        ]

    def claim(
        self, due: Due, channel: Channel, now: datetime, lease_seconds: float, target: str
    ) -> Claim | None:
        """Hold the entry for ``lease_seconds``; None when another process changed it first."""
        current = getattr(due.alert, channel)
        if current is None:
            return None
        token = uuid.uuid4().hex
        lease_until = now + timedelta(seconds=lease_seconds)
        claimed = current.model_copy(
            update={
                "attempts": current.attempts + 1,
                "last_attempt_at": now,
                "first_attempt_at": current.first_attempt_at or now,
                "next_attempt_at": lease_until,
                "target": target,
                "claimed_by": token,
            }
        )
        written = self._write(due.alert, channel, claimed, due.seq_no, due.primary_term)
        if written is None:
            return None
        return Claim(due.alert, channel, token, claimed, lease_until, *written)

    def defer(self, due: Due, channel: Channel, until: datetime) -> bool:
        """Leave the entry for later without trying it (a digest's window still open)."""
        current = getattr(due.alert, channel)
        if current is None:
            return False
        later = current.model_copy(update={"next_attempt_at": until})
        return self._write(due.alert, channel, later, due.seq_no, due.primary_term) is not None

    def settle(self, claim: Claim, delivery: Delivery) -> bool:
        """Write the outcome of a claimed entry (its claim cleared); False when the claim is not
        ours any more (the lease ran out and another process claimed it) or the alert is gone."""
        settled = delivery.model_copy(update={"claimed_by": None})
        # Usually nothing changed the record since the claim: write over that version at once.
        claimed = claim.alert.model_copy(update={claim.channel: claim.delivery})
        if self._write(claimed, claim.channel, settled, claim.seq_no, claim.primary_term) is not None:
            return True
        for _ in range(SETTLE_ATTEMPTS):
            # Something did (the alert's other channel): read it, check the claim is still ours.
            try:
                found = self.es.get(index=self.index, id=claim.alert.id)
            except NotFoundError:
                return False  # the watch was removed with its alerts
            current = Alert.model_validate(found["_source"])
            entry = getattr(current, claim.channel)
            if entry is None or entry.claimed_by != claim.token:
                log.warning(
                    "the %s delivery of alert %s was claimed by another process after this one's lease "
                    "ran out; leaving it to that one",
                    claim.channel,
                    claim.alert.id,
                )
                return False
            if self._write(current, claim.channel, settled, found["_seq_no"], found["_primary_term"]):
                return True
        log.error(
            "could not record the %s delivery of alert %s: it kept changing", claim.channel, claim.alert.id
        )
        return False

    def _write(
        self, alert: Alert, channel: Channel, delivery: Delivery, seq_no: int, term: int
    ) -> tuple[int, int] | None:
        """Write ``alert`` with ``channel``'s entry replaced, only over version (seq_no, term);
        the new version, or None when the record changed (or went) meanwhile.

        The whole record, not a partial update: the caller holds exactly that version, and an
        update would read the record first (a realtime get, which refreshes the shard when the
        record changed since the last refresh, as it just did). Measured with
        tests/bench/delivery.py: 18 alerts/s with updates, 22 with this, against ~400-700 signed
        POSTs/s alone. The two durable writes per alert (claim, then outcome) are part of the
        rest: with the alerts index's translog made async it was 30 alerts/s (kept durable: a
        claim lost in a crash would let a second process send the alert too)."""
        record = alert.model_copy(update={channel: delivery})
        try:
            written = self.es.index(
                index=self.index,
                id=alert.id,
                document=record.model_dump(mode="json"),
                if_seq_no=seq_no,
                if_primary_term=term,
            )
        except (ConflictError, NotFoundError):
            return None
        return int(written["_seq_no"]), int(written["_primary_term"])


def shown_target(channel: Channel, target: str) -> str:
    """Where a delivery goes, as status, the alert records and the log show it: a webhook's
    origin without its path and query, an address with its local part masked. A webhook URL
    often holds a secret (Slack-style URLs do) and an address is personal; the alert pages and
    status are open to every reader, like search, so neither is shown whole."""
    if not target:
        return ""
    if channel == "email":
        local, at, domain = target.rpartition("@")
        return f"{local[:1]}…{at}{domain}" if at else "…"
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/…"


# --- what status shows ---------------------------------------------------------------------


class FailingDelivery(BaseModel):
    """A delivery whose target does not accept it (retrying), or that was given up (failed)."""

    alert_id: str
    watch: str
    channel: Channel
    state: str
    target: str | None = Field(
        None, description="Where it goes, shown without secrets: the webhook's origin, the masked address."
    )
    attempts: int
    last_error: str | None = Field(
        None, description="The target's answer (status and body start) or the error."
    )
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    article: str = Field(description="The alerted article's title.")


class DeliveryStatus(BaseModel):
    """Deliveries of alerts per channel and state, and the failing ones."""

    counts: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="channel -> state (pending, retrying, delivered, failed) -> count."
    )
    failing: list[FailingDelivery] = Field(
        default_factory=list,
        description="Retrying now, or failed within the last day; newest try first.",
    )

    def total(self, state: str) -> int:
        return sum(by_state.get(state, 0) for by_state in self.counts.values())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pending(self) -> int:
        return self.total("pending")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delivered(self) -> int:
        return self.total("delivered")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def retrying(self) -> int:
        return self.total("retrying")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failed(self) -> int:
        return self.total("failed")


def delivery_status(es: Elasticsearch, alias: str, now: datetime) -> DeliveryStatus:
    """Counts per channel and state, and the failing deliveries, in one request."""
    index = alert_index(alias)
    aggs: dict[str, Any] = {
        channel: {"terms": {"field": f"{channel}.state", "size": 10}} for channel in CHANNELS
    }
    failing_query = {
        "bool": {
            "should": [
                clause
                for channel in CHANNELS
                for clause in (
                    {"term": {f"{channel}.state": "retrying"}},
                    {
                        "bool": {
                            "filter": [
                                {"term": {f"{channel}.state": "failed"}},
                                {
                                    "range": {
                                        f"{channel}.last_attempt_at": {
                                            "gte": (now - FAILED_RECENT).isoformat()
                                        }
                                    }
                                },
                            ]
                        }
                    },
                )
            ],
            "minimum_should_match": 1,
        }
    }
    found = es.search(
        index=index,
        # The counts over every alert, the hits only the failing ones (post_filter applies to
        # hits, not to aggregations).
        post_filter=failing_query,
        aggs=aggs,
        size=FAILING_SHOWN * len(CHANNELS),
        sort=[{"matched_at": "desc"}],
        ignore_unavailable=True,
        track_total_hits=False,
    )
    counts: dict[str, dict[str, int]] = {
        channel: {
            str(bucket["key"]): int(bucket["doc_count"])
            for bucket in found.get("aggregations", {}).get(channel, {}).get("buckets", [])
        }
        for channel in CHANNELS
    }
    failing = list(_failing(found["hits"]["hits"], now))
    failing.sort(key=lambda f: f.last_attempt_at or now, reverse=True)
    return DeliveryStatus(counts=counts, failing=failing)


def _failing(hits: list[dict[str, Any]], now: datetime) -> Iterator[FailingDelivery]:
    for hit in hits:
        alert = Alert.model_validate(hit["_source"])
        for channel in CHANNELS:
            entry: Delivery | None = getattr(alert, channel)
            if entry is None:
                continue
            recent = entry.last_attempt_at is not None and entry.last_attempt_at >= now - FAILED_RECENT
            if entry.state == "retrying" or (entry.state == "failed" and recent):
                yield FailingDelivery(
                    alert_id=alert.id,
                    watch=alert.watch_name,
                    channel=channel,
                    state=entry.state,
                    target=entry.target,
                    attempts=entry.attempts,
                    last_error=entry.last_error,
                    last_attempt_at=entry.last_attempt_at,
                    next_attempt_at=entry.next_attempt_at,
                    article=alert.article.title,
                )

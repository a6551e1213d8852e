"""The Redis side of the indexer: read the index stream as a consumer group member.

Entries are acknowledged only by ``ack`` after Elasticsearch took them; an indexer that dies
leaves its entries pending, and ``reclaim`` (XAUTOCLAIM) lets a live one take them over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import ValidationError

from shared.keys import INDEX_DEAD_LETTER_STREAM, INDEX_GROUP, INDEX_STREAM
from shared.pipeline import UnsendableMessage, encode_message
from shared.redis_client import as_text
from shared.schemas import IndexRequest

# Entries that could not be decoded, with the raw payload, for a person to look at.
DEAD_LETTER_MAXLEN = 100_000


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Entry:
    id: str
    fields: dict[str, str]


@dataclass
class Malformed:
    entry: Entry
    path: str
    reason: str


@dataclass
class Refused:
    """A readable request whose document cannot be indexed as it is (over the message size
    cap, or text that cannot be encoded): its file fails with ``reason``."""

    entry: Entry
    request: IndexRequest
    reason: str


def decode(entry: Entry, max_bytes: int | None = None) -> IndexRequest | Malformed | Refused:
    """The entry's ``IndexRequest``, or why it is not one (and which file it seems to be of),
    or why its document cannot be indexed (``max_bytes``: the message size cap, default
    ``DATELINE_MAX_MESSAGE_MB``)."""
    raw = entry.fields.get("request")
    if raw is None:
        return Malformed(entry, f"stream entry {entry.id}", "the entry has no 'request' field")
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        return Malformed(entry, f"stream entry {entry.id}", f"the request is not JSON ({exc})")
    path = payload.get("source_path") if isinstance(payload, dict) else None
    path = path if isinstance(path, str) and path else f"stream entry {entry.id}"
    try:
        request = IndexRequest.from_wire(payload)
    except (ValidationError, ValueError) as exc:
        return Malformed(entry, path, f"the index request is invalid: {exc}")
    if request.action == "upsert" and request.document is None:
        return Malformed(entry, path, "an upsert request without a document")
    try:
        # Checked again on receipt: an entry another sender (or an older release) added past
        # the hand-on's checks must fail its file, not the bulk request it would share.
        encode_message(request, max_bytes)
    except UnsendableMessage as exc:
        return Refused(entry, request, str(exc))
    return request


class StreamConsumer:
    def __init__(
        self,
        client: redis.Redis,
        consumer: str | None = None,
        stream: str = INDEX_STREAM,
        group: str = INDEX_GROUP,
        dead_letter_stream: str = INDEX_DEAD_LETTER_STREAM,
    ):
        self.redis = client
        self.consumer = consumer or consumer_name()
        self.stream = stream
        self.group = group
        self.dead_letter_stream = dead_letter_stream

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, count: int, block_seconds: float) -> list[Entry]:
        """Up to ``count`` new entries: waits at most ``block_seconds`` for the first, then at
        most ``block_seconds`` from the first for the batch to fill (DATELINE_INDEX_FLUSH_SECONDS:
        the longest a partial batch waits). Written as they trickle in, each article cost a bulk
        request, a match against the watches and its Redis round trips of its own: at 5 articles
        a second the indexer spent 8.9 ms of CPU per article and Elasticsearch 25 ms; batched,
        6.3-7.3 and 10-16 ms (`make bench`, part 3)."""
        deadline = time.monotonic() + block_seconds
        entries: list[Entry] = []
        while len(entries) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            got = self._parse(
                self.redis.xreadgroup(
                    self.group,
                    self.consumer,
                    {self.stream: ">"},
                    count=count - len(entries),
                    block=max(1, int(remaining * 1000)),
                )
            )
            if not got:
                break
            if not entries:  # the batch's wait starts with its first entry
                deadline = time.monotonic() + block_seconds
            entries.extend(got)
        return entries

    def reclaim(self, min_idle_seconds: float, count: int) -> list[Entry]:
        """Take over entries another (probably dead) consumer left pending too long."""
        reply = self.redis.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=int(min_idle_seconds * 1000),
            start_id="0-0",
            count=count,
        )
        claimed = reply[1] if len(reply) > 1 else []
        return [self._entry(entry_id, fields) for entry_id, fields in claimed if fields is not None]

    def touch(self, ids: Sequence[str]) -> None:
        """Reset the idle time of entries we still work on, so no one reclaims them."""
        if ids:
            self.redis.xclaim(self.stream, self.group, self.consumer, 0, list(ids), justid=True)

    def ack(self, ids: Sequence[str]) -> None:
        if ids:
            self.redis.xack(self.stream, self.group, *ids)

    def dead_letter(self, item: Malformed) -> None:
        self.redis.xadd(
            self.dead_letter_stream,
            {
                "entry_id": item.entry.id,
                "path": item.path,
                "reason": item.reason,
                "payload": json.dumps(item.entry.fields),
            },
            maxlen=DEAD_LETTER_MAXLEN,
            approximate=True,
        )

    def pending_ids(self) -> list[str]:
        """Ids pending for this consumer (for status and tests)."""
        rows = self.redis.xpending_range(
            self.stream, self.group, min="-", max="+", count=10_000, consumername=self.consumer
        )
        return [as_text(row["message_id"]) for row in rows]

    def _parse(self, reply: Any) -> list[Entry]:
        entries: list[Entry] = []
        for _stream, items in reply or []:
            entries.extend(self._entry(entry_id, fields) for entry_id, fields in items)
        return entries

    @staticmethod
    def _entry(entry_id: Any, fields: dict[Any, Any]) -> Entry:
        return Entry(as_text(entry_id), {as_text(k): as_text(v) for k, v in (fields or {}).items()})

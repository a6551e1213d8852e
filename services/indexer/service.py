"""The indexer service: stream entries in, Elasticsearch bulk writes out, acks and registry after.

Order matters for never losing work: write to Elasticsearch, then XACK, then tell the
registry. A crash between steps only repeats idempotent work. While Elasticsearch is
unreachable the batch is retried with a capped back-off and nothing is acknowledged.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any, ClassVar

import redis
from elasticsearch import Elasticsearch

from services.indexer.consumer import Entry, Malformed, StreamConsumer, decode
from services.indexer.writer import BulkWriter, ElasticsearchUnavailable
from shared.registry import Failure, Registry
from shared.schemas import IndexRequest, utcnow
from shared.search.index import ensure_index
from shared.service import Backoff, ServiceLoop
from shared.settings import Settings
from shared.throughput import record_indexed

log = logging.getLogger("dateline.indexer")

RECLAIM_IDLE_SECONDS = 60.0


class Indexer(ServiceLoop):
    service: ClassVar[str] = "indexer"

    def __init__(
        self,
        writer: BulkWriter,
        consumer: StreamConsumer,
        registry: Registry,
        settings: Settings,
        stop: threading.Event | None = None,
    ):
        super().__init__(settings, stop=stop, connect_redis=lambda: consumer.redis)
        self.writer = writer
        self.consumer = consumer
        self.registry = registry
        self.indexed = 0
        self.errors = 0
        self.last_batch_at: datetime | None = None

    # --- the service loop -----------------------------------------------------------------
    def setup(self) -> None:
        index = ensure_index(self.writer.es, self.writer.alias, self.settings)
        self.consumer.ensure_group()
        log.info("indexer %s writing to alias %s (index %s)", self.consumer.consumer, self.writer.alias, index)

    def step(self) -> None:
        batch = self.settings.index_batch_size
        entries = self.consumer.reclaim(RECLAIM_IDLE_SECONDS, batch)
        if not entries:
            entries = self.consumer.read(batch, self.settings.index_flush_seconds)
        if entries:
            self.handle(entries)

    def details(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer.consumer,
            "alias": self.writer.alias,
            "indexed": self.indexed,
            "errors": self.errors,
            "last_batch_at": self.last_batch_at.isoformat() if self.last_batch_at else None,
        }

    # --- one batch ------------------------------------------------------------------------
    def handle(self, entries: list[Entry], max_attempts: int | None = None) -> bool:
        """Apply ``entries``; True when they are all acknowledged.

        Retries while Elasticsearch is unavailable, until it works, ``stop`` is set, or
        ``max_attempts`` is used up; the entries then stay pending for a later try.
        """
        requests: list[tuple[str, IndexRequest]] = []
        for entry in entries:
            decoded = decode(entry)
            if isinstance(decoded, Malformed):
                self._reject_malformed(decoded)
            elif self._is_stale(entry.id, decoded):
                self.consumer.ack([entry.id])
            else:
                requests.append((entry.id, decoded))
        if not requests:
            return True

        backoff, attempt = Backoff(), 0
        while True:
            attempt += 1
            try:
                result = self.writer.write(requests)
                break
            except ElasticsearchUnavailable as exc:
                # One log line per outage, not per retry; the entries stay pending meanwhile.
                self.outages.down("Elasticsearch", exc)
                if (max_attempts is not None and attempt >= max_attempts) or self.stop_event.wait(backoff.next()):
                    return False
                self.consumer.touch([entry_id for entry_id, _ in requests])
        self.outages.up()

        for rejection in result.rejected:
            self.errors += 1
            doc = rejection.request.document
            where = f" (record {doc.record})" if doc is not None and doc.record else ""
            self.registry.record_failure(
                Failure(
                    path=rejection.request.source_path,
                    reason=f"Elasticsearch rejected document {rejection.doc_id}{where}: "
                    f"{rejection.reason}. The index mapping does not accept this value; "
                    "fix the article or the mapping, then reprocess the file.",
                    stage="index",
                )
            )
        self.consumer.ack([entry_id for entry_id, _ in requests])
        upserts = 0
        for _entry_id, request in result.written:
            if request.action == "upsert" and request.document is not None:
                self.registry.mark_indexed(request.source_path, request.revision, request.document.id)
                upserts += 1
        self.indexed += upserts
        # The per-minute counter behind the status views' rate and ETA.
        record_indexed(self.registry.redis, upserts)
        self.last_batch_at = utcnow()
        return True

    def _reject_malformed(self, item: Malformed) -> None:
        log.error("malformed index request %s: %s", item.entry.id, item.reason)
        self.errors += 1
        self.registry.record_failure(
            Failure(
                path=item.path,
                reason=f"{item.reason}. The entry was moved to the Redis stream "
                f"{self.consumer.dead_letter_stream}; re-ingest the file to index it.",
                stage="index",
            )
        )
        self.consumer.dead_letter(item)
        self.consumer.ack([item.entry.id])

    def _is_stale(self, entry_id: str, request: IndexRequest) -> bool:
        """An upsert whose file was deleted or has moved on to a newer revision."""
        if request.action != "upsert":
            return False  # deletes are versioned: an old one cannot remove newer documents
        record = self.registry.get(request.source_path)
        if record is None or record.state == "deleted" or record.revision > request.revision:
            log.info(
                "skipping stale document of %s (revision %d; registry: %s)",
                request.source_path, request.revision,
                "missing" if record is None else f"{record.state} r{record.revision}",
            )
            return True
        return False

def build_indexer(
    settings: Settings,
    es: Elasticsearch,
    client: redis.Redis,
    alias: str | None = None,
    consumer: str | None = None,
    stop: threading.Event | None = None,
) -> Indexer:
    alias = alias or settings.index
    return Indexer(
        BulkWriter(es, alias, settings),
        StreamConsumer(client, consumer),
        Registry(client),
        settings,
        stop,
    )

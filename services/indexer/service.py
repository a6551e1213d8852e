"""The indexer service: stream entries in, Elasticsearch bulk writes out, acks and registry after.

Order matters for never losing work: write to Elasticsearch, then XACK, then tell the
registry. A crash between steps only repeats idempotent work. While Elasticsearch is
unreachable the batch is retried with a capped back-off and nothing is acknowledged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, TypeVar

import redis
from elasticsearch import ApiError, Elasticsearch, TransportError

from services.indexer.consumer import Entry, Malformed, Refused, StreamConsumer, decode
from services.indexer.writer import BatchResult, BulkWriter, ElasticsearchUnavailable
from shared.heartbeat import IndexerDetails, ServiceName
from shared.progress import ProgressLog
from shared.registry import Failure, FileRecord, Registry, why_superseded
from shared.retry import GaveUp, retry_call
from shared.schemas import IndexRequest, utcnow
from shared.search.client import retryable_status
from shared.search.index import ensure_index
from shared.service import ServiceLoop
from shared.settings import Settings
from shared.stories.index import StoryIndex
from shared.stories.signature import signature
from shared.stories.wire import carried_from
from shared.throughput import record_indexed
from shared.watches.matching import AlertRaiser, AlertsNotWritten

log = logging.getLogger("dateline.indexer")

RECLAIM_IDLE_SECONDS = 60.0
T = TypeVar("T")


class Indexer(ServiceLoop):
    service: ClassVar[ServiceName] = "indexer"

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
        self.progress = ProgressLog(registry.redis)
        self.stories = StoryIndex(registry.redis, settings.story_threshold)
        self.alerter = AlertRaiser(writer.es, writer.alias, settings)
        self.indexed = 0
        self.errors = 0
        self.alerts = 0
        self.last_batch_at: datetime | None = None

    # --- the service loop -----------------------------------------------------------------
    def setup(self) -> None:
        index = ensure_index(self.writer.es, self.writer.alias, self.settings)
        self.consumer.ensure_group()
        if moved := self.stories.pack_old_buckets():  # a story index from before buckets were packed
            log.info("moved %d story buckets into their shards", moved)
        log.info(
            "indexer %s writing to alias %s (index %s)", self.consumer.consumer, self.writer.alias, index
        )

    def step(self) -> None:
        batch = self.settings.index_batch_size
        entries = self.consumer.reclaim(RECLAIM_IDLE_SECONDS, batch)
        if not entries:
            entries = self.consumer.read(batch, self.settings.index_flush_seconds)
        if entries:
            self.handle(entries)

    def details(self) -> IndexerDetails:
        return IndexerDetails(
            consumer=self.consumer.consumer,
            alias=self.writer.alias,
            indexed=self.indexed,
            errors=self.errors,
            alerts=self.alerts,
            last_batch_at=self.last_batch_at,
        )

    # --- one batch ------------------------------------------------------------------------
    def handle(self, entries: list[Entry], max_attempts: int | None = None) -> bool:
        """Apply ``entries``; True when they are all acknowledged.

        Retries while Elasticsearch is unavailable, until it works, ``stop`` is set, or
        ``max_attempts`` is used up; the entries then stay pending for a later try.
        """
        requests = self._sort_out(entries)
        if not requests:
            return True
        self._group_stories(requests)
        result = self._write(requests, max_attempts)
        if result is None:
            return False
        # Between the write and the ack: a crash here leaves the entries pending, so the
        # batch is written and matched again (both idempotent) and no match is ever lost.
        if not self._raise_alerts(requests, result, max_attempts):
            return False
        self._settle(requests, result)
        return True

    def _sort_out(self, entries: list[Entry]) -> list[tuple[str, IndexRequest]]:
        """The entries to write; the malformed, the refused and the stale are dealt with here."""
        requests: list[tuple[str, IndexRequest]] = []
        readable: list[tuple[str, IndexRequest]] = []
        for entry in entries:
            decoded = decode(entry, self.settings.max_message_bytes)
            if isinstance(decoded, Malformed):
                self._reject_malformed(decoded)
            elif isinstance(decoded, Refused):
                self._refuse(decoded)
            else:
                readable.append((entry.id, decoded))
        # The batch's file records in one MGET (a GET per document was a round trip each).
        records = self.registry.get_many(sorted({request.source_path for _, request in readable}))
        for entry_id, request in readable:
            if self._is_stale(request, records.get(request.source_path)):
                self.consumer.ack([entry_id])
            else:
                requests.append((entry_id, request))
        return requests

    def _while_elasticsearch_fails(
        self,
        call: Callable[[], T],
        retry_if: Callable[[BaseException], bool],
        requests: list[tuple[str, IndexRequest]],
        max_attempts: int | None,
    ) -> T | None:
        """``call()``, retried while Elasticsearch fails as ``retry_if`` says; None when given up
        (the entries stay pending, claimed by this consumer: ``touch`` keeps them so meanwhile)."""
        try:
            result = retry_call(
                call,
                retry_if=retry_if,
                wait=self.stop_event.wait,
                max_attempts=max_attempts,
                # One log line per outage, not per retry.
                on_failure=lambda exc: self.outages.down("Elasticsearch", exc),
                before_retry=lambda: self.consumer.touch([entry_id for entry_id, _ in requests]),
            )
        except GaveUp:
            return None
        self.outages.up()
        return result

    def _write(
        self, requests: list[tuple[str, IndexRequest]], max_attempts: int | None
    ) -> BatchResult | None:
        """The bulk write, retried while Elasticsearch is unavailable; None when given up."""
        return self._while_elasticsearch_fails(
            lambda: self.writer.write(requests),
            lambda exc: isinstance(exc, ElasticsearchUnavailable),
            requests,
            max_attempts,
        )

    def _raise_alerts(
        self, requests: list[tuple[str, IndexRequest]], result: BatchResult, max_attempts: int | None
    ) -> bool:
        """Match the written documents against every watch and create their new alerts,
        retried like the write; False when given up (the entries stay pending)."""
        documents = [
            request.document
            for _entry_id, request in result.written
            if request.action == "upsert" and request.document is not None
        ]
        if not documents:
            return True
        raised = self._while_elasticsearch_fails(
            lambda: self.alerter.raise_alerts(documents), _alerts_retryable, requests, max_attempts
        )
        if raised is None:
            return False
        self.alerts += raised
        return True

    def _settle(self, requests: list[tuple[str, IndexRequest]], result: BatchResult) -> None:
        """Acknowledge what Elasticsearch answered; record the written and the rejected."""
        rejected = []
        for rejection in result.rejected:
            self.errors += 1
            doc = rejection.request.document
            where = f" (record {doc.record})" if doc is not None and doc.record else ""
            rejected.append(
                Failure(
                    path=rejection.request.source_path,
                    reason=f"Elasticsearch rejected document {rejection.doc_id}{where}: "
                    f"{rejection.reason}. The index mapping does not accept this value; "
                    "fix the article or the mapping, then reprocess the file.",
                    stage="index",
                )
            )
        self.consumer.ack([entry_id for entry_id, _ in requests])
        # After the ack: a crash before these lines leaves documents in Elasticsearch that the
        # registry does not know about yet; the reconciler finds them there and catches up.
        finished: list[tuple[str, int]] = []
        for rejection, failure in zip(result.rejected, rejected, strict=True):
            # The file ends failed with the reason: it can never be wholly indexed as it is.
            # (Not when it moved on to a newer revision meanwhile: that one is judged by itself.)
            self.registry.mark_failed(failure.path, rejection.request.revision, failure)
            if rejection.request.action == "upsert":
                finished.append((rejection.doc_id, rejection.request.revision))
        written = [
            (request.source_path, request.revision, request.document.id)
            for _entry_id, request in result.written
            if request.action == "upsert" and request.document is not None
        ]
        # The batch's registry notes and progress records, a few round trips for them all.
        self.registry.mark_indexed_many(written)
        self.progress.finished_many(finished + [(doc_id, revision) for _path, revision, doc_id in written])
        self.indexed += len(written)
        # The per-minute counter behind the status views' rate and ETA.
        record_indexed(self.registry.redis, len(written))
        self.last_batch_at = utcnow()

    def _group_stories(self, requests: list[tuple[str, IndexRequest]]) -> None:
        """Each upserted document gets its story; deleted ones leave theirs.

        Here, before the write: the story index in Redis is shared by every indexer on every
        host and assignment is idempotent, so a batch written again (Elasticsearch was away,
        this indexer died and another reclaimed the entries) gets the same stories. Done in
        the indexer rather than a worker stage because the indexer sees every change of a
        file - new, changed, deleted - in order, and a stage would not see deletions."""
        for _entry_id, request in requests:
            document = request.document
            if request.action == "upsert" and document is not None:
                assignment = self.stories.assign(
                    document.id,
                    document.source_path,
                    document.content_sha256,
                    signature(document.body),
                    request.revision,
                )
                document.story_id = assignment.story_id
                document.story_joined = assignment.joined
                document.carried_from = carried_from(document.title, document.body)
            elif request.action == "delete" and request.doc_ids is not None:
                self.stories.remove(request.doc_ids, request.revision)
            elif request.action == "delete":
                self.stories.remove_file(request.source_path, revision=request.revision)

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

    def _refuse(self, item: Refused) -> None:
        """A document that cannot be indexed as it is: its file fails with the reason at
        once (no dead letter: the file itself is the copy to fix and put back)."""
        request, doc = item.request, item.request.document
        log.error("refused index request %s of %s: %s", item.entry.id, request.source_path, item.reason)
        self.errors += 1
        where = f" (record {doc.record})" if doc is not None and doc.record else ""
        failure = Failure(
            path=request.source_path,
            stage="index",
            reason=f"the indexer refused the document{where}: {item.reason}.",
        )
        self.registry.mark_failed(request.source_path, request.revision, failure)
        if doc is not None:
            self.progress.finished(doc.id, request.revision)
        self.consumer.ack([item.entry.id])

    def _is_stale(self, request: IndexRequest, record: FileRecord | None) -> bool:
        """An upsert whose file (``record``) was deleted or has moved on to a newer revision."""
        if request.action != "upsert" or request.document is None:
            return False  # deletes are versioned: an old one cannot remove newer documents
        why = why_superseded(record, request.revision)
        if why is None:
            return False
        log.info(
            "skipping stale document of %s (revision %d): %s", request.source_path, request.revision, why
        )
        self.progress.finished(request.document.id, request.revision)
        return True


def _alerts_retryable(exc: BaseException) -> bool:
    """Worth waiting out: Elasticsearch unreachable, overloaded (429) or failing (5xx)."""
    if isinstance(exc, AlertsNotWritten):
        return True
    if isinstance(exc, ApiError):
        return retryable_status(exc.meta.status)
    return isinstance(exc, TransportError)


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

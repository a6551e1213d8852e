"""The Elasticsearch side of the indexer: apply a batch of index requests with one bulk call.

Writes are versioned with the file's revision (``external_gte``): replaying a batch
overwrites with the same content, and an older revision arriving late loses with a 409,
which counts as done. Nothing here touches Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

from shared.schemas import IndexRequest, utcnow
from shared.search.client import retryable_status
from shared.search.index import ensure_index
from shared.settings import Settings

log = logging.getLogger(__name__)


class ElasticsearchUnavailable(RuntimeError):
    """The batch could not be applied now (cluster down, overloaded, alias missing): retry it."""


@dataclass
class Rejection:
    """One document Elasticsearch refused for a reason retrying cannot fix."""

    entry_id: str
    request: IndexRequest
    doc_id: str
    reason: str


@dataclass
class BatchResult:
    written: list[tuple[str, IndexRequest]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class _Op:
    entry_id: str
    request: IndexRequest
    doc_id: str
    action: dict[str, Any]
    source: dict[str, Any] | None = None


class BulkWriter:
    def __init__(self, es: Elasticsearch, alias: str, settings: Settings):
        self.es = es
        self.alias = alias
        self.settings = settings

    def write(self, batch: Sequence[tuple[str, IndexRequest]]) -> BatchResult:
        """Apply ``batch`` (stream entry id, request) in order.

        Raises ``ElasticsearchUnavailable`` when any part must be retried; the whole batch
        can then be applied again safely, because every write is versioned.
        """
        try:
            return self._write(batch)
        except (TransportError, ApiError) as exc:
            if isinstance(exc, ApiError) and not retryable_status(exc.meta.status):
                raise
            raise ElasticsearchUnavailable(_describe(exc)) from exc

    def _write(self, batch: Sequence[tuple[str, IndexRequest]]) -> BatchResult:
        result = BatchResult()
        pending: list[_Op] = []
        refresh = False
        for entry_id, request in batch:
            if request.action == "upsert":
                pending.append(self._upsert(entry_id, request))
            elif request.doc_ids is not None:
                pending.extend(self._delete(entry_id, request, doc_id) for doc_id in request.doc_ids)
                refresh = True
                if not request.doc_ids:
                    result.written.append((entry_id, request))
            else:
                # Earlier writes of this batch must be visible before we look the file up.
                self._flush(pending, result, refresh=True)
                pending = []
                ids = list(self._ids_of(request.source_path))
                pending.extend(self._delete(entry_id, request, doc_id) for doc_id in ids)
                refresh = True
                if not ids:
                    result.written.append((entry_id, request))
        self._flush(pending, result, refresh=refresh)
        return result

    def _upsert(self, entry_id: str, request: IndexRequest) -> _Op:
        assert request.document is not None  # checked when the entry was decoded
        doc = request.document
        source = doc.model_copy(update={"indexed_at": utcnow()}).model_dump(mode="json")
        action = {
            "index": {
                "_index": self.alias,
                "_id": doc.id,
                "version": request.revision,
                "version_type": "external_gte",
            }
        }
        return _Op(entry_id, request, doc.id, action, source)

    def _delete(self, entry_id: str, request: IndexRequest, doc_id: str) -> _Op:
        action = {
            "delete": {
                "_index": self.alias,
                "_id": doc_id,
                "version": request.revision,
                "version_type": "external_gte",
            }
        }
        return _Op(entry_id, request, doc_id, action)

    def _ids_of(self, source_path: str) -> Iterator[str]:
        """Ids of a file's documents. (A scan, not delete_by_query: deletes stay versioned,
        so a newer revision of the file is never removed by an older delete, and it works
        on clusters without the reindex module.)"""
        query = {"query": {"term": {"source_path": source_path}}, "_source": False}
        for hit in helpers.scan(self.es, index=self.alias, query=query, size=1000):
            yield hit["_id"]

    def _flush(self, ops: list[_Op], result: BatchResult, *, refresh: bool) -> None:
        if not ops:
            return
        body: list[dict[str, Any]] = []
        for op in ops:
            body.append(op.action)
            if op.source is not None:
                body.append(op.source)
        response = self.es.bulk(operations=body, refresh=refresh, require_alias=True)
        outcome = classify_items(ops, response["items"])
        if outcome.retry:
            if outcome.index_missing:
                ensure_index(self.es, self.alias, self.settings)  # the alias went missing
            raise ElasticsearchUnavailable(
                f"{len(outcome.retry)} write(s) must be retried, e.g. {outcome.retry[0]}"
            )
        result.rejected.extend(outcome.rejected)
        seen: set[str] = set()
        for op in ops:
            if op.entry_id in outcome.done and op.entry_id not in seen:
                seen.add(op.entry_id)
                result.written.append((op.entry_id, op.request))


@dataclass
class ItemOutcome:
    """How a bulk response's items fall out, per stream entry."""

    done: set[str] = field(default_factory=set)  # entries whose every operation is applied
    rejected: list[Rejection] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)  # why some operation must be retried
    index_missing: bool = False


def classify_items(ops: Sequence[_Op], items: Sequence[dict[str, Any]]) -> ItemOutcome:
    """Sort a bulk response's items into applied, rejected for good, and to be retried.

    Applied: 2xx; 409 (the index already holds this or a newer revision); a delete's 404
    without an error (already gone). Retried: 429, 5xx, and a missing index (the alias
    is put back before the retry). Anything else is a rejection retrying cannot fix. An
    entry counts as done only when none of its operations was rejected or needs a retry.
    """
    outcome = ItemOutcome()
    failed: set[str] = set()
    for op, item in zip(ops, items, strict=True):
        kind, detail = next(iter(item.items()))
        status = int(detail.get("status", 500))
        if status < 300 or status == 409 or (kind == "delete" and status == 404 and "error" not in detail):
            outcome.done.add(op.entry_id)
            continue
        error = detail.get("error") or {}
        failed.add(op.entry_id)
        if retryable_status(status) or error.get("type") == "index_not_found_exception":
            outcome.index_missing |= error.get("type") == "index_not_found_exception"
            outcome.retry.append(f"{op.doc_id}: {status} {error.get('type')}: {error.get('reason')}")
        else:
            outcome.rejected.append(Rejection(op.entry_id, op.request, op.doc_id, _describe_item(error)))
    outcome.done -= failed
    return outcome


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"HTTP {exc.meta.status} {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _describe_item(error: dict[str, Any]) -> str:
    reason = f"{error.get('type', 'error')}: {error.get('reason', 'no reason given')}"
    cause = error.get("caused_by")
    if cause:
        reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
    return reason

"""Alerts waiting for delivery, raised by the indexer's own code: a watch with a webhook, that
many matching documents written with the indexer's writer, and the alerts its matching raises.
Shared by the delivery bench and the delivery fault test."""

from __future__ import annotations

import uuid

from elasticsearch import Elasticsearch

from services.indexer.writer import BulkWriter
from shared.schemas import ArticleDocument, IndexRequest, document_id, utcnow
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.watches.matching import AlertRaiser
from shared.watches.models import WatchSpec, alert_index
from shared.watches.store import WatchStore

BATCH = 500


def harbour_documents(count: int, folder: str) -> list[ArticleDocument]:
    """``count`` short English articles about a harbour, each its own text (so each alerts)."""
    documents = []
    for i in range(count):
        path = f"{folder}/{uuid.uuid4().hex}.txt"
        documents.append(
            ArticleDocument(
                id=document_id(path, 0),
                source_path=path,
                revision=1,
                format="text",
                title=f"Harbour {i}",
                body=f"The harbour reopened, report {i}.",
                content_sha256=uuid.uuid4().hex,
                language="en",
                ingested_at=utcnow(),
            )
        )
    return documents


def pending_alerts(es: Elasticsearch, settings: Settings, webhook: str, count: int, watch: str) -> int:
    """Make the watch ``watch`` (query "harbour", ``webhook``) and ``count`` alerts of it;
    returns how many alerts matching raised."""
    ensure_index(es, settings.index, settings)
    WatchStore(es, settings.index, settings).add(WatchSpec(name=watch, query="harbour", webhook=webhook))
    documents = harbour_documents(count, folder=watch.lower())
    raised = 0
    for start in range(0, count, BATCH):
        batch = documents[start : start + BATCH]
        requests = [
            (str(i), IndexRequest(action="upsert", source_path=d.source_path, revision=1, document=d))
            for i, d in enumerate(batch)
        ]
        BulkWriter(es, settings.index, settings).write(requests)
        es.indices.refresh(index=settings.index)
        raised += AlertRaiser(es, settings.index, settings).raise_alerts(batch)
    es.indices.refresh(index=alert_index(settings.index))
    return raised

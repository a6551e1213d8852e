"""Matching indexed articles against every watch, and raising each alert exactly once.

The indexer calls ``AlertRaiser.raise_alerts`` after a batch's bulk write succeeded and before
it acknowledges the batch's stream entries. One percolate request matches every upserted
document of the batch against every watch (``documents`` + ``_percolator_document_slot``);
one bulk of ``create`` operations writes the alerts.

A cluster without the percolator module (Elastic's integration-test distribution, which the
tests and the native stack run) gets a watches index whose ``query`` is stored, not indexed
(``store.watch_mappings``); there one multi-search runs every watch's query on the article
alias, restricted to the batch's ids, after a refresh makes the written batch searchable. The
pairs found, and everything below, are the same.

Exactly once comes from the alert's id, not from remembering what was sent:

* ``alert_id(watch, content_sha256)``: the same article written again (Elasticsearch was away
  and the batch retried, an indexer killed after its write and the entries reclaimed by
  another), reprocessed, caught up by the reconciler, or a copy of its text in another file,
  all map to the alert that exists: ``create`` answers 409 and nothing new is raised.
* A reprocessed article whose matches changed (an entity appeared) matches one more watch:
  that watch's alert id is new, so exactly that alert is raised.
* Nothing is lost: when the percolate or the alert write fails for a reason worth waiting
  out, the indexer retries the batch (write and alerts; both idempotent) and acknowledges
  nothing meanwhile; a batch given up stays pending and is handled again later.

Which articles a watch alerts on: those ingested after it was made. Compared are the article's
``ingested_at`` (set by ingest when it read this version of the file, kept by reprocess and by
every retry and replay, so each time the article is matched the answer is the same) and the
watch's ``created_at``. ``indexed_at`` would not do: every rewrite (a reprocess, a replay)
sets it anew, so an article the archive held long before the watch would alert when
reprocessed. An article ingested before the watch and indexed after it is not alerted: it is
what ``--backfill`` lists.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError, helpers

from shared.schemas import ArticleDocument, utcnow
from shared.search.client import retryable_status
from shared.settings import Settings
from shared.watches.models import Alert, AlertArticle, Delivery, alert_id
from shared.watches.store import UNMATCHED_FIELDS, WatchStore, has_percolator

log = logging.getLogger(__name__)

PERCOLATE_PAGE = 500  # watches per page of the percolate answer (or per multi-search)
WATCH_SOURCE = ["name", "created_at", "spec.webhook", "spec.email"]


class AlertsNotWritten(RuntimeError):
    """Some alerts must be written again (Elasticsearch answered 429/5xx for them): retry."""


@dataclass(frozen=True)
class MatchedWatch:
    id: str
    name: str
    created_at: datetime
    webhook: bool
    email: bool


def article_link(settings: Settings, doc_id: str) -> str:
    """The article's page (services/api/web.py ``/article/{doc_id}``)."""
    return f"{settings.public_url.rstrip('/')}/article/{doc_id}"


def alert_article(settings: Settings, document: ArticleDocument) -> AlertArticle:
    return AlertArticle(
        id=document.id,
        title=document.title,
        url=document.url,
        source=document.source,
        published_at=document.published_at,
        dateline=document.dateline,
        entities=document.entities,
        summary=document.summary,
        source_path=document.source_path,
        story_id=document.story_id,
        link=article_link(settings, document.id),
    )


def percolated(document: ArticleDocument) -> dict[str, Any]:
    """The document as the percolator reads it (the fields a watch's query can use)."""
    return document.model_dump(mode="json", exclude=set(UNMATCHED_FIELDS))


class AlertRaiser:
    """Raises the alerts of the article alias ``alias``'s watches."""

    def __init__(self, es: Elasticsearch, alias: str, settings: Settings):
        self.es = es
        self.alias = alias
        self.settings = settings
        # The store owns the two indexes (their names and mappings); matching reads and adds to them.
        self.store = WatchStore(es, alias, settings)
        self.watches = self.store.watches
        self.alerts = self.store.alerts
        self._ensured = False
        self._mode: bool | None = None

    def match(self, documents: Sequence[ArticleDocument]) -> list[tuple[MatchedWatch, ArticleDocument]]:
        """(watch, document) for every watch each document matches."""
        if not documents:
            return []
        percolator = self._percolator()
        if percolator is None:
            return []  # no watches index yet: no watch
        try:
            if percolator:
                return self._percolate(documents)
            return self._search_each(documents)
        except NotFoundError as exc:
            if exc.error != "index_not_found_exception":
                raise
            # The watches' index went away since (removed by hand): no watches now; a new one
            # is read afresh.
            self._mode = None
            return []

    def _percolator(self) -> bool | None:
        """Whether the watches' index matches by percolator (read once it exists: an index's
        mapping of ``query`` never changes)."""
        if self._mode is None:
            self._mode = has_percolator(self.es, self.watches)
        return self._mode

    def _percolate(self, documents: Sequence[ArticleDocument]) -> list[tuple[MatchedWatch, ArticleDocument]]:
        """Every document against every watch in one percolate request (paged when there are
        more watches than a page): each hit is a watch, its slots the documents it matched."""
        query = {"percolate": {"field": "query", "documents": [percolated(d) for d in documents]}}
        pairs: list[tuple[MatchedWatch, ArticleDocument]] = []
        hits = helpers.scan(
            self.es,
            index=self.watches,
            query={"query": query, "_source": WATCH_SOURCE},
            size=PERCOLATE_PAGE,
        )
        for hit in hits:
            watch = _matched(hit)
            # One slot per matched document of the request (a single document: slot 0).
            for slot in hit.get("fields", {}).get("_percolator_document_slot", [0]):
                pairs.append((watch, documents[int(slot)]))
        return pairs

    def _search_each(
        self, documents: Sequence[ArticleDocument]
    ) -> list[tuple[MatchedWatch, ArticleDocument]]:
        """Without a percolator: every watch's search, restricted to the batch's documents, in
        one multi-search over the article alias (just written, so made searchable first).
        The same query on the same index as search itself: the same analysis by construction."""
        watches = [
            (_matched(hit), hit["_source"]["query"])
            for hit in helpers.scan(
                self.es,
                index=self.watches,
                query={"query": {"match_all": {}}, "_source": [*WATCH_SOURCE, "query"]},
            )
        ]
        if not watches:
            return []
        by_id = {document.id: document for document in documents}
        self.es.indices.refresh(index=self.alias)
        pairs: list[tuple[MatchedWatch, ArticleDocument]] = []
        for start in range(0, len(watches), PERCOLATE_PAGE):
            page = watches[start : start + PERCOLATE_PAGE]
            searches: list[dict[str, Any]] = []
            for _watch, stored in page:
                searches.append({"index": self.alias})
                searches.append(
                    {
                        "query": {"bool": {"must": [stored], "filter": [{"ids": {"values": list(by_id)}}]}},
                        "size": len(by_id),
                        "_source": False,
                    }
                )
            answers = self.es.msearch(searches=searches)["responses"]
            for (watch, _stored), answer in zip(page, answers, strict=True):
                if "error" in answer:
                    status = int(answer.get("status", 500))
                    if retryable_status(status):
                        raise AlertsNotWritten(
                            f"watch {watch.name!r} could not be matched now: {answer['error']}"
                        )
                    # A stored search the archive refuses (it was checked when made): the
                    # other watches still alert; this one is in the log.
                    log.error("watch %r cannot be matched: %s", watch.name, answer["error"])
                    continue
                pairs.extend((watch, by_id[hit["_id"]]) for hit in answer["hits"]["hits"])
        return pairs

    def raise_alerts(self, documents: Sequence[ArticleDocument]) -> int:
        """Match ``documents`` and create their new alerts; returns how many were new.

        Raises ``AlertsNotWritten`` (or the client's transport/API error) when part must be
        tried again; everything here may be repeated any number of times."""
        now = utcnow()
        alerts: dict[str, Alert] = {}
        for watch, document in self.match(documents):
            if _aware(document.ingested_at) < watch.created_at:
                continue  # ingested before the watch was made (see the module's docstring)
            ident = alert_id(watch.id, document.content_sha256)
            if ident in alerts:
                continue  # two copies of one text in the same batch
            pending = Delivery(state="pending", next_attempt_at=now)
            alerts[ident] = Alert(
                id=ident,
                watch_id=watch.id,
                watch_name=watch.name,
                content_sha256=document.content_sha256,
                matched_at=now,
                article=alert_article(self.settings, document),
                webhook=pending.model_copy() if watch.webhook else None,
                email=pending.model_copy() if watch.email else None,
            )
        if not alerts:
            return 0
        if not self._ensured:
            # The alert index with its mapping, before a create could make it with a guessed one.
            self.store.ensure()
            self._ensured = True
        operations: list[dict[str, Any]] = []
        for ident, alert in alerts.items():
            operations.append({"create": {"_index": self.alerts, "_id": ident}})
            operations.append(alert.model_dump(mode="json"))
        response = self.es.bulk(operations=operations)
        created, retry = 0, []
        for item in response["items"]:
            detail = item["create"]
            status = int(detail.get("status", 500))
            if status < 300:
                created += 1
            elif status == 409:
                pass  # alerted before: a replay, a reprocess or a copy of the same text
            elif (
                retryable_status(status)
                or (detail.get("error") or {}).get("type") == "index_not_found_exception"
            ):
                retry.append(f"{detail.get('_id')}: {status} {(detail.get('error') or {}).get('type')}")
            else:
                # Retrying cannot fix it (the alert index's mapping refuses the alert); the
                # article is indexed all the same and the error goes to the log.
                log.error("Elasticsearch refused alert %s: %s", detail.get("_id"), detail.get("error"))
        if retry:
            raise AlertsNotWritten(f"{len(retry)} alert(s) must be written again, e.g. {retry[0]}")
        if created:
            log.info("raised %d alert(s) for %d document(s)", created, len(documents))
        return created


def _matched(hit: dict[str, Any]) -> MatchedWatch:
    source = hit["_source"]
    spec = source.get("spec", {})
    return MatchedWatch(
        id=hit["_id"],
        name=source["name"],
        created_at=_aware(datetime.fromisoformat(source["created_at"])),
        webhook=bool(spec.get("webhook")),
        email=bool(spec.get("email")),
    )


def _aware(moment: datetime) -> datetime:
    """A time without a zone is UTC (every Dateline time is written in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)

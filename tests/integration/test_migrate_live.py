"""``migrate`` keeps searches answering: a thread searches the alias without pause while the
archive is copied and the alias swapped, and every search must succeed with the full total.
Afterwards the alias names only the new version, which is also where new writes go."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from elasticsearch import Elasticsearch

from services.indexer.writer import BulkWriter
from shared.schemas import ArticleDocument, Entities, IndexRequest, document_id
from shared.search.client import make_client
from shared.search.index import alias_indices, ensure_index, existing_versions, write_index
from shared.search.migrate import CHUNK, migrate
from shared.search.models import SearchParams
from shared.search.query import search
from shared.settings import Settings
from tests.support.indices import drop_dateline_index

DOCS = 3000  # six copy chunks: the copy takes a while and reports progress several times
WAIT = 120.0  # safety net only: how long a progress callback waits for the searcher


def article(i: int) -> ArticleDocument:
    return ArticleDocument(
        id=document_id(f"live/{i}.txt"),
        source_path=f"live/{i}.txt",
        format="text",
        title=f"Harbour report {i}",
        body=f"Dock workers unloaded ship number {i} in the harbour.",
        content_sha256=uuid.uuid4().hex,
        source="Wire",
        language="en",
        entities=Entities(location=["Hamburg"]),
    )


def upsert(doc: ArticleDocument) -> IndexRequest:
    return IndexRequest(action="upsert", source_path=doc.source_path, revision=doc.revision, document=doc)


@pytest.fixture
def es(es_url: str) -> Elasticsearch:
    return make_client(es_url, timeout=120.0)


@pytest.fixture
def settings(es: Elasticsearch, es_url: str) -> Iterator[Settings]:
    alias = f"test-{uuid.uuid4().hex[:12]}"
    cfg = Settings(elasticsearch_url=es_url, index=alias)
    ensure_index(es, alias, cfg)
    writer = BulkWriter(es, alias, cfg)
    for start in range(0, DOCS, 500):
        batch = [(f"{i}-0", upsert(article(i))) for i in range(start, min(start + 500, DOCS))]
        result = writer.write(batch)
        assert not result.rejected and len(result.written) == len(batch)
    es.indices.refresh(index=alias)
    assert es.count(index=alias)["count"] == DOCS
    yield cfg
    drop_dateline_index(es, alias)


@dataclass
class Searcher:
    """Searches the alias in a loop, both through Dateline's search and raw, recording all."""

    es: Elasticsearch
    alias: str
    totals: list[tuple[str, int]] = field(default_factory=list)
    errors: list[tuple[str, BaseException]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Condition = field(default_factory=threading.Condition)
    searches: int = 0
    migrating: bool = False
    during_migration: int = 0

    def run(self) -> None:
        while not self.stop.is_set():
            for kind in ("dateline", "raw"):
                started_in = self.migrating
                try:
                    if kind == "dateline":
                        total = search(
                            self.es, self.alias, SearchParams(query="harbour", size=3, collapse=False)
                        ).total
                    else:
                        found = self.es.search(
                            index=self.alias,
                            query={"match": {"body": "harbour"}},
                            size=0,
                            track_total_hits=True,
                        )
                        total = int(found["hits"]["total"]["value"])
                    self.totals.append((kind, total))
                except BaseException as exc:  # noqa: BLE001 - every failure is the finding
                    self.errors.append((kind, exc))
                with self.done:
                    self.searches += 1
                    if started_in and self.migrating:
                        self.during_migration += 1
                    self.done.notify_all()

    def wait_for_more(self, n: int) -> bool:
        """Block until ``n`` more searches finished (called from migrate's progress)."""
        with self.done:
            target = self.searches + n
            return self.done.wait_for(lambda: self.searches >= target or self.stop.is_set(), timeout=WAIT)


def test_searches_never_fail_or_lose_documents_during_migrate(es, settings):
    alias = settings.index
    old = write_index(es, alias)
    searcher = Searcher(make_client(settings.elasticsearch_url, timeout=60.0), alias)
    progress_calls: list[tuple[int, int]] = []
    waited_ok: list[bool] = []

    def progress(done: int, total: int) -> None:
        progress_calls.append((done, total))
        # Let the searcher finish some searches while this copy is under way.
        waited_ok.append(searcher.wait_for_more(4))

    thread = threading.Thread(target=searcher.run, name="searcher", daemon=True)
    thread.start()
    try:
        assert searcher.wait_for_more(2)  # the loop is running before migrate starts
        searcher.migrating = True
        result = migrate(es, alias, settings, progress=progress)
        searcher.migrating = False
        assert searcher.wait_for_more(4)  # and keeps answering afterwards
    finally:
        searcher.stop.set()
        thread.join(timeout=WAIT)
    assert not thread.is_alive()

    assert not searcher.errors, searcher.errors[:3]
    assert searcher.totals and {total for _kind, total in searcher.totals} == {DOCS}
    assert {kind for kind, _total in searcher.totals} == {"dateline", "raw"}
    # The progress callback blocked until searches completed, so they overlapped the copy.
    assert len(progress_calls) == DOCS // CHUNK and progress_calls[-1] == (DOCS, DOCS)
    assert all(waited_ok), "the searcher stopped making progress during the copy"
    assert searcher.during_migration >= 4 * len(progress_calls)

    assert result.old_index == old and result.copied == DOCS
    new = result.new_index
    assert new != old and existing_versions(es, alias)[new] == existing_versions(es, alias)[old] + 1
    assert alias_indices(es, alias) == {new: True}  # only the new version, and it takes writes
    assert write_index(es, alias) == new
    assert es.count(index=alias)["count"] == DOCS

    # A write through the alias after the migration lands in the new version only.
    late = article(DOCS + 1)
    written = BulkWriter(es, alias, settings).write([("9999999999999-0", upsert(late))])
    assert not written.rejected and len(written.written) == 1
    es.indices.refresh(index=f"{old},{new}")
    assert es.get(index=new, id=late.id)["_source"]["title"] == late.title
    assert not es.exists(index=old, id=late.id)
    assert search(es, alias, SearchParams(query="harbour", collapse=False)).total == DOCS + 1
    assert es.count(index=old)["count"] == DOCS

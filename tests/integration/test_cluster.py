"""A three-node Elasticsearch cluster on loopback, one replica per shard: the node holding the
index's primary shard is killed (SIGKILL) while the indexer writes. Nothing is lost, no
document is duplicated, searches keep answering throughout, and ``dateline index status``
shows the cluster's health (status, nodes, unassigned shards) before and after.

Each node is the topology's Elasticsearch program with its own name, ports and folders; the
services reach the cluster through every node's URL (``DATELINE_ELASTICSEARCH_URL`` with
commas), so a dead node costs a failover, not an error.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from shared.pipeline import push_index_request
from shared.registry import FileRecord, Registry
from shared.schemas import IndexRequest
from shared.search.client import make_client
from shared.search.models import SearchParams
from shared.search.query import search
from shared.settings import get_settings
from tests.conftest import TEST_DATA_DIR
from tests.support.documents import seed_documents
from tests.support.elasticsearch_nodes import ElasticsearchNodes
from tests.support.processes import wait_until

pytestmark = pytest.mark.faults  # integration: by folder (tests/conftest.py)

DOCS = 1200
KILL_AT = DOCS // 4  # documents indexed before the kill; the feeder is still pushing then
PUSH_BATCH = 20
PUSH_PAUSE = 0.1
WAIT = 600.0  # safety net only


@pytest.fixture(scope="module")
def cluster() -> Iterator[ElasticsearchNodes]:
    nodes = ElasticsearchNodes(TEST_DATA_DIR / "cluster", TEST_DATA_DIR, identifier="dateline-test-cluster")
    try:
        nodes.start_cluster(3)
        yield nodes
    finally:
        nodes.stop()


@dataclass
class Searcher:
    """Searches the alias without pause through Dateline's search, recording every outcome."""

    url: str
    alias: str
    errors: list[BaseException] = field(default_factory=list)
    answered: list[tuple[float, int, bool]] = field(default_factory=list)  # (when, total, partial)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        from shared.settings import Settings

        es = make_client(
            self.url, timeout=30.0, settings=Settings(_env_file=None, elasticsearch_url=self.url)
        )
        queries = [
            SearchParams(query="*", size=5, collapse=False),
            SearchParams(query="said", size=5, collapse=False),
        ]
        while not self.stop.is_set():
            for params in queries:
                try:
                    result = search(es, self.alias, params)
                    self.answered.append((time.monotonic(), result.total, result.partial))
                except BaseException as exc:  # noqa: BLE001 - every failure is the finding
                    self.errors.append(exc)
            time.sleep(0.05)

    def between(self, start: float, end: float) -> list[tuple[float, int, bool]]:
        return [a for a in self.answered if start <= a[0] <= end]


def index_status(stack, monkeypatch) -> dict:
    """``dateline index status --json`` as the user runs it, against the stack's cluster."""
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", stack.es_url)
    monkeypatch.setenv("DATELINE_INDEX", stack.alias)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["index", "status", "--json"])
        text = CliRunner().invoke(app, ["index", "status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert text.exit_code == 0, text.output
    found = json.loads(result.output)
    found["text"] = text.output
    return found


def test_killing_a_node_while_indexing_loses_nothing_and_searches_keep_answering(
    cluster, make_stack, monkeypatch
):
    stack = make_stack(es_url=cluster.url, extra_env={"DATELINE_INDEX_REPLICAS": "1"})
    indexer = stack.start_indexer()
    wait_until(
        lambda: stack.es.indices.exists_alias(name=stack.alias),
        timeout=120,
        what="index created",
        processes=[indexer],
    )
    wait_until(
        lambda: stack.es.cluster.health(index=stack.alias)["status"] == "green",
        timeout=120,
        what="primary and replica placed",
    )

    before = index_status(stack, monkeypatch)
    assert before["cluster"]["status"] == "green" and before["cluster"]["node_count"] == 3
    assert {node["name"] for node in before["cluster"]["nodes"]} == set(cluster.urls)
    assert before["cluster"]["replicas"] == 1 and before["cluster"]["unassigned_shards"] == 0
    assert "green" in before["text"] and "3 node(s)" in before["text"]

    documents = seed_documents(DOCS, prefix="cluster")
    registry = Registry(stack.redis)
    for doc in documents:  # as ingest does: the indexer writes documents of registered files
        registry.put(FileRecord(path=doc.source_path, revision=doc.revision, articles=1, doc_ids=[doc.id]))

    pushed = 0
    killed = threading.Event()

    def feed() -> None:
        """Half the documents, then (once the node is dead) the other half: writes go on
        across the kill whatever the machine's speed."""
        nonlocal pushed
        for start in range(0, DOCS, PUSH_BATCH):
            if start >= DOCS // 2:
                killed.wait(WAIT)
            for doc in documents[start : start + PUSH_BATCH]:
                push_index_request(
                    stack.redis,
                    IndexRequest(
                        action="upsert", source_path=doc.source_path, revision=doc.revision, document=doc
                    ),
                )
                pushed += 1
            time.sleep(PUSH_PAUSE)

    searcher = Searcher(cluster.url, stack.alias)
    threads = [threading.Thread(target=searcher.run, daemon=True), threading.Thread(target=feed, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: stack.count() >= KILL_AT,
            timeout=WAIT,
            what=f"{KILL_AT} documents indexed",
            processes=[indexer],
        )
        victim = cluster.node_holding_primary(stack.alias)
        pushed_at_kill = pushed
        killed_at = time.monotonic()
        cluster.processes[victim].kill()  # SIGKILL to the node's process group
        killed.set()

        # The cluster notices; `dateline index status` says what happened.
        def two_nodes() -> dict | None:
            found = index_status(stack, monkeypatch)
            return found if found["cluster"]["node_count"] == 2 else None

        after = wait_until(two_nodes, timeout=WAIT, what="the cluster without the killed node")
        assert isinstance(after, dict)
        assert {node["name"] for node in after["cluster"]["nodes"]} == set(cluster.urls) - {victim}
        # The lost replica waits a minute before it is rebuilt elsewhere (delayed allocation).
        assert after["cluster"]["status"] == "yellow" and after["cluster"]["unassigned_shards"] >= 1, after[
            "cluster"
        ]
        assert "unassigned" in after["cluster"]["advice"]
        assert "yellow" in after["text"] and "2 node(s)" in after["text"]

        wait_until(
            lambda: stack.count() >= DOCS,
            timeout=WAIT,
            every=1.0,
            what=f"all {DOCS} documents indexed",
            processes=[indexer],
        )
        all_indexed_at = time.monotonic()
        assert indexer.running
    finally:
        killed.set()
        searcher.stop.set()
        for thread in threads:
            thread.join(timeout=120)

    # The kill came while documents were being written, with as many still to come.
    assert KILL_AT <= pushed_at_kill <= DOCS // 2
    # Searches answered throughout: none failed, before, during and after the node's death.
    assert not searcher.errors, [repr(e) for e in searcher.errors[:3]]
    during = searcher.between(killed_at, all_indexed_at)
    assert len(during) >= 5, f"only {len(during)} searches between the kill and the last write"

    # Nothing lost, nothing twice: every document once, every file indexed.
    stack.es.indices.refresh(index=stack.alias)
    hits = stack.es.search(index=stack.alias, size=DOCS + 10, query={"match_all": {}}, source=False)["hits"][
        "hits"
    ]
    ids = [hit["_id"] for hit in hits]
    assert len(ids) == len(set(ids)) == DOCS
    assert set(ids) == {doc.id for doc in documents}
    wait_until(
        lambda: registry.counts().get("indexed") == DOCS, timeout=120, what="registry: every file indexed"
    )
    final = search(cluster.client(), stack.alias, SearchParams(query="*", collapse=False))
    assert final.total == DOCS and not final.partial

    partial = sum(1 for _, _, is_partial in during if is_partial)
    print(
        f"\ncluster: killed {victim} after {pushed_at_kill} of {DOCS} pushed; {len(searcher.answered)} searches, "
        f"{len(during)} between the kill and the last write ({partial} partial), none failed; "
        f"{all_indexed_at - killed_at:.1f} s from kill to all indexed"
    )

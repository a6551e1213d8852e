"""What matching every batch against the watches costs the indexer, side by side in one run:
documents/s of the indexer's write alone, and of the write plus the alert step
(``AlertRaiser.raise_alerts``: match, then one bulk of ``create``) with 10 and with 100 watches,
on the same documents into fresh indexes of the same cluster. Every document has its own text
(its own SHA-256), so each match creates an alert: the alert step's worst case.

On a cluster without the percolator module (the integration-test distribution) the matching is
one multi-search of every watch over the batch after a refresh; the figure says which ran.

Usage: python -m tests.bench.watches [--docs N]   (wire into `make bench` next to search.py)
"""

from __future__ import annotations

import argparse
import time
import uuid

from elasticsearch import Elasticsearch
from rich.console import Console
from rich.table import Table

from services.indexer.writer import BulkWriter
from shared.schemas import IndexRequest, utcnow
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.watches.matching import AlertRaiser
from shared.watches.models import WatchSpec, alert_index, watch_index
from shared.watches.store import WatchStore, has_percolator
from tests.bench.results import record
from tests.support.documents import seed_documents
from tests.support.indices import drop_dateline_index

# Words and names of the seed articles: watches that match some documents, not all.
QUERIES = [
    "taliban",
    "peace talks",
    "government",
    "minister",
    '"United States"',
    "election",
    "police",
    "water",
]
ENTITIES = ["United States", "Pakistan", "Afghanistan", "Islamabad", "Taliban"]


def _specs(count: int) -> list[WatchSpec]:
    specs = []
    for i in range(count):
        entity = [ENTITIES[i % len(ENTITIES)]] if i % 3 == 0 else []
        specs.append(WatchSpec(name=f"watch {i}", query=QUERIES[i % len(QUERIES)], entity=entity))
    return specs


def bench_watches(es: Elasticsearch, es_url: str, docs: int, console: Console) -> dict[str, float]:
    settings = Settings(_env_file=None, elasticsearch_url=es_url)  # type: ignore[call-arg]
    documents = seed_documents(docs, prefix="watches")
    batch = settings.index_batch_size
    rates: dict[str, float] = {}
    alerts: dict[str, int] = {}
    percolator = None
    for watches in (0, 10, 100):
        alias = f"bench-watches-{watches}-{uuid.uuid4().hex[:8]}"
        ensure_index(es, alias, settings)
        store = WatchStore(es, alias, settings)
        for spec in _specs(watches):
            store.add(spec)
        if watches:
            percolator = has_percolator(es, watch_index(alias))
        writer, raiser = BulkWriter(es, alias, settings), AlertRaiser(es, alias, settings)
        # Ingested now (after the watches were made), each its own text: every match alerts.
        work = [
            d.model_copy(update={"content_sha256": uuid.uuid4().hex, "ingested_at": utcnow()})
            for d in documents
        ]
        raised = 0
        try:
            started = time.perf_counter()
            for i in range(0, len(work), batch):
                chunk = work[i : i + batch]
                writer.write(
                    [
                        (
                            str(n),
                            IndexRequest(action="upsert", source_path=d.source_path, revision=1, document=d),
                        )
                        for n, d in enumerate(chunk, start=i)
                    ]
                )
                if watches:
                    raised += raiser.raise_alerts(chunk)
            rates[str(watches)] = len(work) / (time.perf_counter() - started)
            alerts[str(watches)] = raised
        finally:
            drop_dateline_index(es, alias)
            es.indices.delete(index=[watch_index(alias), alert_index(alias)], ignore_unavailable=True)

    table = Table(title=f"Indexing with watches ({docs} documents, batches of {batch})")
    table.add_column("watches")
    table.add_column("documents/s", justify="right")
    table.add_column("vs no watches", justify="right")
    table.add_column("alerts raised", justify="right")
    for key, rate in rates.items():
        table.add_row(key, f"{rate:.0f}", f"{rate / rates['0']:.2f}", str(alerts[key]))
    console.print(table)
    console.print(f"matching by {'percolator' if percolator else 'multi-search (no percolator module)'}")
    figures = {
        "watches_index_docs_per_s_0": rates["0"],
        "watches_index_docs_per_s_10": rates["10"],
        "watches_index_docs_per_s_100": rates["100"],
        "watches_ratio_100_vs_0": rates["100"] / rates["0"],
        "watches_alerts_100": float(alerts["100"]),
        "watches_percolator": float(bool(percolator)),
    }
    record(figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    args = parser.parse_args()

    from tests.bench.__main__ import BENCH_DATA
    from tests.support.services import BackingServices, free_port

    services = BackingServices(BENCH_DATA, redis_port=free_port(), es_port=free_port())
    services.start("elasticsearch")
    try:
        bench_watches(Elasticsearch(services.es_url), services.es_url, args.docs, Console())
    finally:
        services.stop()


if __name__ == "__main__":
    main()

"""`make bench`: Dateline's benchmarks, each a ratio of two things measured side by side
in one run on this machine (absolute figures vary with the machine; ratios travel).

1. Stage costs: each enrichment stage's time per article, in one process, and its share.
2. Pipeline vs NER alone: articles/s through the whole system (real Celery worker
   processes, Redis, indexer, Elasticsearch) against the NER stage alone in one process.
3. Bulk vs one-by-one indexing: documents/s of the indexer's bulk writes against one
   index request per document.

Usage: python -m tests.bench [--articles N] [--skip-pipeline]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from services.ingest.documents import build_document  # noqa: E402
from services.ingest.readers import reader_for  # noqa: E402
from shared.schemas import ArticleDocument  # noqa: E402
from tests.bench.scaling import bench_scaling  # noqa: E402
from tests.support.services import BackingServices, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted((REPO / "tests" / "fixtures" / "seeds").glob("*.txt"))
BENCH_DATA = REPO / ".dateline" / "bench"
console = Console()


def seed_documents(count: int) -> list[ArticleDocument]:
    """``count`` documents made from the seed articles, each with its own id."""
    parsed = [reader_for(p).read(p, p.read_bytes()).articles[0] for p in SEEDS]
    return [
        build_document(parsed[i % len(parsed)], source_path=f"bench/{i:05d}-{SEEDS[i % len(SEEDS)].name}", revision=1)
        for i in range(count)
    ]


def ner_model() -> Path:
    from tests.support.ner_model import train_tiny_model

    return train_tiny_model(REPO / ".dateline" / "test" / "models")


def bench_stages(documents: list[ArticleDocument]) -> dict[str, float]:
    """Seconds per article for each stage, warm models, one process."""
    from services.worker.stages.entities import EntityStage
    from services.worker.stages.language import LanguageStage
    from services.worker.stages.summary import SummaryStage

    stages = {"language": LanguageStage(), "entities": EntityStage(), "summary": SummaryStage()}
    for stage in stages.values():
        stage.warm_up()
        if stage.load_error:
            raise SystemExit(f"{stage.name} model failed to load: {stage.load_error}")
    work = [d.model_copy(deep=True) for d in documents]
    per_article: dict[str, float] = {}
    for name, stage in stages.items():
        stage.run(work[0].model_copy(deep=True))  # first call pays one-off costs
        started = time.perf_counter()
        for doc in work:
            stage.run(doc)
        per_article[name] = (time.perf_counter() - started) / len(work)
    return per_article


def bench_pipeline(services: BackingServices, documents: list[ArticleDocument], model: Path) -> float:
    """Articles per second through workers and indexer into Elasticsearch."""
    from celery import Celery

    from shared.heartbeat import read_heartbeats
    from shared.pipeline import submit_document
    from shared.registry import FileRecord, Registry
    from tests.support.processes import wait_until
    from tests.support.stack import Stack

    # The stack's own supervisord, apart from the one running Redis and Elasticsearch.
    stack = Stack(redis_base_url=services.redis_url, es_url=services.es_url, log_dir=BENCH_DATA / "logs",
                  run_dir=BENCH_DATA / "stack", ner_model=str(model), inbox=BENCH_DATA / "inbox")
    try:
        processes = [*stack.start_workers(), stack.start_indexer()]
        # Wait until every worker process has loaded its models before the clock starts.
        wait_until(lambda: len([b for b in read_heartbeats(stack.redis, "worker") if b.state == "running"]) >= 2,
                   timeout=300, what="workers warmed up", processes=processes)
        wait_until(lambda: stack.es.indices.exists_alias(name=stack.alias), timeout=120,
                   what="index created", processes=processes)
        app = Celery(broker=stack.redis_url)
        registry = Registry(stack.redis)
        started = time.perf_counter()
        for doc in documents:
            # As ingest does: the indexer only writes documents of registered files.
            registry.put(FileRecord(path=doc.source_path, revision=doc.revision, articles=1, doc_ids=[doc.id]))
            submit_document(app, doc)
        wait_until(lambda: stack.count() >= len(documents), timeout=1800, every=0.2,
                   what="all benchmark articles indexed", processes=processes)
        return len(documents) / (time.perf_counter() - started)
    finally:
        stack.stop()


def bench_indexing(services: BackingServices, documents: list[ArticleDocument]) -> tuple[float, float]:
    """Documents per second: bulk batches vs one request per document."""
    from elasticsearch import Elasticsearch

    from services.indexer.writer import BulkWriter
    from shared.schemas import IndexRequest
    from shared.search.index import ensure_index
    from shared.settings import get_settings

    es = Elasticsearch(services.es_url)
    settings = get_settings()
    enriched = [d.model_copy(update={"language": "en"}) for d in documents]
    rates = []
    for mode in ("bulk", "single"):
        alias = f"bench-{mode}-{uuid.uuid4().hex[:8]}"
        ensure_index(es, alias, settings)
        started = time.perf_counter()
        if mode == "bulk":
            writer = BulkWriter(es, alias, settings)
            batch = settings.index_batch_size
            for i in range(0, len(enriched), batch):
                writer.write([(str(n), IndexRequest(action="upsert", source_path=d.source_path, revision=1, document=d))
                              for n, d in enumerate(enriched[i:i + batch], start=i)])
        else:
            for d in enriched:
                es.index(index=alias, id=d.id, document=d.model_dump(mode="json"),
                         version=1, version_type="external_gte")
        es.indices.refresh(index=alias)
        assert es.count(index=alias)["count"] == len(enriched)
        rates.append(len(enriched) / (time.perf_counter() - started))
        es.indices.delete(index=f"{alias}-*")
    return rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--index-docs", type=int, default=2000)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--search-docs", type=int, default=20000)
    args = parser.parse_args()

    model = ner_model()
    os.environ["DATELINE_NER_MODEL"] = str(model)
    from shared.settings import get_settings

    get_settings.cache_clear()
    documents = seed_documents(args.articles)
    console.print(f"[bold]Dateline benchmarks[/bold]: {args.articles} articles from {len(SEEDS)} seeds, "
                  f"{os.cpu_count()} cores, NER model {model.name} (tiny test model)")

    per_article = bench_stages(documents)
    total = sum(per_article.values())
    table = Table("stage", "ms / article", "share of enrichment", title="1. Stage costs (one process)")
    for name, seconds in per_article.items():
        table.add_row(name, f"{seconds * 1000:.1f}", f"{seconds / total:.0%}")
    console.print(table)
    ner_alone = 1 / per_article["entities"]

    services = BackingServices(BENCH_DATA, redis_port=free_port(), es_port=free_port())
    services.start()
    try:
        if not args.skip_pipeline:
            pipeline = bench_pipeline(services, documents, model)
            table = Table("measure", "articles/s", title="2. Whole pipeline vs NER stage alone")
            table.add_row("NER stage alone, one process", f"{ner_alone:.2f}")
            table.add_row("pipeline: 2 worker processes + indexer + Elasticsearch", f"{pipeline:.2f}")
            table.add_row("[bold]ratio pipeline / NER alone[/bold]", f"[bold]{pipeline / ner_alone:.2f}[/bold]")
            console.print(table)
            bench_scaling(services, documents, model, console)
        index_docs = seed_documents(args.index_docs)
        bulk, single = bench_indexing(services, index_docs)
        table = Table("mode", "docs/s", title=f"3. Indexing {args.index_docs} documents")
        table.add_row("bulk (indexer)", f"{bulk:.0f}")
        table.add_row("one request per document", f"{single:.0f}")
        table.add_row("[bold]ratio bulk / single[/bold]", f"[bold]{bulk / single:.1f}[/bold]")
        console.print(table)

        from elasticsearch import Elasticsearch

        from tests.bench.search import bench_search

        bench_search(Elasticsearch(services.es_url), services.es_url, args.search_docs, 40, console)
    finally:
        services.stop()


if __name__ == "__main__":
    main()

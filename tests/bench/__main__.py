"""`make bench`: Dateline's benchmarks, each a ratio of two things measured side by side
in one run on this machine (absolute figures vary with the machine; ratios travel).

1. Stage costs: each enrichment stage's time per article, in one process (tiny test NER).
2. NER with the production architectures (``standins.py``: random weights, real speed):
   fp32 against int8 for the fast (1024) and large (2048) character-LM taggers, their token
   agreement, and the light stages' share of the fast int8 tagger's time.
3. Pipeline vs NER alone: articles/s through the whole system (real Celery worker
   processes, Redis, indexer, Elasticsearch) against the NER stage alone in one process,
   and against the ideal for this many cores.
4. Indexing: the indexer's documents/s against ``elasticsearch.helpers.bulk`` alone on the
   same documents, and against one request per document.
5. Memory: a worker process's RSS growth over 1,000 articles.

Every figure is also written to ``.dateline/bench/results.json`` (``results.py``).

Usage: python -m tests.bench [--articles N] [--skip-pipeline] [--rounds N] [--rss-articles N]
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

from shared.schemas import ArticleDocument  # noqa: E402
from tests.bench.results import RESULTS, record, start_run  # noqa: E402
from tests.bench.scaling import bench_scaling  # noqa: E402
from tests.support.documents import seed_documents  # noqa: E402
from tests.support.paths import MODEL_CACHE, REPO_DIR, SEEDS  # noqa: E402
from tests.support.services import BackingServices, free_port  # noqa: E402

BENCH_DATA = REPO_DIR / ".dateline" / "bench"
console = Console()


def ner_model() -> Path:
    from tests.support.ner_model import train_tiny_model

    return train_tiny_model(MODEL_CACHE)


def bench_stages(documents: list[ArticleDocument]) -> dict[str, float]:
    """Seconds per article for each stage, warm models, one process."""
    from services.worker.stages.entities import EntityStage
    from services.worker.stages.language import LanguageStage
    from services.worker.stages.summary import SummaryStage

    stages = {"language": LanguageStage(), "summary": SummaryStage(), "entities": EntityStage()}
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


def bench_standins(rounds: int) -> dict[str, float]:
    """Per-article ms of the production architectures, fp32 and int8, and token agreement;
    language detection and summary timed on the same articles in the same loop."""
    import torch

    from services.worker.stages.language import LanguageStage
    from services.worker.stages.summary import SummaryStage
    from tests.bench.ner_forms import compare_forms
    from tests.bench.standins import ARCHITECTURES, build_standin

    torch.set_num_threads(1)  # as a worker process runs (DATELINE_TORCH_THREADS=1)
    documents = seed_documents(len(list(SEEDS.glob("*.txt"))), prefix="standin")
    bodies = [d.body for d in documents]
    light = {"language": LanguageStage(), "summary": SummaryStage()}
    for stage in light.values():
        stage.warm_up()
    others = {
        name: (lambda i, stage=stage: stage.run(documents[i].model_copy(deep=True)))
        for name, stage in light.items()
    }
    figures: dict[str, float] = {}
    table = Table(
        "stand-in",
        "fp32 ms / article",
        "int8 ms / article",
        "speed-up",
        "token agreement",
        title="2. NER with the production architectures (random weights, one core)",
    )
    for size, hidden in ARCHITECTURES.items():
        times = compare_forms(
            lambda size=size: build_standin(size),
            bodies,
            rounds=rounds if size == "fast" else max(1, rounds - 1),
            others=others if size == "fast" else None,
        )
        table.add_row(
            f"{size}: char LMs {hidden}, BiLSTM 256, CRF",
            f"{times.fp32_ms:.0f}",
            f"{times.int8_ms:.0f}",
            f"{times.speedup:.2f}x",
            f"{times.agreement:.4f}",
        )
        figures |= {
            f"ner_ms_{size}_fp32": times.fp32_ms,
            f"ner_ms_{size}_int8": times.int8_ms,
            f"ner_int8_speedup_{size}": times.speedup,
            f"ner_int8_token_agreement_{size}": times.agreement,
        }
        for name, ms in times.others_ms.items():
            figures[f"{name}_ms_beside_ner"] = ms
            figures[f"{name}_share_of_ner"] = ms / times.int8_ms
    console.print(table)
    return figures


def tiny_model_agreement(model: Path) -> float:
    """Token agreement of the trained test tagger's fp32 and int8 forms on the seeds."""
    from flair.models import SequenceTagger

    from services.worker.nlp.quantize import INT8, for_cpu
    from tests.support.tagging import agreement, token_tags

    def load() -> SequenceTagger:
        return SequenceTagger.load(str(model))

    tagger = load()
    int8, form = for_cpu(load(), enabled=True, reload=load)
    if form.name != INT8:
        raise SystemExit(f"the test model could not be quantized: {form}")
    bodies = [d.body for d in seed_documents(5, prefix="agreement")]
    return agreement(token_tags(tagger, bodies), token_tags(int8, bodies))


def bench_pipeline(services: BackingServices, documents: list[ArticleDocument], model: Path) -> float:
    """Articles per second through workers and indexer into Elasticsearch."""
    from celery import Celery

    from shared.heartbeat import read_heartbeats
    from shared.pipeline import submit_document
    from shared.registry import FileRecord, Registry
    from tests.support.processes import wait_until
    from tests.support.stack import Stack

    # The stack's own supervisord, apart from the one running Redis and Elasticsearch.
    stack = Stack(
        redis_base_url=services.redis_url,
        es_url=services.es_url,
        log_dir=BENCH_DATA / "logs",
        run_dir=BENCH_DATA / "stack",
        ner_model=str(model),
        inbox=BENCH_DATA / "inbox",
    )
    try:
        processes = [*stack.start_workers(), stack.start_indexer()]
        # Wait until every worker process has loaded its models before the clock starts.
        wait_until(
            lambda: len([b for b in read_heartbeats(stack.redis, "worker") if b.state == "running"]) >= 2,
            timeout=300,
            what="workers warmed up",
            processes=processes,
        )
        wait_until(
            lambda: stack.es.indices.exists_alias(name=stack.alias),
            timeout=120,
            what="index created",
            processes=processes,
        )
        app = Celery(broker=stack.redis_url)
        registry = Registry(stack.redis)
        started = time.perf_counter()
        for doc in documents:
            # As ingest does: the indexer only writes documents of registered files.
            registry.put(
                FileRecord(path=doc.source_path, revision=doc.revision, articles=1, doc_ids=[doc.id])
            )
            submit_document(app, doc)
        wait_until(
            lambda: stack.count() >= len(documents),
            timeout=1800,
            every=0.2,
            what="all benchmark articles indexed",
            processes=processes,
        )
        return len(documents) / (time.perf_counter() - started)
    finally:
        stack.stop()


def bench_indexing(services: BackingServices, documents: list[ArticleDocument]) -> dict[str, float]:
    """Documents per second: the indexer, ``helpers.bulk`` alone, one request per document."""
    from elasticsearch import Elasticsearch, helpers

    from services.indexer.writer import BulkWriter
    from shared.schemas import IndexRequest
    from shared.search.index import ensure_index
    from shared.settings import get_settings

    es = Elasticsearch(services.es_url)
    settings = get_settings()
    enriched = [d.model_copy(update={"language": "en"}) for d in documents]
    batch = settings.index_batch_size
    rates: dict[str, float] = {}
    for mode in ("indexer", "raw_bulk", "single"):
        alias = f"bench-{mode.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        ensure_index(es, alias, settings)
        started = time.perf_counter()
        if mode == "indexer":
            writer = BulkWriter(es, alias, settings)
            for i in range(0, len(enriched), batch):
                writer.write(
                    [
                        (
                            str(n),
                            IndexRequest(action="upsert", source_path=d.source_path, revision=1, document=d),
                        )
                        for n, d in enumerate(enriched[i : i + batch], start=i)
                    ]
                )
        elif mode == "raw_bulk":
            helpers.bulk(
                es,
                ({"_index": alias, "_id": d.id, "_source": d.model_dump(mode="json")} for d in enriched),
                chunk_size=batch,
            )
        else:
            for d in enriched:
                es.index(
                    index=alias,
                    id=d.id,
                    document=d.model_dump(mode="json"),
                    version=1,
                    version_type="external_gte",
                )
        es.indices.refresh(index=alias)
        assert es.count(index=alias)["count"] == len(enriched)
        rates[mode] = len(enriched) / (time.perf_counter() - started)
        es.indices.delete(index=f"{alias}-*")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--index-docs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per NER stand-in")
    parser.add_argument("--rss-articles", type=int, default=1000)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--search-docs", type=int, default=20000)
    args = parser.parse_args()

    start_run()
    model = ner_model()
    os.environ["DATELINE_NER_MODEL"] = str(model)
    from shared.settings import get_settings

    get_settings.cache_clear()
    cores = os.cpu_count() or 1
    documents = seed_documents(args.articles)
    console.print(
        f"[bold]Dateline benchmarks[/bold]: {args.articles} articles from the seeds, "
        f"{cores} cores, test NER model {model.name}"
    )

    per_article = bench_stages(documents)
    total = sum(per_article.values())
    table = Table(
        "stage", "ms / article", "share of enrichment", title="1. Stage costs (one process, tiny test NER)"
    )
    for name, seconds in per_article.items():
        table.add_row(name, f"{seconds * 1000:.1f}", f"{seconds / total:.0%}")
    console.print(table)
    record({f"stage_ms_{name}": seconds * 1000 for name, seconds in per_article.items()})

    figures = bench_standins(args.rounds)
    # Agreement of trained decisions on real text: the test tagger on the seeds. (The
    # stand-ins' random weights make near-ties of many tokens; their figures are kept apart.)
    figures["ner_int8_token_agreement"] = tiny_model_agreement(model)
    record(figures)
    table = Table("measure", "figure", title="Light stages against the fast int8 NER, per article")
    table.add_row(
        "token agreement int8/fp32, trained test model, seeds", f"{figures['ner_int8_token_agreement']:.4f}"
    )
    table.add_row("summary / fast int8 NER", f"{figures['summary_share_of_ner']:.1%}")
    table.add_row("language detection / fast int8 NER", f"{figures['language_share_of_ner']:.1%}")
    console.print(table)

    ner_alone = 1 / per_article["entities"]
    services = BackingServices(BENCH_DATA, redis_port=free_port(), es_port=free_port())
    services.start()
    try:
        if not args.skip_pipeline:
            pipeline = bench_pipeline(services, documents, model)
            ideal = cores / total
            record(
                {
                    "pipeline_articles_per_s": pipeline,
                    "ner_alone_articles_per_s": ner_alone,
                    "pipeline_efficiency": pipeline / ideal,
                }
            )
            table = Table("measure", "articles/s", title="3. Whole pipeline vs NER stage alone")
            table.add_row("NER stage alone, one process", f"{ner_alone:.2f}")
            table.add_row(f"ideal: {cores} cores / sum of the stages' seconds per article", f"{ideal:.2f}")
            table.add_row("pipeline: 2 worker processes + indexer + Elasticsearch", f"{pipeline:.2f}")
            table.add_row(
                "[bold]pipeline efficiency (pipeline / ideal)[/bold]", f"[bold]{pipeline / ideal:.2f}[/bold]"
            )
            console.print(table)
            bench_scaling(services, documents, model, console)
        rates = bench_indexing(services, seed_documents(args.index_docs, prefix="index"))
        record(
            {
                "indexer_docs_per_s": rates["indexer"],
                "raw_bulk_docs_per_s": rates["raw_bulk"],
                "single_docs_per_s": rates["single"],
                "indexer_vs_raw_bulk": rates["indexer"] / rates["raw_bulk"],
                "indexer_vs_single": rates["indexer"] / rates["single"],
            }
        )
        table = Table("mode", "docs/s", title=f"4. Indexing {args.index_docs} documents")
        table.add_row("the indexer (BulkWriter)", f"{rates['indexer']:.0f}")
        table.add_row("elasticsearch.helpers.bulk alone", f"{rates['raw_bulk']:.0f}")
        table.add_row("one request per document", f"{rates['single']:.0f}")
        table.add_row(
            "[bold]indexer / raw bulk[/bold]", f"[bold]{rates['indexer'] / rates['raw_bulk']:.2f}[/bold]"
        )
        console.print(table)

        from elasticsearch import Elasticsearch

        from tests.bench.search import bench_search

        bench_search(Elasticsearch(services.es_url), services.es_url, args.search_docs, 40, console)
    finally:
        services.stop()

    from tests.bench.memory import rss_growth

    growth, baseline, end = rss_growth(model, args.rss_articles)
    record(
        {
            f"worker_rss_growth_{args.rss_articles}": growth,
            "worker_rss_mb_after_warmup": baseline / 2**20,
            "worker_rss_mb_end": end / 2**20,
        }
    )
    console.print(
        f"5. Worker memory over {args.rss_articles} articles: {baseline / 2**20:.0f} MB -> "
        f"{end / 2**20:.0f} MB ({growth:+.1%})"
    )
    console.print(f"Figures written to {RESULTS}")


if __name__ == "__main__":
    main()

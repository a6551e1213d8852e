"""`make bench`: Dateline's benchmarks, each a ratio of two things measured side by side
in one run on this machine (absolute figures vary with the machine; ratios travel).

1. Stage costs: each enrichment stage's time per article, in one process, with the fast
   NER stand-in (the architecture of flair's ``ner-english-fast``, random weights, int8 as a
   worker quantizes it): the work parts 3 and its scaling run in real worker processes.
   Then the same pass on every core at once, a process each (``stages.py``): how far this
   machine's cores scale on the stages' compute (``stage_core_scaling``).
2. NER with the production architectures (``standins.py``: random weights, real speed):
   fp32 against int8 for the fast (1024) and large (2048) character-LM taggers, their token
   agreement, and the light stages' share of the fast int8 tagger's time.
3. Worker topologies (``topology.py``): articles/s through the whole system (real Celery
   worker processes, Redis, indexer, Elasticsearch) with a worker per stage against the
   default (one worker serving every stage, a pool process per core), side by side;
   ``topology_speedup`` (the two run back to back in each round) and ``pipeline_efficiency``
   against the ideal for this many cores (the stages timed alone again in every round, right
   before the default runs), each the median round,
   memory per pool process, and the plumbing's CPU per article (``plumbing_share_of_ner``).
   Then NER scaled out to two processes (``scaling.py``).
4. Indexing: the indexer's documents/s against ``elasticsearch.helpers.bulk`` alone on the
   same documents, and against one request per document.
5. Memory: a worker process's RSS growth over 1,000 articles.
6. Export: rows/s of ``dateline export`` and its process's peak RSS at 2,000 and 20,000
   rows (flat), against ``helpers.scan`` reading the same documents (``export.py``).
7. Stories (``stories.py``): the story stage's share of the fast NER's time per article, a new
   article's assignment at 10,000 and 1,000,000 stored signatures, Redis bytes per signature.
8. Watches (``watches.py``): the indexer's documents/s with 0, 10 and 100 watches matched
   against every batch it writes.
9. Delivery (``delivery.py``): signed webhook calls alone against one and two delivery
   services claiming and recording each alert through the outbox.

Every figure is also written to ``.dateline/bench/results.json`` (``results.py``).

Usage: python -m tests.bench [--articles N] [--skip-pipeline] [--skip-standins] [--skip-after-pipeline]
       [--rounds N] [--topology-rounds N] [--rss-articles N] [--skip-stories]
       [--search-docs N] [--export-docs N] [--watch-docs N] [--delivery-alerts N]
"""

from __future__ import annotations

import argparse
import os
import statistics
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
from tests.bench.stacks import BENCH_DATA, warm_elasticsearch  # noqa: E402
from tests.bench.stages import StageTimer, every_core_pass  # noqa: E402
from tests.bench.standins import saved_standin  # noqa: E402
from tests.bench.topology import Round, bench_topologies, best  # noqa: E402
from tests.bench.topology import cores as available_cores  # noqa: E402
from tests.support.documents import seed_documents  # noqa: E402
from tests.support.paths import MODEL_CACHE, SEEDS  # noqa: E402
from tests.support.services import BackingServices, free_port  # noqa: E402

console = Console()


def ner_model() -> Path:
    from tests.support.ner_model import train_tiny_model

    return train_tiny_model(MODEL_CACHE)


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


def standin_figures(rounds: int, model: Path) -> dict[str, float]:
    """Part 2 and the test tagger's int8 agreement, recorded and printed."""
    figures = bench_standins(rounds)
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
    return figures


def core_scaling(documents: list[ArticleDocument], cores: int, one_process_s: float) -> float:
    """The stages' rate with every core running them at once (a process each, nothing else
    running) over ``cores`` times one process's rate (``one_process_s`` per article)."""
    seconds = every_core_pass(documents, cores)
    scaling = sum(1 / s for s in seconds) / (cores / one_process_s)
    record(
        {
            "stages_every_core_ms_per_article": statistics.mean(seconds) * 1000,
            "stage_core_scaling": scaling,
        }
    )
    console.print(
        f"the stages on all {cores} cores at once, a process each: "
        + ", ".join(f"{s * 1000:.0f}" for s in seconds)
        + f" ms per article (one process alone: {one_process_s * 1000:.0f}); "
        f"stage_core_scaling [bold]{scaling:.3f}[/bold]"
    )
    return scaling


def report_topologies(rounds: list[Round], cores: int, ner_fast_ms: float | None, scaling: float) -> None:
    """Part 3: record and print the topologies side by side, memory and the plumbing.

    Both bars pair what was measured in the same minutes and take the median round: a virtual
    machine's speed drifts by 5-15 % over minutes (part 1 once gave 595 ms per article and the
    rounds after it 476-488), so two figures from different rounds measure the drift as much
    as the pipeline, and the best round of a ratio is the one the drift flattered most.
    ``topology_speedup`` is each round's default over that round's per-stage run (back to
    back); ``pipeline_efficiency`` each round's default against the stages timed alone right
    before it. The best and worst rounds are recorded beside them, and the older figures:
    each topology's fastest run of any round (the table, memory and the plumbing), the
    fastest run against the fastest pass alone, and the efficiency against what this
    machine's cores give the stages all at once (``scaling``, part 1): the pipeline's own
    losses without the hardware's."""
    old, new = best(rounds, "per_stage"), best(rounds, "all_stages")
    fastest = max(rounds, key=lambda r: r.ideal(cores))
    ideal = fastest.ideal(cores)
    ner_alone = 1 / fastest.alone["entities"]
    totals = [sum(r.alone.values()) * 1000 for r in rounds]
    paired = [r.efficiency("all_stages", cores) for r in rounds]
    speedups = [r.speedup() for r in rounds]
    efficiency = statistics.median(paired)
    console.print(
        "stages alone, one process, ms per article by round: "
        + ", ".join(f"{ms:.0f}" for ms in totals)
        + "; the default's efficiency against its round's ideal: "
        + ", ".join(f"{e:.3f}" for e in paired)
        + "; its speed-up over the round's per-stage run: "
        + ", ".join(f"{x:.2f}" for x in speedups)
    )
    figures = {
        "stages_alone_ms_per_article": min(totals),
        "stages_alone_ms_per_article_slowest_round": max(totals),
        "pipeline_articles_per_s": new.articles_per_s,
        "per_stage_articles_per_s": old.articles_per_s,
        "topology_speedup": statistics.median(speedups),
        "topology_speedup_best_round": max(speedups),
        "topology_speedup_worst_round": min(speedups),
        "topology_speedup_best_of_each": new.articles_per_s / old.articles_per_s,
        "ner_alone_articles_per_s": ner_alone,
        "pipeline_efficiency": efficiency,
        "pipeline_efficiency_best_round": max(paired),
        "pipeline_efficiency_worst_round": min(paired),
        "pipeline_efficiency_across_rounds": new.articles_per_s / ideal,
        "pipeline_efficiency_vs_every_core_pass": efficiency / scaling,
        "per_stage_pipeline_efficiency": statistics.median(r.efficiency("per_stage", cores) for r in rounds),
        "worker_pool_processes": new.pool_processes,
        "worker_rss_mb_per_process": new.rss_mb_per_pool_process,
        "worker_rss_mb_parents": new.rss_mb_parents,
        "worker_rss_mb_total": new.rss_mb_per_pool_process * new.pool_processes + new.rss_mb_parents,
        "per_stage_rss_mb_per_process": old.rss_mb_per_pool_process,
        "worker_uss_mb_per_process": new.uss_mb_per_pool_process,
        "worker_memory_mb_total": new.uss_mb_per_pool_process * new.pool_processes + new.rss_mb_parents,
        # The cores the pipeline got: on a machine shared with other work it gets less than
        # all of them, and pipeline_efficiency (against every core) says so.
        "pipeline_cores_used": new.cores_used,
        "per_stage_cores_used": old.cores_used,
        "load_average_at_pipeline": new.load_average,
        # Of the CPU the pipeline got, the share the stages used (the rest: plumbing, Elasticsearch).
        "stage_share_of_pipeline_cpu": new.cpu_ms["stages"] / sum(new.cpu_ms.values()),
        "plumbing_cpu_ms_per_article": new.plumbing_ms,
        "per_stage_plumbing_cpu_ms_per_article": old.plumbing_ms,
    }
    figures |= {f"cpu_ms_per_article_{where}": ms for where, ms in new.cpu_ms.items()}
    if ner_fast_ms:
        figures["plumbing_share_of_ner"] = new.plumbing_ms / ner_fast_ms
    record(figures)
    table = Table(
        "measure",
        "per stage (before)",
        "every stage in each process (default)",
        title="3. Worker topologies, side by side (rates, memory, CPU: the fastest run of each)",
    )
    table.add_row("pool processes", str(old.pool_processes), str(new.pool_processes))
    table.add_row(
        "articles/s through workers, indexer, Elasticsearch",
        f"{old.articles_per_s:.2f}",
        f"{new.articles_per_s:.2f}",
    )
    table.add_row(
        "pipeline efficiency (against its round's ideal, median round)",
        f"{figures['per_stage_pipeline_efficiency']:.2f}",
        f"[bold]{efficiency:.3f}[/bold]",
    )
    table.add_row(
        "RSS per pool process, MB", f"{old.rss_mb_per_pool_process:.0f}", f"{new.rss_mb_per_pool_process:.0f}"
    )
    table.add_row(
        "USS per pool process (its own memory), MB",
        f"{old.uss_mb_per_pool_process:.0f}",
        f"{new.uss_mb_per_pool_process:.0f}",
    )
    table.add_row("cores the pipeline got (CPU s per s)", f"{old.cores_used:.2f}", f"{new.cores_used:.2f}")
    table.add_row("machine load average at the end", f"{old.load_average:.1f}", f"{new.load_average:.1f}")
    table.add_row("RSS of the Celery parents, MB", f"{old.rss_mb_parents:.0f}", f"{new.rss_mb_parents:.0f}")
    for where in sorted(new.cpu_ms):
        table.add_row(
            f"CPU ms per article: {where}", f"{old.cpu_ms.get(where, 0):.1f}", f"{new.cpu_ms[where]:.1f}"
        )
    table.add_row(
        "[bold]plumbing CPU ms per article[/bold]",
        f"{old.plumbing_ms:.1f}",
        f"[bold]{new.plumbing_ms:.1f}[/bold]",
    )
    console.print(table)
    console.print(
        f"pipeline_efficiency [bold]{efficiency:.3f}[/bold]; against the stages on every core at "
        f"once (stage_core_scaling {scaling:.3f}): {efficiency / scaling:.3f}"
    )
    console.print(
        f"topology_speedup: [bold]{figures['topology_speedup']:.2f}x[/bold] (median round; the "
        f"fastest run of each: {figures['topology_speedup_best_of_each']:.2f}x; NER stage alone, one "
        f"process: {ner_alone:.2f} articles/s)"
    )
    if ner_fast_ms:
        console.print(
            f"plumbing_share_of_ner: [bold]{figures['plumbing_share_of_ner']:.3f}[/bold] "
            f"of the fast int8 NER's {ner_fast_ms:.0f} ms per article"
        )


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
    parser.add_argument(
        "--articles",
        type=int,
        default=240,
        # Enough that the fixed tail of a run (the indexer's 1 s partial-batch flush, the 1 s
        # refresh, the last articles on one core) is ~2 % of part 3's clock, not ~5 %.
        help="articles from the seeds for parts 1 and 3",
    )
    parser.add_argument("--index-docs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per NER stand-in")
    parser.add_argument("--rss-articles", type=int, default=1000)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument(
        "--skip-standins",
        action="store_true",
        help="skip part 2 (then plumbing_share_of_ner is not computed)",
    )
    parser.add_argument(
        "--skip-after-pipeline",
        action="store_true",
        help="stop after part 3 (scaling out, indexing, search and memory are not measured)",
    )
    parser.add_argument(
        "--topology-rounds",
        type=int,
        default=3,
        # Three: the first round still meets an Elasticsearch compiling the pipeline's paths
        # (57 ms of CPU per article in it, 11-23 ms in the rounds after it, in one run).
        help="alternating rounds per worker topology (the bars take the median round)",
    )
    parser.add_argument("--search-docs", type=int, default=20000)
    parser.add_argument("--export-docs", type=int, default=20000)
    parser.add_argument("--watch-docs", type=int, default=2000)
    parser.add_argument("--delivery-alerts", type=int, default=300)
    parser.add_argument("--skip-stories", action="store_true", help="skip part 7 (story grouping)")
    args = parser.parse_args()

    start_run()
    model = ner_model()  # the trained test tagger: int8 agreement on real text, memory growth
    # The pipeline runs the fast stand-in, as heavy as the production model it stands for
    # (the tiny test tagger is a third of its cost, which would understate NER's share).
    pipeline_model = saved_standin("fast", BENCH_DATA / "models")
    os.environ["DATELINE_NER_MODEL"] = str(pipeline_model)
    # Workers load model files only from the model folder (they are pickles): the stand-in's
    # folder is that folder, for this process and the workers it starts.
    os.environ["DATELINE_MODEL_DIR"] = str(pipeline_model.parent)
    from shared.settings import get_settings

    get_settings.cache_clear()
    cores = available_cores()  # a container's limit, not the host's count
    documents = seed_documents(args.articles)
    console.print(
        f"[bold]Dateline benchmarks[/bold]: {args.articles} articles from the seeds, "
        f"{cores} cores, NER {pipeline_model.name}"
    )

    timer = StageTimer()
    per_article, enriched = timer.measure(documents)
    total = sum(per_article.values())
    table = Table(
        "stage",
        "ms / article",
        "share of enrichment",
        title="1. Stage costs (one process, fast NER stand-in)",
    )
    for name, seconds in per_article.items():
        table.add_row(name, f"{seconds * 1000:.1f}", f"{seconds / total:.0%}")
    console.print(table)
    record({f"stage_ms_{name}": seconds * 1000 for name, seconds in per_article.items()})
    # The same pass on every core at once, straight after: how far this machine's cores scale.
    scaling = core_scaling(documents, cores, total)

    figures: dict[str, float] = {}
    if not args.skip_standins:
        figures = standin_figures(args.rounds, model)

    if not args.skip_stories:
        from tests.bench.stories import bench_stories

        # Before Elasticsearch starts: the million signatures need their memory to themselves.
        bench_stories(console)

    services = BackingServices(BENCH_DATA, redis_port=free_port(), es_port=free_port())
    services.start()
    try:
        if not args.skip_pipeline:
            warm_elasticsearch(services.es_url, enriched)
            # The stages alone, timed again in every round just before the default: the ideal.
            rounds = bench_topologies(
                services,
                documents,
                pipeline_model,
                time_stages=lambda: timer.measure(documents)[0],
                rounds=args.topology_rounds,
            )
            report_topologies(rounds, cores, figures.get("ner_ms_fast_int8"), scaling)
            if args.skip_after_pipeline:
                return
            bench_scaling(services, documents, pipeline_model, console)
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

        from tests.bench.export import bench_export

        bench_export(Elasticsearch(services.es_url), services.es_url, args.export_docs, console)

        from tests.bench.watches import bench_watches

        # What matching every written batch against the watches costs the indexer.
        bench_watches(Elasticsearch(services.es_url), services.es_url, args.watch_docs, console)

        from tests.bench.delivery import bench_delivery

        # Signed webhook calls alone against one and two delivery services through the outbox.
        bench_delivery(services.es_url, args.delivery_alerts, console)
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

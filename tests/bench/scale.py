"""`make bench-scale`: what everything around the stages costs at 10,000, 100,000 and
1,000,000 articles (not part of ``make test``; sizes are an option).

At each size, on a real Redis and Elasticsearch started for the run: a registry of N files
registered and indexed as ingest and the indexer leave them (``Registry.put``), progress
records of the articles in flight (a constant number: in flight is bounded by the workers,
not the archive), and N documents made from the seeds bulk-written into the alias. The
stages are skipped; what is measured is everything around them:

* ``redis_bytes_per_file``: Redis ``used_memory`` growth over the registry, per file;
* ``status_ms``: ``collect_status`` with Elasticsearch (what ``dateline status`` shows,
  without the interpreter's start-up); ``health_ms`` and ``pipeline_page_ms``: ``GET /health``
  and ``GET /pipeline`` of the API app in this process (ASGI, no socket); medians;
* ``reconcile_pass_s``: one reconciler pass (in-flight check, never-queued scan), the audit
  not due; ``audit_docs_per_s``: a full index audit comparing every id;
* ``rescan_s``: the watcher's rescan of an unchanged inbox of ``min(N, 100,000)`` files that
  are all registered (``rescan_files``); the other files of a larger archive are a backfill
  of another folder, registered under absolute paths;
* ``search_p50_ms``, ``search_p95_ms``: the search page (HTML, facets counting distinct texts)
  over a set of queries.

Results: ``.dateline/bench/scale.json``, one object per size.

Usage: python -m tests.bench.scale [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from tests.bench.stacks import BENCH_DATA  # noqa: E402
from tests.support.services import BackingServices, free_port  # noqa: E402

SCALE_RESULTS = BENCH_DATA / "scale.json"
IN_FLIGHT = 1000
RESCAN_FILES = 100_000
QUERIES = (
    "Pakistan",
    "Taliban OR Pakistan",
    "election",
    "police",
    "minister",
    "Islamabad",
    "court",
    "government",
    "said",
    "United States",
)
console = Console()
FIGURES = (
    "status_ms",
    "health_ms",
    "pipeline_page_ms",
    "reconcile_pass_s",
    "audit_docs_per_s",
    "rescan_s",
    "redis_bytes_per_file",
    "search_p50_ms",
    "search_p95_ms",
)


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of ``repeat`` calls, after one that warms caches."""
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def documents(n: int, inbox_files: int) -> Iterator[tuple[str, dict]]:
    """(source path, indexed document) for n articles made from the seeds; the first
    ``inbox_files`` paths are files of the rescan's inbox."""
    from shared.schemas import text_story_id
    from tests.support.documents import seed_documents

    seeds = seed_documents(5, prefix="scale")
    for i in range(n):
        doc = seeds[i % len(seeds)]
        # Beyond the inbox's files: a backfill of another folder (`dateline ingest PATH`),
        # registered under absolute paths, which a rescan of the inbox leaves alone.
        path = (
            f"scale/{i // 1000:04d}/article-{i:07d}.txt"
            if i < inbox_files
            else f"/srv/backfill/{i // 1000:04d}/article-{i:07d}.txt"
        )
        source = doc.model_copy(
            update={
                "source_path": path,
                "id": f"scale-{i:07d}",
                "revision": 1,
                "language": "en",
                "title": f"{doc.title} ({i})",
                # Its own story (model_copy runs no validators: it would keep its seed's),
                # named as the product names one: by a hex digest (search samples by it).
                "story_id": text_story_id(hashlib.sha256(f"scale-{i:07d}".encode()).hexdigest()),
            }
        )
        yield path, source.model_dump(mode="json")


def build(n: int, client, es, alias: str, inbox: Path, inbox_files: int) -> dict[str, float]:
    """Registry, progress records, index and inbox for n articles; returns bytes per file."""
    from elasticsearch import helpers

    from shared.registry import FileRecord, Registry
    from shared.schemas import ArticleDocument
    from shared.search.index import ensure_index
    from shared.settings import get_settings

    client.flushdb()
    registry = Registry(client)
    before = int(client.info("memory")["used_memory"])
    ensure_index(es, alias, get_settings())
    batch: list[dict] = []
    in_flight: list[ArticleDocument] = []
    for i, (path, source) in enumerate(documents(n, inbox_files)):
        size, mtime = 0, 0.0
        if i < inbox_files:
            file = inbox / path
            if not file.exists():
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text(source["body"][:200])
            st = file.stat()
            size, mtime = st.st_size, st.st_mtime
        registry.put(
            FileRecord(
                path=path,
                size=size,
                mtime=mtime,
                sha256="0" * 64,
                state="indexed",
                revision=1,
                articles=1,
                doc_ids=[source["id"]],
            )
        )
        batch.append(
            {
                "_index": alias,
                "_id": source["id"],
                "_source": source,
                "version": 1,
                "version_type": "external_gte",
            }
        )
        if i < IN_FLIGHT:
            in_flight.append(ArticleDocument.model_validate(source))
        if len(batch) >= 2000:
            helpers.bulk(es.options(request_timeout=120), batch, chunk_size=500)
            batch = []
    if batch:
        helpers.bulk(es.options(request_timeout=120), batch, chunk_size=500)
    redis_bytes = (int(client.info("memory")["used_memory"]) - before) / n
    from shared.progress import ProgressLog

    es.indices.refresh(index=alias)
    settled(es, alias)
    # Queued now, after the merges: written before them, at a million documents the articles
    # had waited longer than DATELINE_RECONCILE_STUCK_SECONDS by the time the reconciler's
    # pass was measured, which then took them for lost and queued 1,000 files again (0.9 s).
    progress = ProgressLog(client)
    for doc in in_flight:  # articles in flight: queued for their first stage
        progress.queued(doc, "language")
    return {"redis_bytes_per_file": redis_bytes}


def settled(es, alias: str, timeout: float = 900.0) -> None:
    """Wait until Elasticsearch has finished merging the segments the build wrote.

    A million documents bulk-written leave merges running for minutes after the last one is
    acknowledged, each on one of this machine's two cores; measured straight away, every
    latency at that size carried them (search p95 158 ms in one run, 280 ms in the next).
    An archive in use grows by a few documents a second, not a million at once.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        merges = es.indices.stats(index=alias, metric="merge")["_all"]["total"]["merges"]
        if not merges["current"]:
            return
        time.sleep(2)
    console.print(f"[yellow]merges still running after {timeout:.0f} s: figures carry them[/yellow]")


def measure(
    n: int, services: BackingServices, repeat: int, inbox_files: int = RESCAN_FILES
) -> dict[str, float]:
    import redis
    from elasticsearch import Elasticsearch
    from fastapi.testclient import TestClient

    from services.api.app import create_app
    from services.ingest.audit import audit_index
    from services.ingest.processor import Ingestor
    from services.ingest.reconciler import Reconciler
    from services.ingest.watcher import Watcher
    from shared.celery_app import make_app
    from shared.registry import Registry
    from shared.settings import get_settings
    from shared.status import collect_status

    alias = f"bench-scale-{n}"
    os.environ |= {
        "DATELINE_REDIS_URL": services.redis_url.rsplit("/", 1)[0] + "/3",
        "DATELINE_ELASTICSEARCH_URL": services.es_url,
        "DATELINE_INDEX": alias,
    }
    get_settings.cache_clear()
    settings = get_settings()
    client = redis.Redis.from_url(settings.redis_url)
    es = Elasticsearch(services.es_url, request_timeout=120)
    if es.indices.exists_alias(name=alias):
        es.indices.delete(index=list(es.indices.get_alias(name=alias)))
    started = time.perf_counter()
    inbox_files = min(n, inbox_files)
    # One folder per inbox size: its files are made once and reused by every size and run.
    inbox = BENCH_DATA / f"scale-inbox-{inbox_files}"
    os.environ["DATELINE_INBOX"] = str(inbox)
    get_settings.cache_clear()
    settings = get_settings()
    figures = build(n, client, es, alias, inbox, inbox_files)
    console.print(f"[dim]{n:,} articles built in {time.perf_counter() - started:.0f} s[/dim]")

    ms = timed(lambda: collect_status(client, es, es_url=services.es_url, alias=alias), repeat)
    figures["status_ms"] = statistics.median(ms)
    shown = collect_status(client, es, es_url=services.es_url, alias=alias).index
    if shown is None or shown.outcomes is None or shown.outcomes.documents != n:
        # A status that failed to read the index answers fast: that is not the figure.
        raise SystemExit(
            f"status did not count the {n:,} documents ({shown}): the benchmark measures no work"
        )
    api = TestClient(create_app(settings), base_url="http://127.0.0.1")
    for name, path in (("health_ms", "/health"), ("pipeline_page_ms", "/pipeline")):
        figures[name] = statistics.median(timed(lambda path=path: api.get(path), repeat))
        if (answer := api.get(path)).status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: the benchmark measures no work")
    search = [
        t
        for _ in range(max(1, repeat // 2))
        for q in QUERIES
        for t in timed(lambda q=q: api.get("/", params={"q": q}), 1)
    ]
    search.sort()
    figures["search_p50_ms"] = search[len(search) // 2]
    figures["search_p95_ms"] = search[min(len(search) - 1, int(len(search) * 0.95))]

    ingestor = Ingestor(Registry(client), make_app(settings), settings)
    reconciler = Reconciler(ingestor, es, settings)
    reconciler._next_audit = float("inf")  # the pass alone; the audit is measured apart
    report = reconciler.run_pass()
    if report is None or not report.examined:
        raise SystemExit(f"the reconciler's pass examined nothing ({report}): the benchmark measures no work")
    figures["reconcile_pass_s"] = statistics.median(timed(reconciler.run_pass, 3)) / 1000
    figures["reconcile_examined"] = report.examined
    started = time.perf_counter()
    audit = audit_index(es, Registry(client), alias, None)
    figures["audit_docs_per_s"] = audit.expected / (time.perf_counter() - started)
    if audit.missing_docs:
        raise SystemExit(
            f"the audit found {audit.missing_docs} documents missing of {audit.expected}: "
            "the synthetic archive is not what it should be"
        )
    watcher = Watcher(ingestor, settings)
    figures["rescan_s"] = statistics.median(timed(watcher.rescan, 2)) / 1000
    deletions = watcher.deletions.due(float("inf"), files_settling=False)
    if watcher.pending or deletions:
        raise SystemExit(
            f"the rescan of an unchanged inbox found {len(watcher.pending)} files to process and "
            f"{len(deletions)} deleted: the synthetic archive is not what it should be"
        )
    figures["rescan_files"] = inbox_files
    es.indices.delete(index=list(es.indices.get_alias(name=alias)))
    client.flushdb()
    return figures


def growth_table(results: dict[str, dict[str, float]]) -> Table:
    sizes = sorted(results, key=int)
    table = Table(
        "measure",
        *[f"{int(s):,}" for s in sizes],
        *[f"x {int(b) // int(a)}" for a, b in zip(sizes, sizes[1:], strict=False)],
        title="Costs by archive size (growth per tenfold)",
    )
    for name in FIGURES:
        values = [results[s][name] for s in sizes]
        table.add_row(
            name,
            *[f"{v:.4g}" for v in values],
            *[f"{b / a:.2f}" if a else "-" for a, b in zip(values, values[1:], strict=False)],
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="archive sizes, comma-separated")
    parser.add_argument(
        "--inbox-files", type=int, default=RESCAN_FILES, help="files in the rescanned inbox (at most)"
    )
    parser.add_argument("--output", type=Path, default=SCALE_RESULTS, help="results file (merged per size)")
    parser.add_argument("--repeat", type=int, default=10, help="calls per latency figure (median)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    services = BackingServices(BENCH_DATA, redis_port=free_port(), es_port=free_port())
    services.start()
    output: Path = args.output
    results: dict[str, dict[str, float]] = json.loads(output.read_text()) if output.is_file() else {}
    try:
        for n in sizes:
            figures = measure(n, services, args.repeat, args.inbox_files)
            results[str(n)] = {k: round(v, 4) for k, v in figures.items()}
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(results, indent=2) + "\n")
            console.print(f"{n:,}: " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))
    finally:
        services.stop()
    console.print(growth_table(results))
    console.print(f"Figures written to {output}")


if __name__ == "__main__":
    main()

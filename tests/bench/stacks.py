"""The benches that run a stack of real processes: the stack at the product's timings, what
they do before the clock starts (wait until every worker pool process has loaded its models
and the index exists, register the articles' files as ingest would: the indexer writes only
documents of registered files, warm Elasticsearch), and how they stop it (every file indexed
and searchable)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.schemas import ArticleDocument
from tests.support.paths import REPO_DIR

BENCH_DATA = REPO_DIR / ".dateline" / "bench"


def bench_stack(services: Any, name: str, model: Path, extra_env: Mapping[str, str] | None = None) -> Any:
    """A stack of real processes (its own Redis database and alias) on the benchmark's Redis
    and Elasticsearch, running NER ``model`` at the product's timings; ``name`` is its run
    folder under ``.dateline/bench``."""
    from tests.support.stack import Stack

    return Stack(
        redis_base_url=services.redis_url,
        es_url=services.es_url,
        log_dir=BENCH_DATA / "logs",
        run_dir=BENCH_DATA / name,
        ner_model=str(model),
        inbox=BENCH_DATA / "inbox",
        extra_env={**production_timings(), **(extra_env or {})},
    )


def production_timings() -> dict[str, str]:
    """The indexer's flush wait and the index's refresh interval at their defaults.

    The test stack shortens both so that tests see their documents sooner; a benchmark that
    kept them would pay five refreshes a second (a new segment each, and its merging) that
    the product does not.
    """
    from shared.settings import Settings

    fields = Settings.model_fields
    return {
        "DATELINE_INDEX_FLUSH_SECONDS": str(fields["index_flush_seconds"].default),
        "DATELINE_INDEX_REFRESH_INTERVAL": str(fields["index_refresh_interval"].default),
    }


def warmed_up(stack: Any, pool_processes: int, running: Sequence[Any]) -> list[int]:
    """Wait until ``pool_processes`` worker pool processes run and the alias exists; their pids."""
    from shared.heartbeat import read_heartbeats
    from tests.support.processes import wait_until

    wait_until(
        lambda: (
            len([b for b in read_heartbeats(stack.redis, "worker") if b.state == "running"]) >= pool_processes
        ),
        timeout=600,
        what=f"{pool_processes} worker pool process(es) warmed up",
        processes=running,
    )
    wait_until(
        lambda: stack.es.indices.exists_alias(name=stack.alias),
        timeout=120,
        what="index created",
        processes=running,
    )
    return [b.pid for b in read_heartbeats(stack.redis, "worker")]


def register_files(stack: Any, documents: Sequence[ArticleDocument]) -> None:
    """Each document's file in the registry, as ingest leaves it before queueing."""
    from shared.registry import FileRecord, Registry

    registry = Registry(stack.redis)
    for doc in documents:
        registry.put(FileRecord(path=doc.source_path, revision=doc.revision, articles=1, doc_ids=[doc.id]))


def wait_searchable(stack: Any, count: int, running: Sequence[Any], timeout: float = 1800.0) -> None:
    """Wait until the indexer has written ``count`` files' documents, then make them searchable.

    The wait reads the registry's count of indexed files (one SCARD), not Elasticsearch:
    polling ``_count`` after a forced refresh five times a second made Elasticsearch write a
    new segment each time, CPU the benchmark then counted as the archive's. One refresh at
    the end makes the last documents searchable, as the index's refresh interval would.
    """
    from shared.registry import Registry
    from tests.support.processes import wait_until

    registry = Registry(stack.redis)
    wait_until(
        lambda: registry.counts()["indexed"] >= count,
        timeout=timeout,
        every=0.2,
        what=f"{count} benchmark articles indexed",
        processes=running,
    )
    stack.es.indices.refresh(index=stack.alias)


def warm_elasticsearch(es_url: str, documents: Sequence[ArticleDocument], passes: int = 12) -> None:
    """Index ``documents`` ``passes`` times into a scratch index of the articles' template,
    in small batches written as the indexer writes them, then delete it.

    A freshly started Elasticsearch spends its first thousand or so documents compiling its
    indexing code: measured here, its CPU per enriched article was 74, 50 and 28 ms over the
    first three passes of 120 and 12 to 19 ms from the fourth (with five passes, part 3 still
    saw 18 ms in one run and 30 in another). The product's Elasticsearch runs for months; a
    benchmark that charged a round with the compiler would favour whichever ran later.
    """
    from elasticsearch import Elasticsearch

    from shared.search.index import ensure_index
    from shared.search.template import template_name
    from shared.settings import Settings

    es = Elasticsearch(es_url, request_timeout=120)
    alias = "bench-warm-up"
    ensure_index(es, alias, Settings(_env_file=None, elasticsearch_url=es_url))
    sources = [doc.model_dump(mode="json") for doc in documents]
    for n in range(passes):
        for start in range(0, len(sources), 4):
            operations: list[dict[str, Any]] = []
            for source in sources[start : start + 4]:
                # Versioned, as the indexer writes (another code path to compile).
                action = {
                    "_index": alias,
                    "_id": f"{n}-{source['id']}",
                    "version": 1,
                    "version_type": "external_gte",
                }
                operations += [{"index": action}, source]
            es.bulk(operations=operations, require_alias=True)
    es.indices.delete(index=list(es.indices.get_alias(name=alias)))
    es.indices.delete_index_template(name=template_name(alias))

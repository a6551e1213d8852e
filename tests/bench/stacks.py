"""What the benches that run a stack of real processes do before the clock starts: wait until
every worker pool process has loaded its models and the index exists, and register the
articles' files as ingest would (the indexer writes only documents of registered files)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.schemas import ArticleDocument


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

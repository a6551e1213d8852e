"""Fault tests: real processes killed with real signals, real services stopped and started,
and then the same three checks every time:

- every file dropped ends indexed, or failed with a reason the user can read;
- no document is in the index twice, and each file has exactly its documents;
- status tells the truth: nothing shown as processing on a process that is gone, nothing
  left in flight once everything settled.

Most tests shorten the delivery bounds (``FAST_BOUNDS``) so that a lost article is found in
seconds rather than minutes; the worker-kill test runs with the defaults, which is what the
2-minute promise is about.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from shared.registry import Registry
from shared.status import Status, collect_status
from tests.support.paths import SEEDS
from tests.support.processes import ServiceProcess, wait_until
from tests.support.services import BackingServices, free_port
from tests.support.stack import Stack

# Bounds for tests: stages stop after 20 s, a dead worker's task is back after 40 s, a lost
# article is looked for every 3 s and queued again after 40 s without a move.
FAST_BOUNDS = {
    "DATELINE_TASK_SOFT_TIME_LIMIT": "20",
    "DATELINE_TASK_VISIBILITY_TIMEOUT": "40",
    "DATELINE_RECONCILE_SECONDS": "3",
    "DATELINE_RECONCILE_STUCK_SECONDS": "40",
    "DATELINE_RECONCILE_AUDIT_SECONDS": "10",
    "DATELINE_HEARTBEAT_SECONDS": "2",
}
# A batch per article, so that the indexer is killed between writes with work still to do
# (a partial batch waits for more: every article could otherwise land in one batch).
ONE_ARTICLE_PER_BATCH = {"DATELINE_INDEX_BATCH_SIZE": "1"}
SEED_FILES = sorted(SEEDS.glob("*.txt"))


def drop_articles(inbox: Path, count: int, tag: str = "a") -> list[str]:
    """``count`` distinct article files (the seeds, each with a line of its own) in the inbox;
    returns their source paths."""
    inbox.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        seed = SEED_FILES[i % len(SEED_FILES)]
        name = f"{tag}{i:03d}-{seed.name}"
        (inbox / name).write_text(seed.read_text() + f"\n\nReference {tag}-{i}.\n", encoding="utf-8")
        paths.append(name)
    return paths


def indexed_files(stack: Stack) -> int:
    return Registry(stack.redis).counts()["indexed"]


def settled(stack: Stack, paths: list[str]) -> bool:
    """Every file indexed, or failed with a failure recorded for it."""
    registry = Registry(stack.redis)
    failed = {f.path for f in registry.failures()}
    for path in paths:
        record = registry.get(path)
        if record is None or not (record.state == "indexed" or (record.state == "failed" and path in failed)):
            return False
    return True


def assert_indexed_once(stack: Stack, paths: list[str]) -> None:
    """Each file's documents are in the index exactly once, and nothing else is."""
    registry = Registry(stack.redis)
    expected = {doc_id: path for path in paths for doc_id in registry.get(path).doc_ids}  # type: ignore[union-attr]
    documents = stack.documents()
    ids = Counter(doc["_id"] for doc in documents)
    assert [doc_id for doc_id, n in ids.items() if n > 1] == []
    assert set(ids) == set(expected), {"missing": set(expected) - set(ids), "extra": set(ids) - set(expected)}
    assert Counter(doc["source_path"] for doc in documents) == Counter(expected.values())


def assert_status_settled(stack: Stack) -> Status:
    """Status once everything settled: nothing in flight, nothing processing, no stale entry."""
    status = collect_status(stack.redis)
    assert status.processing == [], status.processing
    assert status.in_flight == 0
    assert status.files.get("queued", 0) == 0, status.files
    return status


def no_stale_processing(stack: Stack) -> bool:
    """Nothing shown as processing on a worker process that is gone."""
    return all(item["worker_alive"] for item in collect_status(stack.redis).processing)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[BackingServices]:
    """A Redis of the test's own, append-only as `dateline stack` runs it, for tests that kill
    it (the session's Redis serves every other test)."""
    services = BackingServices(tmp_path / "own", free_port(), free_port())
    services.start("redis")
    yield services
    services.stop("redis")


def redis_process(services: BackingServices) -> ServiceProcess:
    return services.processes["redis"]


def restart_redis(services: BackingServices) -> None:
    """Start the killed Redis again, on its port and data folder (its append-only file)."""
    redis_process(services).start()
    client = redis.Redis.from_url(services.redis_url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    wait_until(answers, timeout=60, what="Redis answering again")


def log_lines(process: ServiceProcess, needle: str) -> list[str]:
    return [line for line in process.log().splitlines() if needle in line]

"""kill -9 of a Celery pool process, as the kernel's out-of-memory killer does it.

The worker's parent must replace it without help, the replacement must be allowed to load
its models (Celery's default of 4 s killed every replacement, for ever), the article it held
must be done again, and status must name the death and, when processes keep dying, the
crash loop with its cause.
"""

from __future__ import annotations

import os
import signal

from shared.crashes import CRASH_LOOP_DEATHS
from shared.heartbeat import read_heartbeats
from shared.progress import ProgressLog
from shared.status import collect_status
from tests.integration.faults.conftest import (
    FAST_BOUNDS,
    assert_indexed_once,
    assert_status_settled,
    drop_articles,
    settled,
)
from tests.support.processes import wait_until


def ner_processes(stack, state: str | None = None) -> list[int]:
    """Pids of the pool processes serving NER with a live heartbeat (in ``state``)."""
    return [
        b.pid
        for b in read_heartbeats(stack.redis, "worker")
        if "entities" in b.worker_details.queues and (state is None or b.state == state)
    ]


def test_killed_pool_process_is_replaced_and_a_crash_loop_is_shown(make_stack):
    stack = make_stack(extra_env=FAST_BOUNDS)
    workers = stack.start_workers()
    processes = [*workers, stack.start_indexer(), stack.start_ingest()]
    paths = drop_articles(stack.inbox, 6)

    # The NER pool process is in the middle of an article: kill it.
    progress = ProgressLog(stack.redis)
    (marker,) = wait_until(
        lambda: [m for m in progress.markers().values() if m["stage"] == "entities"],
        timeout=600,
        every=0.2,
        what="NER running on an article",
        processes=processes,
    )
    victim = int(marker["worker"].rsplit(":", 1)[1])
    os.kill(victim, signal.SIGKILL)

    # Replaced without help, and the replacement gets to load its models and serve.
    wait_until(
        lambda: [pid for pid in ner_processes(stack, "running") if pid != victim],
        timeout=300,
        what="a new NER pool process running",
        processes=processes,
    )
    status = collect_status(stack.redis)
    death = status.recent_deaths[0]
    assert death.pid == victim and death.exitcode == -signal.SIGKILL
    assert death.doing == f"entities on {marker['path']}"
    assert "killed by SIGKILL while running entities" in death.cause and "out-of-memory" in death.cause
    assert not [item for item in status.processing if item["worker"] == marker["worker"]]

    # It keeps dying: status shows a crash loop, with the cause.
    for _ in range(CRASH_LOOP_DEATHS - 1):
        current = wait_until(
            lambda: ner_processes(stack), timeout=300, what="a NER pool process", processes=processes
        )
        os.kill(current[0], signal.SIGKILL)  # type: ignore[index]
        wait_until(
            lambda pid=current[0]: collect_status(stack.redis).recent_deaths[0].pid == pid,  # type: ignore[index]
            timeout=60,
            what="the death recorded",
        )
    (loop,) = collect_status(stack.redis).crash_loops
    assert loop.node.startswith("worker@") and loop.deaths == CRASH_LOOP_DEATHS
    assert "pool process" in loop.last_cause and "SIGKILL" in loop.last_cause

    # Left alone, it recovers, and every article is indexed once, its entities found.
    wait_until(
        lambda: settled(stack, paths), timeout=900, every=2, what="every file indexed", processes=processes
    )
    assert all(p.running for p in processes)
    assert_indexed_once(stack, paths)
    assert {doc["provenance"]["entities"]["status"] for doc in stack.documents()} == {"ok"}
    assert_status_settled(stack)

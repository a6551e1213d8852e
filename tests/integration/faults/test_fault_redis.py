"""kill -9 of Redis while articles flow, and a restart on the same port and data folder.

Redis writes its append-only file every second, so a kill loses up to a second of writes:
queued tasks, acknowledgements, progress records, registry updates. Tasks in flight find
Redis gone when they hand on. Nothing may be lost for good: every file ends indexed (once),
and status has nothing stale left. Redis stays down 20 s here (the issue's report had 30 s):
long enough for every service to notice and retry, and for heartbeats to expire.
"""

from __future__ import annotations

import signal
import time

from tests.integration.faults.conftest import (
    FAST_BOUNDS,
    assert_indexed_once,
    assert_status_settled,
    drop_articles,
    indexed_files,
    log_lines,
    redis_process,
    restart_redis,
    settled,
)
from tests.support.processes import wait_until

ARTICLES = 40
DOWN_SECONDS = 20


def test_redis_killed_mid_flow_loses_nothing(own_redis, make_stack):  # own_redis first: it outlives the stack
    stack = make_stack(redis_base_url=own_redis.redis_url, extra_env=FAST_BOUNDS)
    workers = stack.start_workers()
    processes = [*workers, stack.start_indexer(), stack.start_ingest()]
    paths = drop_articles(stack.inbox, ARTICLES)

    wait_until(
        lambda: indexed_files(stack) >= 3, timeout=600, what="the first articles indexed", processes=processes
    )
    redis_process(own_redis).kill(signal.SIGKILL)
    time.sleep(DOWN_SECONDS)
    restart_redis(own_redis)

    wait_until(
        lambda: settled(stack, paths),
        timeout=900,
        every=2,
        what="every file indexed or failed",
        processes=processes,
    )
    assert all(p.running for p in processes)
    assert_indexed_once(stack, paths)
    status = assert_status_settled(stack)
    assert status.files["indexed"] == ARTICLES and status.files["failed"] == 0

    # A worker whose task met the outage said once that Redis was away and once that it was
    # back (an idle one has nothing to say), Celery once that it cannot connect: no traceback
    # per task, no line per retry.
    for worker in workers:
        log = worker.log()
        away, back = log_lines(worker, "is unreachable since"), log_lines(worker, "is reachable again after")
        assert len(away) <= 1 and len(back) == len(away), log[-3000:]
        assert len(log_lines(worker, "Cannot connect to")) == 1, log[-3000:]
        assert "Traceback" not in log and "Couldn't ack" not in log, log[-3000:]

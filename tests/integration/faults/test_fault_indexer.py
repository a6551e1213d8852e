"""kill -9 of the indexer mid-flow, and Elasticsearch down for a minute.

The indexer acknowledges stream entries only after Elasticsearch took them and tells the
registry after that: a kill anywhere leaves entries pending (taken over by the restarted
indexer) or documents the registry has not heard of (the reconciler catches up). While
Elasticsearch is away everything waits in the stream, and the indexer says so once.
"""

from __future__ import annotations

import signal
import time

from shared.heartbeat import read_heartbeats
from shared.status import collect_status
from tests.conftest import SERVICES
from tests.integration.faults.conftest import (
    FAST_BOUNDS,
    ONE_ARTICLE_PER_BATCH,
    assert_indexed_once,
    assert_status_settled,
    drop_articles,
    indexed_files,
    log_lines,
    settled,
)
from tests.support.processes import wait_until

ES_DOWN_SECONDS = 60


def test_indexer_killed_mid_flow_loses_nothing(make_stack):
    stack = make_stack(extra_env={**FAST_BOUNDS, **ONE_ARTICLE_PER_BATCH})
    indexer = stack.start("indexer", "indexer", autorestart=True)
    processes = [*stack.start_workers(), indexer, stack.start_ingest()]
    paths = drop_articles(stack.inbox, 20)

    for _ in range(2):
        done = indexed_files(stack)
        wait_until(
            lambda done=done: indexed_files(stack) > done,
            timeout=600,
            every=0.2,
            what="more articles indexed",
            processes=processes,
        )
        indexer.kill(signal.SIGKILL)  # supervisord starts it again
        wait_until(lambda: indexer.running, timeout=60, what="the indexer restarted")

    wait_until(
        lambda: settled(stack, paths), timeout=900, every=2, what="every file indexed", processes=processes
    )
    assert_indexed_once(stack, paths)
    wait_until(lambda: collect_in_flight(stack) == 0, timeout=120, what="nothing left in flight")
    assert_status_settled(stack)


def test_elasticsearch_down_for_a_minute_loses_nothing(make_stack):
    stack = make_stack(extra_env=FAST_BOUNDS)
    indexer = stack.start_indexer()
    processes = [*stack.start_workers(), indexer, stack.start_ingest()]
    paths = drop_articles(stack.inbox, 12)
    wait_until(
        lambda: indexed_files(stack) >= 2, timeout=600, what="the first articles indexed", processes=processes
    )

    elasticsearch = SERVICES.processes["elasticsearch"]
    elasticsearch.kill(signal.SIGKILL)
    down_since = time.monotonic()
    # Articles dropped while it is down: on a quiet machine the first twelve may all be
    # written before the kill lands, and the indexer must meet the outage to report it.
    paths += drop_articles(stack.inbox, 4, tag="b")
    try:
        # The indexer says Elasticsearch is away: in its heartbeat (status) and once in its log.
        def outage_reported() -> bool:
            return any(
                "Elasticsearch" in b.details.unreachable for b in read_heartbeats(stack.redis, "indexer")
            )

        wait_until(
            outage_reported, timeout=120, what="the outage in the indexer's heartbeat", processes=processes
        )
        time.sleep(max(0.0, ES_DOWN_SECONDS - (time.monotonic() - down_since)))
    finally:
        SERVICES.start("elasticsearch")  # on its port and data folder, waited for until healthy

    wait_until(
        lambda: settled(stack, paths), timeout=900, every=2, what="every file indexed", processes=processes
    )
    assert_indexed_once(stack, paths)
    assert len(log_lines(indexer, "Elasticsearch at")) == 1, indexer.log()[-3000:]
    assert "Traceback" not in indexer.log()
    wait_until(lambda: collect_in_flight(stack) == 0, timeout=120, what="nothing left in flight")
    assert_status_settled(stack)


def collect_in_flight(stack) -> int:
    return collect_status(stack.redis).in_flight

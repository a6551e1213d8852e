"""Real worker processes facing messages they cannot read: kept, reported, and the
worker goes on with the next article."""

from __future__ import annotations

import json
import shutil

from celery import Celery

from shared.keys import STAGE_QUEUES, STAGE_TASKS, TASK_DEAD_LETTER_KEY
from shared.registry import Registry
from tests.support.paths import SEEDS
from tests.support.processes import wait_until


def test_unreadable_message_is_dead_lettered_and_reported(make_stack):
    stack = make_stack()
    processes = [*stack.start_workers(), stack.start_indexer(), stack.start_ingest()]
    broker = Celery(broker=stack.redis_url)
    bad = {"schema_version": 1, "document": {"source_path": "Reuters/broken.txt", "title": 5}}
    broker.send_task(STAGE_TASKS["language"], args=[bad], queue=STAGE_QUEUES["language"])

    wait_until(
        lambda: stack.redis.llen(TASK_DEAD_LETTER_KEY),
        timeout=300,
        what="the bad message kept in the dead-letter list",
        processes=processes,
    )
    kept = json.loads(stack.redis.lindex(TASK_DEAD_LETTER_KEY, 0))
    assert kept == bad
    (failure,) = Registry(stack.redis).failures()
    assert failure.path == "Reuters/broken.txt"
    assert failure.stage == "language"
    assert "could not be read" in failure.reason and TASK_DEAD_LETTER_KEY in failure.reason

    # The worker is still serving: a good article goes all the way through.
    seed = sorted(SEEDS.glob("*.txt"))[0]
    shutil.copy(seed, stack.inbox / seed.name)
    wait_until(stack.count, timeout=600, what="a good article indexed after the bad one", processes=processes)
    assert all(p.running for p in processes)

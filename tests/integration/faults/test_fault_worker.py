"""kill -9 of a whole worker (its parent and pool process at once) while it holds an article,
with the default delivery settings: the task it held must come back within two minutes
(it took the visibility timeout of 15 minutes plus kombu's ~100 s sweep before), and the
article must be indexed once. The worker is restarted by its supervisor, as in the stack.
"""

from __future__ import annotations

import signal
import time

from shared.celery_app import RESTORE_SECONDS
from shared.progress import ProgressLog
from shared.registry import Registry
from shared.settings import Settings
from shared.status import collect_status
from tests.integration.faults.conftest import (
    assert_indexed_once,
    assert_status_settled,
    drop_articles,
    settled,
)
from tests.support.processes import wait_until

BOUND_SECONDS = 120


def test_dead_workers_task_is_back_within_two_minutes_with_default_settings(make_stack):
    defaults = Settings(_env_file=None)
    assert defaults.task_visibility_timeout + RESTORE_SECONDS <= BOUND_SECONDS
    stack = make_stack()
    ner = stack.start("worker-ner", "worker", "--queues", "entities", "--name", "ner", autorestart=True)
    processes = [
        ner,
        stack.start("worker-light", "worker", "--queues", "language,summary", "--name", "light"),
        stack.start_indexer(),
        stack.start_ingest(),
    ]
    paths = drop_articles(stack.inbox, 4)

    progress = ProgressLog(stack.redis)
    (marker,) = wait_until(
        lambda: [m for m in progress.markers().values() if m["stage"] == "entities"],
        timeout=600,
        every=0.2,
        what="NER running on an article",
        processes=processes,
    )
    held, victim = marker["doc_id"], marker["worker"]
    ner.kill(signal.SIGKILL)  # the whole process group: parent and pool process
    killed = time.monotonic()

    # Status meanwhile: the article is not shown as processing on a live worker.
    def not_shown_as_live() -> bool:
        return not [
            m for m in collect_status(stack.redis).processing if m["worker"] == victim and m["worker_alive"]
        ]

    wait_until(not_shown_as_live, timeout=60, what="the dead worker's entry flagged or gone")

    def back() -> bool:
        record = progress.get([held]).get(held)
        return record is None or record.worker != victim

    wait_until(back, timeout=600, every=1, what="the dead worker's task delivered again")
    seconds = time.monotonic() - killed
    print(f"\n[measured] dead worker's task back after {seconds:.0f} s (bound {BOUND_SECONDS} s)")

    wait_until(
        lambda: settled(stack, paths), timeout=600, every=2, what="every file indexed", processes=processes
    )
    assert_indexed_once(stack, paths)
    assert Registry(stack.redis).counts()["indexed"] == len(paths)
    # Redelivered by kombu, not queued again by the reconciler (its deadline is longer).
    assert collect_status(stack.redis).reconciliation.totals == {}
    assert_status_settled(stack)

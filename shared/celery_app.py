"""The Celery configuration every service shares: cheap to import, no tasks in it.

Ingest and the CLI build an app with ``make_app()`` to send tasks by name; only worker
processes add the task modules (``services/worker/app.py``), and with them the models.

The delivery bounds (README: "Delivery guarantees"):

- a task is acknowledged only when its work is handed on (``acks_late``), one at a time
  (prefetch 1);
- a pool process that dies on a task, or is replaced by the hard time limit, puts the
  task back on its queue (``reject_on_worker_lost``, and no ack on a timeout);
- a whole worker that dies leaves its task unacknowledged in Redis; kombu puts it back on
  its queue once it is older than the visibility timeout, checking every
  ``RESTORE_SECONDS`` (kombu's default sweep is 10 s x a throttle of 10 = ~100 s);
- a task runs at most ``task_time_limit`` seconds, shorter than the visibility timeout,
  so a live worker's task is never delivered twice;
- a new pool process may load its models for ``worker_proc_alive_timeout`` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery
from kombu import Queue

from shared.keys import STAGE_QUEUES, STAGE_TASKS
from shared.settings import Settings, get_settings

# How often a live worker looks for tasks of vanished workers to put back on their queues.
RESTORE_SECONDS = 10


def make_app(settings: Settings | None = None, include: Sequence[str] = ()) -> Celery:
    settings = settings or get_settings()
    app = Celery("dateline", broker=settings.redis_url, include=list(include))
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        # Results are never waited on: each task hands its document to the next stage.
        task_ignore_result=True,
        # Acknowledge only when the work is done; a killed worker's task is redelivered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A task stopped by the hard time limit goes back on its queue too; the worker counts
        # the attempts and skips a stage that keeps killing its process (services/worker).
        task_acks_on_timeout=False,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        worker_prefetch_multiplier=1,
        worker_proc_alive_timeout=settings.worker_proc_alive_timeout,
        # Unacknowledged tasks of a worker that vanished come back after this long.
        broker_transport_options={
            "visibility_timeout": settings.task_visibility_timeout,
            "unacked_restore_interval": RESTORE_SECONDS,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        # Keep retrying while Redis is away (Celery's default gives up after 100 attempts).
        broker_connection_max_retries=None,
        task_queues=[Queue(name) for name in STAGE_QUEUES.values()],  # type: ignore[no-untyped-call]  # kombu: untyped
        task_routes={STAGE_TASKS[s]: {"queue": q} for s, q in STAGE_QUEUES.items()},
        task_default_queue=STAGE_QUEUES["language"],
        worker_hijack_root_logger=False,
        worker_concurrency=settings.worker_processes,
    )
    return app

"""The Celery configuration every service shares: cheap to import, no tasks in it.

Ingest and the CLI build an app with ``make_app()`` to send tasks by name; only worker
processes add the task modules (``services/worker/app.py``), and with them the models.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery
from kombu import Queue

from shared.queues import STAGE_QUEUES, STAGE_TASKS
from shared.settings import Settings, get_settings


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
        worker_prefetch_multiplier=1,
        # Unacknowledged tasks of a worker that vanished come back after this long.
        broker_transport_options={"visibility_timeout": settings.task_visibility_timeout},
        broker_connection_retry_on_startup=True,
        task_queues=[Queue(name) for name in STAGE_QUEUES.values()],
        task_routes={STAGE_TASKS[s]: {"queue": q} for s, q in STAGE_QUEUES.items()},
        task_default_queue=STAGE_QUEUES["language"],
        worker_hijack_root_logger=False,
        worker_concurrency=settings.worker_concurrency,
    )
    return app

"""The Celery tasks: one thin wrapper per stage queue.

Each hands its message to this process's :class:`WorkerProcess` (decode, run the stage and
the following ones this worker serves, hand on). When Redis is unreachable mid-task the
task is retried with exponential back-off; the stages' work is simply redone.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.exceptions import OperationalError

from services.worker.app import app
from services.worker.process import current_process
from shared.queues import STAGE_TASKS
from shared.settings import get_settings

RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": (redis.ConnectionError, redis.TimeoutError, OperationalError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_kwargs": {"max_retries": get_settings().task_max_retries},
}


@app.task(name=STAGE_TASKS["language"], **RETRY_OPTIONS)
def language(payload: dict[str, Any]) -> None:
    current_process().handle("language", payload)


@app.task(name=STAGE_TASKS["summary"], **RETRY_OPTIONS)
def summary(payload: dict[str, Any]) -> None:
    current_process().handle("summary", payload)


@app.task(name=STAGE_TASKS["entities"], **RETRY_OPTIONS)
def entities(payload: dict[str, Any]) -> None:
    current_process().handle("entities", payload)

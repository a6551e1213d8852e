"""The Celery tasks: one thin wrapper per stage queue.

Each hands its message to this process's :class:`WorkerProcess` (decode, run the stage and
the following ones this worker serves, hand on). There is no Celery retry: a retry is a new
message, and publishing it needs the broker that just went away, so Celery would reject the
task into nothing. Instead the process waits for Redis inside the task; if the task's time
runs out first, it goes back on its queue (``Reject(requeue=True)``), and while Redis is
still away kombu keeps it unacknowledged and restores it after the visibility timeout.
"""

from __future__ import annotations

from typing import Any

from celery.exceptions import Reject, SoftTimeLimitExceeded

from services.worker.app import app
from services.worker.process import current_process
from shared.keys import STAGE_TASKS
from shared.schemas import StageName


def _run(stage: StageName, payload: dict[str, Any]) -> None:
    try:
        current_process().handle(stage, payload)
    except SoftTimeLimitExceeded as exc:
        # Out of time outside a stage (stages record a time-out in provenance and go on):
        # waiting for Redis to come back. The work is redone from the message.
        raise Reject(f"{stage}: out of time while Redis was unreachable", requeue=True) from exc


@app.task(name=STAGE_TASKS["language"])
def language(payload: dict[str, Any]) -> None:
    _run("language", payload)


@app.task(name=STAGE_TASKS["summary"])
def summary(payload: dict[str, Any]) -> None:
    _run("summary", payload)


@app.task(name=STAGE_TASKS["entities"])
def entities(payload: dict[str, Any]) -> None:
    _run("entities", payload)

"""Celery signal handlers: where a worker's processes are set up and torn down.

The parent notes which stages it serves before the pool forks; each pool process then
builds its stages and loads their models once (torch never loads in the parent, so a
fork never copies it), and deletes its heartbeat when it exits.
"""

from __future__ import annotations

import os
import signal
from types import FrameType
from typing import Any

from celery.signals import celeryd_after_setup, worker_process_init, worker_process_shutdown

from services.worker.logs import quiet_celery_notices
from services.worker.process import leave_process, serve, start_process, stop_process
from shared.keys import STAGE_QUEUES
from shared.schemas import STAGES


@celeryd_after_setup.connect
def remember_queues(sender: Any, instance: Any, **_: Any) -> None:
    """In the parent: the stages whose queues this worker consumes."""
    queues = set(instance.app.amqp.queues.consume_from or {})
    serve([s for s in STAGES if STAGE_QUEUES[s] in queues], node=str(sender))
    quiet_celery_notices()


@worker_process_init.connect
def warm_up(**_: Any) -> None:
    """In each pool process: load the models once, then announce ourselves."""
    # `dateline stack` stops a program by sending SIGTERM to its whole process group, and
    # Celery leaves SIGTERM at its default in pool processes: they would die at once and
    # leave their heartbeats behind for three intervals. They delete them on the way out.
    signal.signal(signal.SIGTERM, _leave)
    start_process()


def _leave(signum: int, _frame: FrameType | None) -> None:
    leave_process()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # then end as SIGTERM always ended a pool process


@worker_process_shutdown.connect
def stop_heartbeat(**_: Any) -> None:
    stop_process()

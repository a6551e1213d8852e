"""Celery's prefork pool, with the deaths of its processes written down.

The worker's parent process is the one that learns how a pool process ended (billiard
reaps it, then starts a replacement). Each death that the pool did not ask for is recorded
(``shared/crashes.py``) with its exit code or signal and what the process was doing (its
processing marker, or "loading its models" when it never got to running), and the dead
process's heartbeat and markers are cleared at once, so ``dateline status`` shows neither
a dead process as working nor its article as being processed. ``dateline status`` shows
crash loops from these records.

Used as the worker's pool class (``worker_pool`` in ``services/worker/app.py``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from typing import Any

import redis
from billiard.pool import EX_RECYCLE
from celery.concurrency.asynpool import AsynPool
from celery.concurrency.prefork import TaskPool

from services.worker.process import worker_node
from shared.crashes import WorkerDeath, record_death
from shared.heartbeat import Heartbeat, delete_heartbeat, heartbeat_key
from shared.keys import PROCESSING_KEY
from shared.redis_client import as_text, connect
from shared.settings import get_settings

log = logging.getLogger("dateline.worker")

WORKER_SERVICE = "worker"
_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = connect(get_settings().redis_url)
    return _client


def note_death(pid: int, exitcode: int | None, controlled: bool) -> WorkerDeath:
    """Record how pool process ``pid`` ended and clear what it left in Redis."""
    host = socket.gethostname()
    death = WorkerDeath(
        host=host,
        node=worker_node() or f"worker@{host}",
        parent_pid=os.getpid(),
        pid=pid,
        exitcode=exitcode,
        controlled=controlled,
    )
    try:
        client = _redis()
        key = heartbeat_key(WORKER_SERVICE, host, pid)
        beat = client.get(key)
        if beat is not None:
            death.phase = Heartbeat.model_validate_json(beat).state
        markers = {
            as_text(field): json.loads(value) for field, value in client.hgetall(PROCESSING_KEY).items()
        }
        mine = {field: m for field, m in markers.items() if m.get("worker") == f"{host}:{pid}"}
        if mine:
            death.doing = "; ".join(f"{m.get('stage')} on {m.get('path')}" for m in mine.values())
        record_death(client, death)
        delete_heartbeat(client, key)
        if mine:
            client.hdel(PROCESSING_KEY, *mine)
    except (redis.RedisError, ValueError) as exc:
        log.warning("could not record the death of pool process %d (%s)", pid, exc)
    log.error("%s; a new pool process is starting", death.cause)
    return death


class RecordingAsynPool(AsynPool):
    """The prefork pool Celery uses, noting each process it had to bury."""

    def _join_exited_workers(self, shutdown: bool = False) -> Any:
        before = {process.pid: process for process in self._pool}
        result = super()._join_exited_workers(shutdown=shutdown)
        if not shutdown:
            remaining = {process.pid for process in self._pool}
            for pid, process in before.items():
                if pid in remaining or process.exitcode in (0, EX_RECYCLE):
                    continue
                note_death(pid, process.exitcode, bool(getattr(process, "_controlled_termination", False)))
        return result


class RecordingTaskPool(TaskPool):
    Pool = RecordingAsynPool

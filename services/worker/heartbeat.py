"""A worker process's heartbeat in Redis: who it is, what it serves, its models' state.

`dateline status` and the API's /health read these keys; they expire on their own
when a process dies, so a crashed worker disappears from the status within a minute.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import redis

from shared.queues import HEARTBEAT_TTL_SECONDS, WORKERS_KEY
from shared.schemas import utcnow

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 15


class Heartbeat:
    def __init__(self, client: Callable[[], redis.Redis], stages: Callable[[], dict[str, Any]]):
        self._client = client
        self._stages = stages
        self._stop = threading.Event()
        self._done = 0
        self.key = f"{WORKERS_KEY}{socket.gethostname()}:{os.getpid()}"
        self._thread = threading.Thread(target=self._loop, name="dateline-heartbeat", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self._client().delete(self.key)
        except redis.RedisError:
            pass

    def count_done(self) -> None:
        self._done += 1

    def beat(self) -> None:
        body = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "stages": self._stages(),
            "tasks_done": self._done,
            "at": utcnow().isoformat(),
        }
        try:
            self._client().set(self.key, json.dumps(body), ex=HEARTBEAT_TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("heartbeat not written: %s", exc)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            self.beat()

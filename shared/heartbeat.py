"""One heartbeat for every long-running Dateline process.

Each process (ingest, indexer, reconciler, API, every Celery pool process) keeps one key,
``dateline:service:{service}:{host}:{pid}``, holding a :class:`Heartbeat`. The key expires
``HEARTBEAT_TTL_FACTOR`` intervals after the last beat, so a process that dies disappears
from ``dateline status`` on its own; a process that stops cleanly deletes its key at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import redis
from pydantic import BaseModel, Field, SerializeAsAny, ValidationInfo, field_validator

from shared.keys import HEARTBEAT_INDEX_KEY, HEARTBEAT_PREFIX
from shared.redis_client import as_text
from shared.schemas import StageName, utcnow

log = logging.getLogger(__name__)

# A key lives this many intervals: one late beat (a busy machine) never hides a process.
HEARTBEAT_TTL_FACTOR = 3

HeartbeatState = Literal["starting", "running"]
ServiceName = Literal["ingest", "indexer", "reconciler", "api", "worker"]
# What a worker's stage can do now, as every view shows it (one rule: StageState.readiness).
StageReadiness = Literal["starting", "loaded", "not loaded yet", "model missing"]


class StepsFailing(BaseModel):
    """A service whose steps keep failing for a reason that is not an unreachable Redis or
    Elasticsearch (those are ``unreachable``): it lives, but does not do its work."""

    since: datetime = Field(description="When the first of the failed steps in a row failed.")
    steps: int = Field(description="Steps failed in a row.")
    error: str = Field(description="The last step's exception: type and message.")


class ServiceDetails(BaseModel):
    """What every service says in its heartbeat; each service's own model extends it."""

    unreachable: dict[str, datetime] = Field(
        default_factory=dict, description="Dependencies (Redis, Elasticsearch) out of reach, and since when."
    )


class StageState(BaseModel):
    """One stage of a worker process: its model and whether it could be loaded."""

    model: str | None = None
    version: str | None = None
    loaded: bool = False
    error: str | None = Field(
        None, description="Why the model could not be loaded: the stage runs without it."
    )
    form: str | None = Field(None, description="How the model runs (e.g. quantized), where it says.")

    def readiness(self, process: HeartbeatState) -> StageReadiness:
        """The one rule for "starting / loaded / model missing" in every view."""
        if process == "starting":
            return "starting"
        if self.error:
            return "model missing"
        return "loaded" if self.loaded else "not loaded yet"


class CurrentTask(BaseModel):
    """The stage a worker process runs now (the reconciler leaves such documents alone)."""

    doc_id: str
    path: str
    stage: StageName
    revision: int
    since: datetime


class WorkerDetails(ServiceDetails):
    node: str = ""
    queues: list[str] = Field(default_factory=list)
    stages: dict[StageName, StageState] = Field(default_factory=dict)
    tasks_done: int = 0
    stage_cpu_seconds: float = Field(
        0.0,
        description="CPU seconds this process spent inside stages (make bench: the plumbing is the rest).",
    )
    load_seconds: float | None = None
    current: CurrentTask | None = None


class IngestDetails(ServiceDetails):
    inbox: str = ""
    pending: int = 0
    queued: int = 0
    failed: int = 0
    last_rescan: datetime | None = None


class IndexerDetails(ServiceDetails):
    consumer: str = ""
    alias: str = ""
    indexed: int = 0
    errors: int = 0
    alerts: int = 0  # watches' alerts raised (new ones only: a repeat match is not counted)
    last_batch_at: datetime | None = None


class ReconcilerDetails(ServiceDetails):
    passes: int = 0
    standby: bool = False
    index: str = ""


class ApiDetails(ServiceDetails):
    listen: str = ""


DETAILS_BY_SERVICE: dict[str, type[ServiceDetails]] = {
    "worker": WorkerDetails,
    "ingest": IngestDetails,
    "indexer": IndexerDetails,
    "reconciler": ReconcilerDetails,
    "api": ApiDetails,
}


class Heartbeat(BaseModel):
    """What a process says about itself; ``details`` is the service's own model."""

    service: ServiceName
    host: str
    pid: int
    started_at: datetime
    at: datetime = Field(default_factory=utcnow)
    state: HeartbeatState = "running"
    interval: float = Field(description="Seconds between beats; the key lives 3 of them.")
    # SerializeAsAny: written with the service's own fields, not only the base's.
    details: SerializeAsAny[ServiceDetails] = Field(default_factory=ServiceDetails)
    failing: StepsFailing | None = None

    @field_validator("details", mode="before")
    @classmethod
    def _details_of_the_service(cls, value: object, info: ValidationInfo) -> object:
        kind = DETAILS_BY_SERVICE.get(str(info.data.get("service")), ServiceDetails)
        return value if isinstance(value, kind) else kind.model_validate(value or {})

    @property
    def worker_details(self) -> WorkerDetails:
        """The details of a worker process (empty ones for any other service)."""
        return self.details if isinstance(self.details, WorkerDetails) else WorkerDetails()

    @property
    def key(self) -> str:
        return heartbeat_key(self.service, self.host, self.pid)

    @property
    def label(self) -> str:
        return f"{self.service} {self.host}:{self.pid}"


def heartbeat_key(service: str, host: str, pid: int) -> str:
    return f"{HEARTBEAT_PREFIX}{service}:{host}:{pid}"


def read_heartbeats(client: redis.Redis, service: str | None = None) -> list[Heartbeat]:
    """Live heartbeats (of one service, or all), oldest process first.

    Read through the index of heartbeat keys (``HEARTBEAT_INDEX_KEY``, scored by when each
    expires), never by scanning the keyspace: a SCAN visits every key, and with a registry
    of a million files that made ``/health`` cost seconds (``make bench-scale``)."""
    now = time.time()
    members = [as_text(m) for m in client.zrangebyscore(HEARTBEAT_INDEX_KEY, now, "+inf")]
    prefix = f"{HEARTBEAT_PREFIX}{service}:" if service else HEARTBEAT_PREFIX
    keys = sorted(m for m in members if m.startswith(prefix))
    beats: list[Heartbeat] = []
    for key, value in zip(keys, client.mget(keys) if keys else [], strict=True):
        if value is None:
            continue  # expired (or deleted) between the two reads
        try:
            beats.append(Heartbeat.model_validate_json(value))
        except ValueError:
            log.warning("ignoring an unreadable heartbeat under %s", key)
    return sorted(beats, key=lambda b: (b.service, b.started_at, b.host, b.pid))


def write_heartbeat(client: redis.Redis, beat: Heartbeat, ttl_seconds: int) -> None:
    """Write ``beat`` for ``ttl_seconds`` with its entry in the index; the same round trip
    drops the entries of processes that died without deleting theirs (expired)."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.set(beat.key, beat.model_dump_json(), ex=ttl_seconds)
    pipe.zadd(HEARTBEAT_INDEX_KEY, {beat.key: now + ttl_seconds})
    pipe.zremrangebyscore(HEARTBEAT_INDEX_KEY, "-inf", now)
    pipe.execute()


def delete_heartbeat(client: redis.Redis, key: str) -> None:
    """A process is gone: its heartbeat and its entry in the index."""
    pipe = client.pipeline(transaction=False)
    pipe.delete(key)
    pipe.zrem(HEARTBEAT_INDEX_KEY, key)
    pipe.execute()


class HeartbeatWriter:
    """Writes one process's heartbeat from a daemon thread until ``stop()``.

    A thread, not the service's own loop: a step that blocks (a bulk write retrying
    while Elasticsearch is away, a long article in NER) must not make a live process
    look dead.
    """

    def __init__(
        self,
        connect: Callable[[], redis.Redis],
        service: ServiceName,
        interval: float,
        details: Callable[[], ServiceDetails] = ServiceDetails,
        *,
        state: HeartbeatState = "running",
    ):
        self._connect = connect
        self._details = details
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.interval = interval
        self.beat_model = Heartbeat(
            service=service,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=utcnow(),
            state=state,
            interval=interval,
        )

    @property
    def key(self) -> str:
        return self.beat_model.key

    @property
    def ttl_seconds(self) -> int:
        return max(1, round(self.interval * HEARTBEAT_TTL_FACTOR))

    def start(self) -> HeartbeatWriter:
        self.beat()
        self._thread = threading.Thread(
            target=self._loop, name=f"heartbeat-{self.beat_model.service}", daemon=True
        )
        self._thread.start()
        return self

    def set_state(self, state: HeartbeatState) -> None:
        """Change the state and say so at once (``starting`` -> ``running``)."""
        self.beat_model.state = state
        self.beat()

    def set_failing(self, failing: StepsFailing | None) -> None:
        """Say at once that steps keep failing (or no longer do)."""
        if failing != self.beat_model.failing:
            self.beat_model.failing = failing
            self.beat()

    def beat(self) -> bool:
        """Write the heartbeat now; False (logged once per outage) when Redis is away."""
        try:
            details = self._details()
        except Exception:  # noqa: BLE001 - a broken details callback must not stop the beat
            log.exception("heartbeat details failed; writing the heartbeat without them")
            details = ServiceDetails()
        beat = self.beat_model.model_copy(update={"at": utcnow(), "details": details})
        try:
            write_heartbeat(self._connect(), beat, self.ttl_seconds)
        except redis.RedisError as exc:
            if not self._failing:
                log.warning("heartbeat not written (Redis: %s); retrying every %g s", exc, self.interval)
            self._failing = True
            return False
        if self._failing:
            log.info("heartbeat written again")
        self._failing = False
        return True

    def stop(self, client: redis.Redis | None = None) -> None:
        """Stop beating and delete the key: a stopped process leaves status at once.

        ``client``: a connection of its own, for a signal handler that may have interrupted
        this process in the middle of a Redis call on the usual one."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            delete_heartbeat(client or self._connect(), self.key)
        except redis.RedisError as exc:
            log.warning(
                "could not delete heartbeat %s (%s); it expires in %d s", self.key, exc, self.ttl_seconds
            )

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

"""One Celery pool process: its stages (models loaded once, after the fork), its heartbeat,
its Redis client, and how a task's document moves through the stages it serves.

A task runs its own stage and then every following stage this process also serves, in the
same task: a worker serving ``language,summary`` makes one task of both, and the article
makes a single hop to the NER queue. After the last stage the document goes to the
indexer's stream.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from pydantic import ValidationError

from services.worker.stages.entities import EntityStage
from services.worker.stages.language import LanguageStage
from services.worker.stages.summary import SummaryStage
from shared.celery_app import make_app
from shared.heartbeat import HeartbeatWriter
from shared.pipeline import push_index_request, send_stage_task
from shared.queues import PROCESSING_KEY, TASK_DEAD_LETTER_KEY
from shared.redis_client import connect
from shared.registry import Failure, Registry
from shared.schemas import STAGES, IndexRequest, SchemaVersionError, StageName, StageTask, utcnow
from shared.settings import Settings, get_settings
from shared.stage import Stage

log = logging.getLogger(__name__)

STAGE_CLASSES: dict[StageName, type[Stage]] = {
    "language": LanguageStage,
    "summary": SummaryStage,
    "entities": EntityStage,
}
WORKER_SERVICE = "worker"


class WorkerProcess:
    def __init__(self, served: list[StageName], node: str = "", settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.served = [name for name in STAGES if name in served]
        self.node = node or socket.gethostname()
        self.stages: dict[StageName, Stage] = {name: STAGE_CLASSES[name](self.settings) for name in self.served}
        self.tasks_done = 0
        self._redis: redis.Redis | None = None
        # Sends the next stage's task; built here, from the process's own settings.
        self.sender = make_app(self.settings)
        self.heartbeat = HeartbeatWriter(
            lambda: self.redis, WORKER_SERVICE, self.settings.heartbeat_seconds, self.details, state="starting"
        )

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = connect(self.settings.redis_url)
        return self._redis

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Announce the process (``starting``), load every model once, then ``running``."""
        self.heartbeat.start()
        import torch  # here, in the pool process: the parent never loads torch

        torch.set_num_threads(max(1, self.settings.torch_threads))
        for name, stage in self.stages.items():
            stage.warm_up()
            if stage.load_error:
                log.error(
                    "%s stage is running WITHOUT its model: %s. Documents are indexed without "
                    "%s and marked failed in provenance; `dateline reprocess --stage %s "
                    "--failed-only` fills them in once the model is fixed.",
                    name, stage.load_error, name, name,
                )
        self.heartbeat.set_state("running")

    def stop(self) -> None:
        self.heartbeat.stop()

    def details(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "queues": list(self.served),
            "stages": {name: stage.status() for name, stage in self.stages.items()},
            "tasks_done": self.tasks_done,
        }

    # --- one task -------------------------------------------------------------------------
    def handle(self, stage: StageName, payload: Any) -> None:
        """Run ``stage`` and the following stages this process serves, then hand on."""
        task = self._decode(stage, payload)
        if task is None:
            return
        document, remaining = task.document, list(task.stages)
        while remaining and remaining[0] in self.stages:
            name = remaining.pop(0)
            with self._processing(document.id, document.source_path, name):
                self.stages[name].run(document)
        self._hand_on(StageTask(document=document, stages=remaining))
        self.tasks_done += 1

    def _decode(self, stage: StageName, payload: Any) -> StageTask | None:
        try:
            task = StageTask.from_wire(payload)
            if not task.stages or task.stages[0] != stage:
                raise ValueError(f"message is for stages {task.stages}, not {stage}")
        except (ValidationError, SchemaVersionError, ValueError) as exc:
            self._dead_letter(stage, payload, exc)
            return None
        return task

    def _hand_on(self, task: StageTask) -> None:
        """Queue the next stage, or give the finished document to the indexer."""
        if task.stages:
            send_stage_task(self.sender, task)
            return
        document = task.document
        document.enriched_at = utcnow()
        push_index_request(
            self.redis,
            IndexRequest(action="upsert", source_path=document.source_path, revision=document.revision,
                         document=document),
        )

    @contextmanager
    def _processing(self, doc_id: str, path: str, stage: StageName) -> Iterator[None]:
        """Mark the document as in work (shown by `dateline status`) while the stage runs."""
        marker = f"{doc_id}:{stage}"
        self.redis.hset(PROCESSING_KEY, marker, json.dumps({
            "path": path, "stage": stage, "worker": f"{socket.gethostname()}:{os.getpid()}",
            "since": utcnow().isoformat(),
        }))
        try:
            yield
        finally:
            try:
                self.redis.hdel(PROCESSING_KEY, marker)
            except redis.RedisError:
                pass  # Redis went away mid-task: the retry clears or rewrites the marker

    def _dead_letter(self, stage: StageName, payload: Any, error: Exception) -> None:
        """Keep an unreadable message and tell the user; never drop it silently."""
        raw = json.dumps(payload, default=str)
        source = payload.get("document", {}) if isinstance(payload, dict) else {}
        path = source.get("source_path") if isinstance(source, dict) else None
        self.redis.rpush(TASK_DEAD_LETTER_KEY, raw)
        Registry(self.redis).record_failure(
            Failure(
                path=path or "<unknown source>",
                stage=stage,
                reason=(
                    f"The {stage} task message could not be read ({error}). It was kept in the "
                    f"Redis list {TASK_DEAD_LETTER_KEY}; re-ingest the file to process it again."
                ),
            )
        )
        log.error("unreadable %s message kept in %s: %s", stage, TASK_DEAD_LETTER_KEY, error)


# The process-wide instance: built in the pool process after the fork (signals.py), or on
# first use where there is no fork (a solo pool).
_current: WorkerProcess | None = None
_served: list[StageName] = list(STAGES)
_node = ""


def serve(stages: list[StageName], node: str) -> None:
    """In the parent, before the fork: which stages this worker consumes."""
    global _served, _node
    _served, _node = stages or list(STAGES), node


def start_process() -> WorkerProcess:
    global _current
    _current = WorkerProcess(_served, _node)
    _current.start()
    return _current


def current_process() -> WorkerProcess:
    return _current if _current is not None else start_process()


def stop_process() -> None:
    if _current is not None:
        _current.stop()


def leave_process() -> None:
    """From a signal handler: delete the heartbeat over a connection of its own (the
    interrupted code may hold the usual one)."""
    if _current is not None:
        _current.heartbeat.stop(client=connect(_current.settings.redis_url))

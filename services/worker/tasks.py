"""Celery tasks: decode the message, run one stage, hand the document on. Thin on purpose.

Stages are plain classes (``services/worker/stages``); each worker process builds the
stages of the queues it consumes once, after the fork, and keeps them warm.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from importlib import import_module
from typing import Any

import redis
from celery import Task
from celery.signals import celeryd_after_setup, worker_process_init, worker_process_shutdown
from kombu.exceptions import OperationalError
from pydantic import ValidationError

from services.worker.app import app
from services.worker.heartbeat import Heartbeat
from services.worker.stages.base import Stage
from shared.pipeline import push_index_request, send_stage_task
from shared.queues import PROCESSING_KEY, STAGE_QUEUES, STAGE_TASKS, TASK_DEAD_LETTER_KEY
from shared.registry import Failure, Registry, connect
from shared.schemas import (
    STAGES,
    IndexRequest,
    SchemaVersionError,
    StageName,
    StageTask,
    utcnow,
)
from shared.settings import get_settings

log = logging.getLogger(__name__)

STAGE_CLASSES: dict[StageName, str] = {
    "language": "services.worker.stages.language:LanguageStage",
    "entities": "services.worker.stages.entities:EntityStage",
    "summary": "services.worker.stages.summary:SummaryStage",
}

_stages: dict[StageName, Stage] = {}
_consumed: list[StageName] = list(STAGES)
_heartbeat: Heartbeat | None = None
_redis: redis.Redis | None = None


def get_stage(name: StageName) -> Stage:
    """This process's instance of a stage, built on first use."""
    if name not in _stages:
        module, cls = STAGE_CLASSES[name].split(":")
        _stages[name] = getattr(import_module(module), cls)()
    return _stages[name]


def _client() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = connect(get_settings().redis_url)
    return _redis


@celeryd_after_setup.connect
def _remember_queues(sender: Any, instance: Any, **_: Any) -> None:
    """In the parent: note which stages this worker serves, before the pool forks."""
    global _consumed
    queues = set(instance.app.amqp.queues.consume_from or {})
    _consumed = [s for s in STAGES if STAGE_QUEUES[s] in queues] or list(STAGES)


@worker_process_init.connect
def _warm_up(**_: Any) -> None:
    """In each pool process: load the models once, then announce ourselves."""
    global _heartbeat, _redis
    _redis = None  # never share a connection across a fork
    settings = get_settings()
    import torch  # imported here so the parent process never loads torch

    torch.set_num_threads(max(1, settings.torch_threads))
    for name in _consumed:
        stage = get_stage(name)
        stage.warm_up()
        if stage.load_error:
            log.error(
                "%s stage is running WITHOUT its model: %s. Documents are indexed without "
                "%s and marked failed in provenance; `dateline reprocess --stage %s "
                "--failed-only` fills them in once the model is fixed.",
                name, stage.load_error, name, name,
            )
    _heartbeat = Heartbeat(_client, lambda: {n: get_stage(n).status() for n in _consumed})
    _heartbeat.start()


@worker_process_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()


def _dead_letter(stage: StageName, payload: Any, error: Exception) -> None:
    """Keep an unreadable message and tell the user; never drop it silently."""
    raw = json.dumps(payload, default=str)
    source = payload.get("document", {}) if isinstance(payload, dict) else {}
    path = source.get("source_path") if isinstance(source, dict) else None
    client = _client()
    client.rpush(TASK_DEAD_LETTER_KEY, raw)
    Registry(client).record_failure(
        Failure(
            path=path or "<unknown source>",
            stage=stage,
            reason=(
                f"the {stage} task message could not be read ({error}); it was kept in the "
                f"Redis list {TASK_DEAD_LETTER_KEY}. Re-ingest the file to process it again."
            ),
        )
    )
    log.error("unreadable %s message kept in %s: %s", stage, TASK_DEAD_LETTER_KEY, error)


def _hand_on(task: StageTask) -> None:
    """Queue the next stage, or give the finished document to the indexer."""
    rest = task.stages[1:]
    if rest:
        send_stage_task(app, StageTask(document=task.document, stages=rest))
        return
    document = task.document
    document.enriched_at = utcnow()
    push_index_request(
        _client(),
        IndexRequest(
            action="upsert",
            source_path=document.source_path,
            revision=document.revision,
            document=document,
        ),
    )


def run_stage(task_ctx: Task, stage: StageName, payload: Any) -> None:
    try:
        task = StageTask.from_wire(payload)
        if not task.stages or task.stages[0] != stage:
            raise ValueError(f"message is for stages {task.stages}, not {stage}")
    except (ValidationError, SchemaVersionError, ValueError) as exc:
        _dead_letter(stage, payload, exc)
        return

    document = task.document
    marker = f"{document.id}:{stage}"
    try:
        _client().hset(
            PROCESSING_KEY,
            marker,
            json.dumps({"path": document.source_path, "stage": stage,
                        "worker": f"{socket.gethostname()}:{os.getpid()}",
                        "since": utcnow().isoformat()}),
        )
        get_stage(stage).run(document)
        _hand_on(task)
    except (redis.ConnectionError, redis.TimeoutError, OperationalError) as exc:
        # The broker or Redis is away: the stage's work is redone when it is back.
        delay = min(60, 2 ** task_ctx.request.retries)
        log.warning("%s: handing on %s failed (%s); retrying in %ss", stage, document.source_path, exc, delay)
        raise task_ctx.retry(exc=exc, countdown=delay, max_retries=get_settings().task_max_retries) from exc
    finally:
        try:
            _client().hdel(PROCESSING_KEY, marker)
        except redis.RedisError:
            pass
    if _heartbeat is not None:
        _heartbeat.count_done()


@app.task(name=STAGE_TASKS["language"], bind=True)
def language(self: Task, payload: dict[str, Any]) -> None:
    run_stage(self, "language", payload)


@app.task(name=STAGE_TASKS["entities"], bind=True)
def entities(self: Task, payload: dict[str, Any]) -> None:
    run_stage(self, "entities", payload)


@app.task(name=STAGE_TASKS["summary"], bind=True)
def summary(self: Task, payload: dict[str, Any]) -> None:
    run_stage(self, "summary", payload)

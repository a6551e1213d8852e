"""One Celery pool process: its stages (models loaded once, after the fork), its heartbeat,
its Redis client, and how a task's document moves through the stages it serves.

A task runs its own stage and then every following stage this process also serves, in the
same task: a worker serving ``language,summary`` makes one task of both, and the article
makes a single hop to the NER queue. After the last stage the document goes to the
indexer's stream.

Delivery (README: "Delivery guarantees"): a task returns, and is acknowledged, only once
its document is handed on. Every Redis call in a task waits while Redis is away (one log
line per outage, not a traceback per task) instead of failing the task, whose retry would
need Redis too. Each stage start is counted in the document's progress record; a stage
that keeps killing its process is skipped after ``task_max_retries`` restarts, with the
reason in provenance, so one poisonous article cannot make a crash loop.

A document that cannot be handled (its message is over ``DATELINE_MAX_MESSAGE_MB``, holds
text that cannot be encoded, or makes the task raise) fails its file at once with the cause
(``_fail_document``) and the task is acknowledged: retrying it would fail the same way, and
the reconciler would only learn that it got "lost". Only Redis errors keep the task.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from billiard.pool import SIG_SOFT_TIMEOUT
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as KombuOperationalError
from pydantic import ValidationError

from services.worker.logs import route_flair_logging
from services.worker.stages.entities import EntityStage
from services.worker.stages.language import LanguageStage
from services.worker.stages.summary import SummaryStage
from shared.celery_app import make_app
from shared.expected import WORKER_SERVICE
from shared.heartbeat import CurrentTask, HeartbeatWriter, WorkerDetails
from shared.keys import TASK_DEAD_LETTER_KEY
from shared.pipeline import UnsendableMessage, encode_message, hand_to_indexer, send_stage_task
from shared.progress import ProgressLog, this_process
from shared.redis_client import connect
from shared.registry import Failure, Registry
from shared.retry import Backoff, retry_call
from shared.schemas import (
    STAGES,
    ArticleDocument,
    SchemaVersionError,
    StageName,
    StageRecord,
    StageTask,
    utcnow,
)
from shared.service import OutageLog, dependency_of
from shared.settings import Settings, get_settings
from shared.stage import Stage

log = logging.getLogger(__name__)

STAGE_CLASSES: dict[StageName, type[Stage]] = {
    "language": LanguageStage,
    "summary": SummaryStage,
    "entities": EntityStage,
}
# While Redis is away a task retries its call this often at most (Redis back: on again soon).
REDIS_RETRY_CAP_SECONDS = 5.0

T = TypeVar("T")


class WorkerProcess:
    def __init__(self, served: list[StageName], node: str = "", settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.served = [name for name in STAGES if name in served]
        self.node = node or socket.gethostname()
        self.name = this_process()
        self.stages: dict[StageName, Stage] = {
            name: STAGE_CLASSES[name](self.settings) for name in self.served
        }
        self.tasks_done = 0
        # CPU seconds spent inside the stages (all threads of this process): the benchmark
        # subtracts it from the process's CPU to find what the plumbing around them costs.
        self.stage_cpu_seconds = 0.0
        self.load_seconds: float | None = None
        self.current: CurrentTask | None = None  # the stage running now (heartbeat, status)
        self._task_started: float | None = None
        self._soft_limit_guarded = False
        self._redis: redis.Redis | None = None
        self._progress: ProgressLog | None = None
        # Sends the next stage's task; built here, from the process's own settings.
        self.sender = make_app(self.settings)
        self.outages = OutageLog(log, lambda _: self.settings.redis_url)
        self.heartbeat = HeartbeatWriter(
            lambda: self.redis,
            WORKER_SERVICE,
            self.settings.heartbeat_seconds,
            self.details,
            state="starting",
        )

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = connect(self.settings.redis_url)
        return self._redis

    @property
    def progress(self) -> ProgressLog:
        if self._progress is None:
            self._progress = ProgressLog(self.redis)
        return self._progress

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Announce the process (``starting``), load every model once, then ``running``."""
        self.heartbeat.start()
        started = time.monotonic()
        import torch  # here, in the pool process: the parent never loads torch

        torch.set_num_threads(max(1, self.settings.torch_threads))
        if "entities" in self.stages:
            route_flair_logging()
        for name, stage in self.stages.items():
            stage.warm_up()
            if stage.load_error:
                log.error(
                    "%s stage is running WITHOUT its model: %s. Documents are indexed without "
                    "%s and marked failed in provenance; `dateline reprocess --stage %s "
                    "--failed-only` fills them in once the model is fixed.",
                    name,
                    stage.load_error,
                    name,
                    name,
                )
        self.load_seconds = round(time.monotonic() - started, 1)
        if self.load_seconds > self.settings.worker_proc_alive_timeout / 2:
            log.warning(
                "loading the models took %.0f s, more than half of DATELINE_WORKER_PROC_ALIVE_TIMEOUT "
                "(%g s): raise it, or a replacement pool process may be killed while it loads",
                self.load_seconds,
                self.settings.worker_proc_alive_timeout,
            )
        self.heartbeat.set_state("running")

    def stop(self) -> None:
        self.heartbeat.stop()

    def details(self) -> WorkerDetails:
        return WorkerDetails(
            node=self.node,
            queues=list(self.served),
            stages={name: stage.status() for name, stage in self.stages.items()},
            tasks_done=self.tasks_done,
            stage_cpu_seconds=round(self.stage_cpu_seconds, 3),
            load_seconds=self.load_seconds,
            current=self.current,
        )

    # --- one task -------------------------------------------------------------------------
    def handle(self, stage: StageName, payload: Any) -> None:
        """Run ``stage`` and the following stages this process serves, then hand on.

        Returns only once the document is handed on (or, stale, dropped): the task is then
        acknowledged. Stages run while the task's time budget (the soft time limit) lasts;
        the rest go on their queues as tasks of their own.
        """
        started = self._task_started = time.monotonic()
        self._guard_soft_limit()
        try:
            self._handle(stage, payload, started)
        finally:
            self._task_started = None

    def _handle(self, stage: StageName, payload: Any, started: float) -> None:
        task = self._decode(stage, payload)
        if task is None:
            return
        try:
            # On receipt: a message another sender (or an older release) queued past our
            # checks fails its file here, before any model runs on it.
            encode_message(task, self.settings.max_message_bytes)
            self._run_task(stage, task, started)
        except (SoftTimeLimitExceeded, redis.RedisError, KombuOperationalError):
            raise  # out of time, or the broker: the task is redone from its message
        except UnsendableMessage as exc:
            self._fail_document(task.document, stage, f"{exc}.")
        except Exception as exc:  # noqa: BLE001 - about this document: fail its file, not the task
            log.exception("%s: the %s task failed on this document", task.document.source_path, stage)
            self._fail_document(
                task.document,
                stage,
                f"the worker could not process this article ({type(exc).__name__}: {exc}). Retrying "
                "would fail the same way, so the file is marked failed; fix the article (or report the "
                "error with the file), then put it in the inbox again.",
            )

    def _run_task(self, stage: StageName, task: StageTask, started: float) -> None:
        document, remaining = task.document, list(task.stages)
        why = self._until_redis(
            lambda: Registry(self.redis).superseded(document.source_path, document.revision)
        )
        if why is not None:
            self._drop_stale(document, why)
            return
        try:
            while remaining and remaining[0] in self.stages:
                if time.monotonic() - started >= self.settings.task_soft_time_limit:
                    break  # the budget is spent: the next stage runs as a task of its own
                name = remaining.pop(0)
                attempts = self._start_stage(document, name)
                if attempts is None:
                    self._drop_stale(document, "a newer revision is in flight")
                    return
                if attempts > 1 + self.settings.task_max_retries:
                    self._skip_stage(document, name, attempts - 1)
                    continue
                self.current = CurrentTask(
                    doc_id=document.id,
                    path=document.source_path,
                    stage=name,
                    revision=document.revision,
                    since=utcnow(),
                )
                cpu = time.process_time()
                self.stages[name].run(document)
                self.stage_cpu_seconds += time.process_time() - cpu
        finally:
            self.current = None
        self._hand_on(StageTask(document=document, stages=remaining))
        self.tasks_done += 1

    def _guard_soft_limit(self) -> None:
        """Take over the soft time limit's signal (billiard sets its handler after our start).

        The parent sends it from its event loop's timer; while the parent is stuck
        reconnecting to a broker that went away, the timer fires late, and billiard's handler
        then raises in whatever this process does: an idle process dies of it, a new task is
        cut short. Ours raises only when the task running now has used its time."""
        if self._soft_limit_guarded or SIG_SOFT_TIMEOUT is None:
            return
        signal.signal(SIG_SOFT_TIMEOUT, self._on_soft_limit)
        self._soft_limit_guarded = True

    def _on_soft_limit(self, signum: int, frame: Any) -> None:
        started = self._task_started
        if started is not None and time.monotonic() - started >= self.settings.task_soft_time_limit - 1:
            raise SoftTimeLimitExceeded()
        log.info("ignored a late soft time limit signal: no task of this process has run that long")

    def _start_stage(self, document: ArticleDocument, stage: StageName) -> int | None:
        """Note that ``stage`` starts; returns how many times it started for this revision."""
        return self._until_redis(lambda: self.progress.processing(document, stage, self.name))

    def _decode(self, stage: StageName, payload: Any) -> StageTask | None:
        try:
            task = StageTask.from_wire(payload)
            if not task.stages or task.stages[0] != stage:
                raise ValueError(f"message is for stages {task.stages}, not {stage}")
        except (ValidationError, SchemaVersionError, ValueError) as exc:
            error = exc
            self._until_redis(lambda: self._dead_letter(stage, payload, error))
            return None
        return task

    def _hand_on(self, task: StageTask) -> None:
        """Queue the next stage, or give the finished document to the indexer."""
        limit = self.settings.max_message_bytes
        if task.stages:
            self._until_redis(lambda: send_stage_task(self.sender, task, limit))
            return
        document = task.document
        document.enriched_at = utcnow()
        self._until_redis(lambda: hand_to_indexer(self.redis, document, limit))

    def _fail_document(self, document: ArticleDocument, stage: StageName, reason: str) -> None:
        """The document cannot go on: its file (this revision) ends failed with ``reason``,
        and its progress record is dropped so the reconciler does not queue it again."""
        which = f", article {document.record + 1} of the file" if document.record else ""
        failure = Failure(
            path=document.source_path, stage=stage, reason=f"worker, {stage} task{which}: {reason}"
        )
        log.error("%s revision %d: %s", document.source_path, document.revision, failure.reason)
        registry = Registry(self.redis)
        self._until_redis(lambda: registry.mark_failed(document.source_path, document.revision, failure))
        self._until_redis(lambda: self.progress.finished(document.id, document.revision))

    def _drop_stale(self, document: ArticleDocument, why: str) -> None:
        log.info("dropping %s revision %d: %s", document.source_path, document.revision, why)
        self._until_redis(lambda: self.progress.finished(document.id, document.revision))

    def _skip_stage(self, document: ArticleDocument, stage: StageName, deaths: int) -> None:
        """The stage killed its process ``deaths`` times on this article: index it without."""
        which = f"article {document.record + 1} of this file" if document.record else "this article"
        reason = (
            f"the {stage} stage was started {deaths + 1} times on {which} and the worker process "
            f"died each time (killed, out of memory, or stopped after {self.settings.task_time_limit} s); "
            "skipped so the article is indexed without it. `dateline status` shows how the processes died; "
            f"once that is fixed, `dateline reprocess --stage {stage} --failed-only` fills it in."
        )
        model, version = self.stages[stage].describe()
        setattr(
            document.provenance,
            stage,
            StageRecord(model=model, version=version, status="failed", code="worker_died", error=reason),
        )
        failure = Failure(path=document.source_path, stage=stage, reason=reason)
        self._until_redis(lambda: Registry(self.redis).record_failure(failure))
        log.error("%s: %s", document.source_path, reason)

    def _until_redis(self, call: Callable[[], T]) -> T:
        """``call()``, retried while Redis is unreachable: one log line when it goes away and
        one when it is back. The task's soft time limit ends the wait (``tasks.py`` puts the
        task back on its queue then)."""
        result = retry_call(
            call,
            retry_if=lambda exc: dependency_of(exc) == "Redis",
            backoff=Backoff(start=0.5, cap=REDIS_RETRY_CAP_SECONDS),
            on_failure=lambda exc: self.outages.down("Redis", exc),
        )
        self.outages.up()
        return result

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


def worker_node() -> str:
    """The Celery worker's name (``ner@host``), known in the parent after setup."""
    return _node


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

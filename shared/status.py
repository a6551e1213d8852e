"""What Dateline is doing right now, and whether it works: read by `dateline status` (text
and ``--json``), the API's /status and /health, and the pipeline page, so they can never
disagree.

- ``state`` (``ok`` / ``degraded`` / ``down``) and its ``reasons`` are computed here, once,
  from what was collected: a backing service that does not answer, an expected service or
  stage without a live process (``shared/expected.py``), a stage running without its model.
- Counts agree with lists: the files' counts and the per-file failure list come from one
  Redis transaction; a file that is indexed but had bad lines is counted as indexed *and*
  listed with its failures; a failed file is listed even if no reason was recorded.
- Documents a stage failed on, and stages skipped by reason, come from Elasticsearch
  (``shared/search/outcomes.py``); rate and ETA from per-minute counters
  (``shared/throughput.py``). Nothing here scans every file or document.
- Delivery: articles in flight (progress records), what the reconciler did, pool
  processes that died and crash loops (``shared/progress.py``, ``shared/reconciliation.py``,
  ``shared/crashes.py``).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Literal

import redis
from elasticsearch import ApiError, Elasticsearch, TransportError
from pydantic import BaseModel, Field, computed_field

from shared.broker_layout import waiting
from shared.crashes import CrashLoop, WorkerDeath, crash_loops, read_deaths
from shared.expected import WORKER_SERVICE, Part, expected_parts
from shared.heartbeat import Heartbeat, read_heartbeats
from shared.keys import (
    FAILURES_KEY,
    FILE_KEY,
    INDEX_GROUP,
    INDEX_STREAM,
    PROCESSING_KEY,
    STAGE_QUEUES,
    STATE_KEY,
    TASK_DEAD_LETTER_KEY,
)
from shared.progress import ProgressLog
from shared.reconciliation import Reconciliation, read_reconciliation
from shared.redis_client import as_text, display_url
from shared.registry import FILE_STATES, Failure, FileRecord, FileState
from shared.schemas import utcnow
from shared.search.client import describe_failure, quick
from shared.search.outcomes import StageOutcomes, StoryCounts, stage_outcomes
from shared.throughput import Throughput, read_throughput
from shared.watches.outbox import DeliveryStatus, delivery_status

__all__ = ["WORKER_SERVICE", "Status", "collect_status", "unreachable", "Assessment"]

State = Literal["ok", "degraded", "down"]
# Elasticsearch questions from a status view must not hang a page or a health check.
log = logging.getLogger(__name__)
ES_TIMEOUT_SECONDS = 5.0
# What happens to the pipeline when a part is missing, in a user's words.
MISSING_EFFECT = {
    "ingest": "files dropped into the inbox are not read",
    "indexer": "enriched documents are not written to Elasticsearch",
    "api": "the search page and the HTTP API are not served",
    "reconciler": "articles lost or stuck on their way are not queued again, and a new index is not refilled",
    "delivery": "watches' webhooks and emails are not sent (their alerts wait in Elasticsearch)",
}
RECENT_DEATHS = 10


class QueueDepth(BaseModel):
    name: str
    waiting: int
    pending: int = Field(0, description="Delivered but not yet acknowledged (index stream).")


class FileProblems(BaseModel):
    """One file and every failure recorded for it (the whole file, or some of its lines)."""

    path: str
    state: FileState | None = Field(description="The file's state in the registry; None: not registered.")
    failures: list[Failure]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fix(self) -> str:
        if self.state == "failed":
            return (
                "Fix the file: Dateline reads it again as soon as it changes "
                "(or run `dateline ingest PATH --force` to read it again as it is)."
            )
        if self.state == "indexed":
            return (
                "The file's other articles are indexed. Fix the lines listed: the file is read "
                "again as soon as it changes."
            )
        if self.state == "queued":
            return "The file's other articles are on their way; fix what is listed, then re-ingest the file."
        return "Re-ingest the file once the cause is fixed (`dateline ingest PATH --force`)."


class IndexInfo(BaseModel):
    """What Elasticsearch said (or that it did not answer)."""

    reachable: bool
    url: str
    alias: str
    detail: str = ""
    cluster: str | None = Field(None, description="Cluster health: green, yellow or red.")
    alias_exists: bool | None = Field(None, description="Whether the alias exists (the indexer creates it).")
    outcomes: StageOutcomes | None = None


class Assessment(BaseModel):
    state: State
    reasons: list[str]


class Status(BaseModel):
    files: dict[str, int] = Field(
        description="Files per registry state (one Redis transaction with `problems`)."
    )
    queues: list[QueueDepth]
    processing: list[dict[str, Any]] = Field(
        description="Stages running now; worker_alive is false for a process that is gone (the "
        "reconciler clears such entries once its heartbeat has expired)."
    )
    heartbeats: list[Heartbeat] = Field(description="Every live process, workers included.")
    failures: list[Failure] = Field(
        description="Every recorded failure (also grouped by file in `problems`)."
    )
    problems: list[FileProblems] = Field(
        default_factory=list,
        description="Files with failures: every failed file, then files indexed or queued with failed parts.",
    )
    dead_letters: int
    parts: list[Part] = Field(
        default_factory=list, description="Each expected service and stage, and what serves it."
    )
    throughput: Throughput | None = None
    index: IndexInfo | None = Field(None, description="Elasticsearch's side; None when not asked.")
    at: datetime
    in_flight: int = Field(0, description="Articles with a progress record: queued, processing or indexing.")
    reconciliation: Reconciliation = Field(
        default_factory=Reconciliation,
        description="What the reconciler did: last pass, totals, recent actions.",
    )
    crash_loops: list[CrashLoop] = Field(
        default_factory=list, description="Workers whose pool processes keep dying, with the cause."
    )
    recent_deaths: list[WorkerDeath] = Field(
        default_factory=list, description="Pool process deaths, newest first."
    )
    deliveries: DeliveryStatus | None = Field(
        None,
        description="Alerts' webhooks and emails: counts per state, the failing ones with the target's answer.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def untagged_languages(self) -> dict[str, int]:
        """Documents no NER model covers, per language (from the index; empty when not asked)."""
        if self.index is None or self.index.outcomes is None:
            return {}
        return self.index.outcomes.untagged_languages

    @computed_field  # type: ignore[prop-decorator]
    @property
    def entities_in_part(self) -> int:
        """Documents tagged for entities from the start of a long body only (from the index)."""
        if self.index is None or self.index.outcomes is None:
            return 0
        return self.index.outcomes.entities_in_part

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stories(self) -> StoryCounts | None:
        """Distinct stories and documents that joined one (from the index; None when not asked)."""
        return self.index.outcomes.stories if self.index is not None and self.index.outcomes else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def workers(self) -> list[Heartbeat]:
        """Enrichment worker processes (one per Celery pool process)."""
        return [beat for beat in self.heartbeats if beat.service == WORKER_SERVICE]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def services(self) -> list[Heartbeat]:
        """Every other live process: ingest, indexer, API."""
        return [beat for beat in self.heartbeats if beat.service != WORKER_SERVICE]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def queued(self) -> int:
        return sum(q.waiting + q.pending for q in self.queues)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def model_problems(self) -> list[str]:
        """One line per worker stage running without its model."""
        problems = []
        for worker in self.workers:
            for stage, info in worker.worker_details.stages.items():
                if info.readiness(worker.state) == "model missing":
                    problems.append(f"{worker.host}:{worker.pid} {stage}: {info.error}")
        return problems

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failed_files(self) -> list[FileProblems]:
        """Files that failed as a whole (``files["failed"]`` counts exactly these)."""
        return [p for p in self.problems if p.state == "failed"]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def partly_failed_files(self) -> list[FileProblems]:
        """Files indexed or on their way with some parts (lines, documents) that failed."""
        return [p for p in self.problems if p.state != "failed"]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> State:
        return assess(self).state

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reasons(self) -> list[str]:
        return assess(self).reasons


def assess(status: Status) -> Assessment:
    """``ok``, or ``degraded`` with one sentence per reason (Redis answered, or there would
    be no status: see :func:`unreachable` for ``down``)."""
    reasons: list[str] = []
    index = status.index
    if index is not None and not index.reachable:
        reasons.append(
            f"Elasticsearch at {index.url} does not answer ({index.detail}): search is unavailable, and "
            "enriched documents wait in Redis until it is back."
        )
    elif index is not None and index.cluster == "red":
        reasons.append("Elasticsearch's cluster health is red: some documents cannot be searched or written.")
    for part in status.parts:
        if part.presence == "missing":
            if part.kind == "stage":
                reasons.append(
                    f"No worker serves the {part.name} stage: its queue is not worked on; {part.hint}."
                )
            else:
                effect = MISSING_EFFECT.get(part.name, "it does not run")
                reasons.append(f"No {part.name} process has a live heartbeat: {effect}; {part.hint}.")
        elif part.presence == "starting":
            what = "stage's workers are" if part.kind == "stage" else "process is"
            reasons.append(
                f"The {part.name} {what} still starting (loading models); work waits until it is ready."
            )
    for beat in (*status.services, *status.workers):
        if beat.failing is not None:
            reasons.append(
                f"The {beat.service} process on {beat.host}:{beat.pid} is running but failing: "
                f"{beat.failing.steps} steps in a row since {beat.failing.since:%Y-%m-%d %H:%M:%S} UTC, the last "
                f"with {beat.failing.error}. Its log has the tracebacks (with `make up`: .dateline/logs/); "
                "it keeps retrying with back-off."
            )
    for worker in status.workers:
        for stage, info in worker.worker_details.stages.items():
            if info.readiness(worker.state) == "model missing":
                reasons.append(
                    f"The {stage} stage on {worker.host}:{worker.pid} runs without its model ({info.error}): "
                    f"documents are indexed without it; fix the model setting, then "
                    f"`dateline reprocess --stage {stage} --failed-only`."
                )
    for loop in status.crash_loops:
        reasons.append(
            f"The worker {loop.node} on {loop.host} is in a crash loop: {loop.deaths} pool processes died "
            f"lately, the last one {loop.last_cause}."
        )
    reasons += _delivery_reasons(status.deliveries)
    return Assessment(state="degraded" if reasons else "ok", reasons=reasons)


def _delivery_reasons(deliveries: DeliveryStatus | None) -> list[str]:
    """One sentence per watch and channel whose deliveries fail (retrying, or failed lately)."""
    reasons: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for item in deliveries.failing if deliveries is not None else []:
        key = (item.watch, item.channel, item.state)
        if key in seen:
            continue
        seen.add(key)
        what = (
            "is failing and retried with back-off"
            if item.state == "retrying"
            else "was given up after DATELINE_DELIVERY_GIVE_UP_HOURS"
        )
        reasons.append(
            f"The {item.channel} of watch {item.watch!r} to {item.target or '?'} {what}: {item.last_error or 'no answer'}. "
            "Fix the target (or the watch); the alerts wait and are sent once it accepts."
        )
    return reasons


def unreachable(redis_url: str, exc: Exception) -> Assessment:
    """The state when Redis does not answer: nothing can be queued, enriched or counted."""
    return Assessment(
        state="down",
        reasons=[
            f"Redis at {display_url(redis_url)} does not answer ({exc}): nothing is queued, enriched or indexed. Start Dateline "
            "with `make up` (or `make run`), or set DATELINE_REDIS_URL."
        ],
    )


# --- collecting -------------------------------------------------------------------------


def _index_stream_depth(client: redis.Redis) -> QueueDepth:
    waiting = pending = 0
    try:
        groups = client.xinfo_groups(INDEX_STREAM)
    except redis.ResponseError:  # no stream yet: nothing was ever enriched
        return QueueDepth(name="index", waiting=0)
    for group in groups:
        if as_text(group.get("name")) == INDEX_GROUP:
            pending = int(group.get("pending") or 0)
            lag = group.get("lag")
            waiting = int(lag) if lag is not None else 0
    if not groups:  # no indexer has started yet: everything is waiting
        waiting = int(client.xlen(INDEX_STREAM))
    return QueueDepth(name="index", waiting=waiting, pending=pending)


def _files_and_problems(client: redis.Redis) -> tuple[dict[str, int], list[Failure], list[FileProblems]]:
    """File counts, failures and the failed files, read in one transaction, then grouped."""
    pipe = client.pipeline(transaction=True)
    for state in FILE_STATES:
        pipe.scard(STATE_KEY + state)
    pipe.smembers(STATE_KEY + "failed")
    pipe.hvals(FAILURES_KEY)
    *counts, failed_members, raw_failures = pipe.execute()
    files: dict[str, int] = {state: int(n) for state, n in zip(FILE_STATES, counts, strict=True)}
    failures = sorted(
        (Failure.model_validate_json(v) for v in raw_failures), key=lambda f: (f.at, f.path, f.line or 0)
    )
    failed = sorted(as_text(m) for m in failed_members)

    by_path: dict[str, list[Failure]] = {}
    for failure in failures:
        by_path.setdefault(failure.path, []).append(failure)
    others = sorted(set(by_path) - set(failed))
    states: dict[str, FileState | None] = {}
    if others:  # the registry's state of each file with failures that did not fail as a whole
        records = client.mget([FILE_KEY + path for path in others])
        for path, raw in zip(others, records, strict=True):
            states[path] = FileRecord.model_validate_json(raw).state if raw else None

    problems = [
        FileProblems(path=path, state="failed", failures=by_path.get(path) or [_no_reason(path)])
        for path in failed
    ]
    problems += [FileProblems(path=path, state=states[path], failures=by_path[path]) for path in others]
    for problem in problems:
        problem.failures.sort(key=lambda f: (f.line or 0, f.at))
    return files, failures, problems


def _no_reason(path: str) -> Failure:
    """A file marked failed with no failure recorded: ingest could not queue its articles
    (the broker refused) and could not record why; the next scan tries it again."""
    return Failure(
        path=path,
        stage="ingest",
        reason=(
            "The file is marked failed without a recorded reason: its articles could not be queued (Redis "
            "refused them). Dateline tries it again on the next scan; check that Redis is running."
        ),
    )


def _index_info(es: Elasticsearch, url: str, alias: str, outcomes: bool) -> IndexInfo:
    client = quick(es, ES_TIMEOUT_SECONDS)
    try:
        cluster = str(client.cluster.health(timeout=f"{int(ES_TIMEOUT_SECONDS)}s")["status"])
        exists = bool(client.indices.exists_alias(name=alias))
        found = None
        if outcomes:
            found = stage_outcomes(client, alias) if exists else StageOutcomes.empty()
    except (TransportError, ApiError) as exc:
        # In words: the client's exception and the cluster's message go to the log.
        log.warning("Elasticsearch at %s: %r", url, exc)
        return IndexInfo(reachable=False, url=url, alias=alias, detail=f"it {describe_failure(exc)}")
    return IndexInfo(
        reachable=True, url=url, alias=alias, cluster=cluster, alias_exists=exists, outcomes=found
    )


def collect_status(
    client: redis.Redis,
    es: Elasticsearch | None = None,
    *,
    es_url: str = "",
    alias: str = "",
    outcomes: bool = True,
) -> Status:
    """Everything the status views show; Elasticsearch's side only when ``es`` is given
    (``outcomes=False``: its health only, for the frequent health checks)."""
    queues = [QueueDepth(name=stage, waiting=waiting(client, stage)) for stage in STAGE_QUEUES]
    queues.append(_index_stream_depth(client))
    heartbeats = read_heartbeats(client)
    live = {f"{beat.host}:{beat.pid}" for beat in heartbeats}
    processing = [json.loads(v) for v in client.hvals(PROCESSING_KEY)]
    files, failures, problems = _files_and_problems(client)
    backlog = sum(q.waiting + q.pending for q in queues) + len(processing)
    for item in processing:
        item["worker_alive"] = item.get("worker") in live
    deaths = read_deaths(client)
    return Status(
        files=files,
        queues=queues,
        processing=processing,
        heartbeats=heartbeats,
        failures=failures,
        problems=problems,
        dead_letters=int(client.llen(TASK_DEAD_LETTER_KEY)),
        parts=expected_parts(heartbeats),
        throughput=read_throughput(client, backlog),
        index=_index_info(es, es_url, alias, outcomes) if es is not None else None,
        at=utcnow(),
        in_flight=ProgressLog(client).count(),
        reconciliation=read_reconciliation(client),
        crash_loops=crash_loops(deaths),
        recent_deaths=deaths[:RECENT_DEATHS],
        deliveries=_deliveries(es, alias) if es is not None else None,
    )


def _deliveries(es: Elasticsearch, alias: str) -> DeliveryStatus | None:
    """The alerts' deliveries (None when Elasticsearch does not answer: said by ``index``)."""
    try:
        return delivery_status(quick(es, ES_TIMEOUT_SECONDS), alias, utcnow())
    except (TransportError, ApiError) as exc:
        log.warning("deliveries of %s not read: %r", alias, exc)
        return None

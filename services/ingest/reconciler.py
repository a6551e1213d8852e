"""The reconciler: every registered file ends indexed, or failed with a reason, whatever
process or service dies and comes back. A duty of the ingest service (it re-reads files the
way ingest does): a service loop of its own, with its own heartbeat, in a thread beside the
watcher (``watcher.run_service``).

Retries at each hop cover a process that fails; they cannot cover a message that Redis lost
(its append-only file is written every second), a process killed between two writes, or
an index that was wiped. So every ``reconcile_seconds`` one reconciler (a Redis lock: any
number may run, on any hosts) compares the record of what was dropped with reality:

1. **Articles in flight** (``inflight.py``): a progress record that has not moved for
   ``reconcile_stuck_seconds``, that no live worker and no queue holds, is lost; so is an
   article of a registered file that has no record at all (ingest died while queueing).
   An enriched article whose stream entry is done or gone is looked up in the index: there,
   only the registry is told; missing, it is lost.
2. **The index** (``audit.py``, every ``reconcile_audit_seconds``): files registered as
   indexed whose documents the index behind the alias lacks.

A lost article's file is read and queued again through the same path as
``dateline ingest --force`` (``Ingestor.process(force=True)``): a new revision, so whatever
is left of the old one is dropped as stale, and writes are versioned, so nothing is ever
indexed twice. The same content is queued again at most ``reconcile_max_requeues`` times;
then the file is marked failed, with where it got stuck. Each pass and action is kept for
``dateline status`` (``shared/reconciliation.py``).

Each pass is bounded: ``BATCH`` progress records and ``BATCH`` queued files (a cursor walks
the rest in later passes), one LINDEX per queue and the small hash of unacknowledged tasks.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime
from typing import Any, ClassVar

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from redis.exceptions import LockError

from services.ingest.audit import Audit, audit_index
from services.ingest.inflight import Snapshot, Verdict, back_in_a_queue, judge, stream_state, take_snapshot
from services.ingest.paths import file_of
from services.ingest.processor import Ingestor
from shared.heartbeat import HEARTBEAT_TTL_FACTOR, ReconcilerDetails, ServiceName
from shared.keys import RECONCILER_LOCK_KEY, RECONCILER_REQUEUES_KEY
from shared.progress import Progress, ProgressLog
from shared.reconciliation import (
    Action,
    AuditReport,
    Reason,
    ReconcilerReport,
    read_reconciliation,
    record_action,
    write_report,
)
from shared.redis_client import as_text
from shared.registry import Failure, FileRecord
from shared.search.client import make_client
from shared.service import OutageLog, ServiceLoop
from shared.settings import Settings

log = logging.getLogger("dateline.reconciler")

BATCH = 1000  # progress records, and queued files, looked at per pass
AUDIT_REQUEUE_BATCH = 500  # files an audit queues again per pass (the next pass goes on)


class Reconciler(ServiceLoop):
    service: ClassVar[ServiceName] = "reconciler"

    def __init__(
        self, ingestor: Ingestor, es: Elasticsearch, settings: Settings | None = None, **kwargs: Any
    ):
        super().__init__(settings or ingestor.settings, connect_redis=lambda: ingestor.redis, **kwargs)
        self.ingestor = ingestor
        self.registry = ingestor.registry
        self.progress = ProgressLog(ingestor.redis)
        self.es = es
        self._next_pass = 0.0
        self._next_audit = 0.0
        self._progress_cursor = 0
        self._files_cursor = 0
        self._audited_uuids: list[str] | None = None
        self._last_audit: AuditReport | None = None
        self._standby_since: float | None = None
        # Elasticsearch is needed by the audit and a few lookups only: its outages are told
        # apart from the loop's own (a pass that goes on without it still succeeds).
        self.es_outage = OutageLog(log, lambda _: self.settings.elasticsearch_url)
        self.passes = 0

    # --- the service loop -----------------------------------------------------------------
    def setup(self) -> None:
        # The indices the last audit found complete (by any reconciler): the cheap check holds
        # across restarts, and ids are compared only when something changed.
        last = read_reconciliation(self.redis, recent=0).last_pass
        if last is not None and last.audit is not None and last.audit.alias == self.settings.index:
            self._audited_uuids = last.audit.uuids if not last.audit.missing else None
        log.info(
            "reconciler: a pass every %gs (articles stuck after %gs are queued again, at most %d times), "
            "index audit every %gs against alias %s",
            self.settings.reconcile_seconds,
            self.settings.reconcile_stuck_seconds,
            self.settings.reconcile_max_requeues,
            self.settings.reconcile_audit_seconds,
            self.settings.index,
        )

    def step(self) -> None:
        if time.monotonic() >= self._next_pass:
            self.run_pass()  # when it fails, the next step (after the loop's back-off) tries again
            self._next_pass = time.monotonic() + self.settings.reconcile_seconds
        self.stop_event.wait(min(1.0, max(0.0, self._next_pass - time.monotonic())))

    def details(self) -> ReconcilerDetails:
        return ReconcilerDetails(
            passes=self.passes,
            standby=self._standby_since is not None,
            index=self.settings.index,
            unreachable=self.es_outage.outages,
        )

    # --- one pass -------------------------------------------------------------------------
    def run_pass(self) -> ReconcilerReport | None:
        """One pass under the lock; None when another reconciler holds it."""
        lock = self.redis.lock(
            RECONCILER_LOCK_KEY,
            timeout=max(60.0, 2 * self.settings.reconcile_seconds),
            blocking=False,
            thread_local=False,
        )
        if not lock.acquire():
            if self._standby_since is None:
                log.info("another reconciler holds the lock; this one stands by")
                self._standby_since = time.monotonic()
            return None
        self._standby_since = None
        started = time.monotonic()
        try:
            examined, stuck = self.check_in_flight(lock)
            audit = self._maybe_audit(lock)
        finally:
            try:
                lock.release()
            except LockError:
                log.warning(
                    "the reconciler lock expired during a pass (took %.0f s)", time.monotonic() - started
                )
        self.passes += 1
        report = ReconcilerReport(
            host=socket.gethostname(),
            pid=os.getpid(),
            seconds=round(time.monotonic() - started, 2),
            in_flight=self.progress.count(),
            examined=examined,
            stuck=stuck,
            audit=audit or self._last_audit,
        )
        write_report(self.redis, report)
        return report

    def check_in_flight(self, lock: Any = None) -> tuple[int, int]:
        """Articles in flight that are lost, and files with articles never queued; returns
        (records and files examined, files found stuck)."""
        snapshot = take_snapshot(self.redis, self.settings.reconcile_stuck_seconds)
        self._clear_dead_markers(snapshot)
        self._forget_settled_requeues()
        self._progress_cursor, records = self.progress.scan(self._progress_cursor, BATCH)
        lost: list[tuple[Progress, Reason, str]] = []
        files = self.registry.get_many(sorted({r.path for r in records}))
        for record in records:
            verdict = self._judge(record, files.get(record.path), snapshot)
            if verdict is None or verdict.action == "wait":
                continue
            if verdict.action == "requeue":
                assert verdict.reason is not None
                lost.append((record, verdict.reason, verdict.why))
            elif (why := self._check_indexing(record, verdict)) is not None:
                lost.append((record, "lost before indexing", why))
        if lost:
            coming_back = back_in_a_queue(self.redis)
            lost = [item for item in lost if (item[0].doc_id, item[0].revision) not in coming_back]
        stuck: dict[str, tuple[Reason, str]] = {}
        for record, reason, why in lost:
            stuck.setdefault(record.path, (reason, why))
        examined = len(records) + self._find_never_queued(stuck, snapshot)
        for path, (reason, why) in stuck.items():
            if self.stopping:
                break
            file = self.registry.get(path)
            if file is not None and file.state in ("queued", "indexed"):
                self.requeue(file, reason, why)
            if lock is not None:
                lock.reacquire()
        return examined, len(stuck)

    def _judge(self, record: Progress, file: FileRecord | None, snapshot: Snapshot) -> Verdict | None:
        """None for a record nobody will finish (its file gone, failed or moved on): dropped."""
        if file is None or file.state in ("deleted", "failed") or file.revision > record.revision:
            self.progress.forget([record])
            return None
        if file.revision < record.revision:
            return None  # the registry is behind its own record: leave it to settle
        if file.state == "indexed" and record.doc_id in self.registry.indexed_doc_ids(
            file.path, file.revision
        ):
            self.progress.forget([record])  # done; the indexer stopped before it cleared the record
            return None
        return judge(record, snapshot)

    def _check_indexing(self, record: Progress, verdict: Verdict) -> str | None:
        """An enriched article: None when it waits for an indexer or is in the index (then
        the registry is told), else why it is lost."""
        state = stream_state(self.redis, record.entry)
        if state == "waiting":
            return None
        doc: dict[str, Any]
        try:
            doc = dict(self.es.mget(index=self.settings.index, ids=[record.doc_id], source=False)["docs"][0])
        except NotFoundError:
            doc = {"found": False}  # no index behind the alias (yet): not there
        except (ApiError, TransportError) as exc:
            self.es_outage.down("Elasticsearch", exc)  # looked up again in the next pass
            return None
        self.es_outage.up()
        if doc.get("found") and int(doc.get("_version", 0)) >= record.revision:
            self.registry.mark_indexed(record.path, record.revision, record.doc_id)
            self.progress.finished(record.doc_id, record.revision)
            record_action(
                self.redis,
                Action(
                    path=record.path,
                    reason="registry behind",
                    detail=f"{verdict.why}; the index has it",
                    outcome="marked indexed",
                ),
            )
            log.info("%s: in the index, the registry had not heard; caught up", record.path)
            return None
        where = "its index stream entry was taken" if state == "done" else "its index stream entry is gone"
        return f"{verdict.why}; {where}, but the index does not have it"

    def _find_never_queued(self, stuck: dict[str, tuple[Reason, str]], snapshot: Snapshot) -> int:
        """Queued files, registered a while ago, with articles that left no trace."""
        self._files_cursor, paths = self.registry.scan_state("queued", self._files_cursor, BATCH)
        records = self.registry.get_many(paths)
        for path, record in records.items():
            if path in stuck or record.state != "queued":
                continue
            if (snapshot.now - record.updated_at).total_seconds() < snapshot.stuck_after:
                continue
            todo = set(record.doc_ids) - self.registry.indexed_doc_ids(path, record.revision)
            tracked = self.progress.get(todo)
            untracked = [doc for doc in todo if doc not in tracked or tracked[doc].revision < record.revision]
            untracked = [doc for doc in untracked if (doc, record.revision) not in snapshot.delivered]
            if untracked:
                stuck[path] = (
                    "never queued",
                    f"{len(untracked)} of its {len(record.doc_ids)} article(s) left "
                    f"no trace in any queue, worker or the index stream",
                )
        return len(records)

    # --- acting ---------------------------------------------------------------------------
    def requeue(self, record: FileRecord, reason: Reason, why: str) -> Action:
        """Read the file again and queue it (``dateline ingest --force``), or give up on it."""
        times = self._count_requeue(record)
        if times > self.settings.reconcile_max_requeues:
            return self._give_up(record, reason, why, times - 1)
        path = file_of(record.path, self.ingestor.inbox)
        if path is None:
            return self._outside_inbox(record, reason, why)
        outcome = self.ingestor.process(path, force=True)
        if outcome.status == "queued":
            done = f"queued again ({outcome.articles} article(s), {times}. time)"
        elif outcome.status in ("deleted", "missing"):
            done = "the file is gone: its documents are removed"
        else:
            done = f"{outcome.status}: {outcome.detail or (outcome.failures[0].reason if outcome.failures else '')}"
        action = Action(path=record.path, reason=reason, detail=why, outcome=done)
        record_action(self.redis, action)
        log.warning("%s: %s (%s); %s", record.path, reason, why, done)
        return action

    def _outside_inbox(self, record: FileRecord, reason: Reason, why: str) -> Action:
        """A record naming a file outside the inbox (a backfill of another folder, or a path
        written into Redis by someone else) is never read by the reconciler: the registry must
        not be a way to make Dateline read arbitrary files. The person who backfilled it can."""
        failure = Failure(
            path=record.path,
            stage="pipeline",
            reason=(
                f"Stuck ({reason}: {why}), and the file is outside the inbox, which the reconciler never "
                f"reads on its own. If you backfilled it, run `dateline ingest --force {record.path}` again."
            ),
        )
        self.registry.mark_failed(record.path, record.revision, failure)
        action = Action(
            path=record.path, reason=reason, detail=why, outcome="marked failed: outside the inbox"
        )
        record_action(self.redis, action)
        log.error("%s: %s", record.path, failure.reason)
        return action

    def _give_up(self, record: FileRecord, reason: Reason, why: str, times: int) -> Action:
        failure = Failure(
            path=record.path,
            stage="pipeline",
            reason=(
                f"Queued again {times} times and stuck every time; last: {reason} ({why}). "
                "`dateline status` shows crashed or missing workers; once fixed, "
                f"`dateline ingest --force {record.path}` queues it again."
            ),
        )
        self.registry.mark_failed(record.path, record.revision, failure)
        action = Action(
            path=record.path, reason="gave up", detail=f"{reason}: {why}", outcome="marked failed"
        )
        record_action(self.redis, action)
        log.error("%s: %s", record.path, failure.reason)
        return action

    def _count_requeue(self, record: FileRecord) -> int:
        """How many times this content of the file is being queued again, this time included."""
        raw = self.redis.hget(RECONCILER_REQUEUES_KEY, record.path)
        sha, _, count = as_text(raw).partition(" ") if raw else ("", "", "0")
        times = int(count) + 1 if sha == record.sha256 else 1
        self.redis.hset(RECONCILER_REQUEUES_KEY, record.path, f"{record.sha256} {times}")
        return times

    def _forget_settled_requeues(self) -> None:
        """Re-queue counts of files that got indexed, changed or went away."""
        entries = {as_text(k): as_text(v) for k, v in self.redis.hgetall(RECONCILER_REQUEUES_KEY).items()}
        records = self.registry.get_many(list(entries))
        done = [
            path
            for path, value in entries.items()
            if path not in records
            or records[path].state == "indexed"
            or records[path].sha256 != value.partition(" ")[0]
        ]
        if done:
            self.redis.hdel(RECONCILER_REQUEUES_KEY, *done)

    def _clear_dead_markers(self, snapshot: Snapshot) -> None:
        """ "Processing now" markers of worker processes that are gone (their heartbeat expired)."""
        grace = self.settings.heartbeat_seconds * HEARTBEAT_TTL_FACTOR
        for field, marker in self.progress.markers().items():
            if marker.get("worker") in snapshot.live_workers:
                continue
            try:
                age = (snapshot.now - datetime.fromisoformat(str(marker.get("since")))).total_seconds()
            except (ValueError, TypeError):
                age = grace  # unreadable: not worth keeping
            if age >= grace:
                self.progress.drop_marker(field)

    # --- the index audit ------------------------------------------------------------------
    def _maybe_audit(self, lock: Any = None) -> AuditReport | None:
        now = time.monotonic()
        if now < self._next_audit:
            return None
        self._next_audit = now + self.settings.reconcile_audit_seconds
        try:
            audit = audit_index(
                self.es, self.registry, self.settings.index, self._audited_uuids, keep=AUDIT_REQUEUE_BATCH
            )
        except (ApiError, TransportError) as exc:
            self.es_outage.down("Elasticsearch", exc)
            self._next_audit = now  # Elasticsearch is away: audit as soon as it is back
            return None
        self.es_outage.up()
        report = self._act_on_audit(audit, lock)
        self._last_audit = report
        return report

    def _act_on_audit(self, audit: Audit, lock: Any = None) -> AuditReport:
        requeued = 0
        for record in list(audit.missing.values())[:AUDIT_REQUEUE_BATCH]:
            if self.stopping:
                break
            self.requeue(
                record,
                "missing from the index",
                f"registered as indexed (revision {record.revision}), not in {audit.alias} "
                f"({', '.join(audit.indices) or 'no index'})",
            )
            requeued += 1
            if lock is not None:
                lock.reacquire()
        if audit.missing_files > requeued:
            self._next_audit = time.monotonic()  # more to queue: go on in the next pass
        elif audit.indices:
            self._audited_uuids = audit.uuids
        if audit.checked_ids:
            log.info(
                "index audit of %s: %d document(s) expected, %d found, %d missing in %d file(s)",
                audit.alias,
                audit.expected,
                audit.found,
                audit.missing_docs,
                audit.missing_files,
            )
        return AuditReport(
            alias=audit.alias,
            indices=audit.indices,
            uuids=audit.uuids,
            expected=audit.expected,
            found=audit.found,
            checked_ids=audit.checked_ids,
            missing=audit.missing_docs,
            requeued_files=requeued,
        )


def build_reconciler(settings: Settings, **kwargs: Any) -> Reconciler:
    """A reconciler with an ingestor of its own (its own Redis client and Celery app), so it
    shares nothing with the watcher it runs beside."""
    return Reconciler(
        Ingestor.from_settings(settings),
        make_client(settings.elasticsearch_url, settings=settings),
        settings,
        **kwargs,
    )

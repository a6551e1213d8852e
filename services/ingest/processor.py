"""One file in, documents queued: the rules every ingest path (watcher, backfill,
reconciler) shares.

``process`` reads top to bottom: may the file be read (``admission``), has its content
changed since the registry saw it, what do the readers make of it, and then the documents
are registered (``ledger``) and queued. Input files are only ever read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import redis
from celery import Celery

from services.ingest.admission import Gone, NotRegular, Refused, admit, read_admitted
from services.ingest.documents import build_document, folder_source, source_path_for
from services.ingest.ledger import Ledger
from services.ingest.paths import absolute, file_of, ignored_by, is_within, relative_parts
from services.ingest.readers import EMPTY_FILE, Reader, ReadError, ReadIssue, ReadLimits, ReadResult
from shared.celery_app import make_app
from shared.pipeline import UnsendableMessage, encode_message, request_delete, submit_document
from shared.redis_client import connect
from shared.registry import Failure, FileRecord, Registry
from shared.schemas import STAGES, ArticleDocument, StageTask
from shared.settings import Settings, get_settings

log = logging.getLogger("dateline.ingest")

Status = Literal["queued", "skipped", "failed", "ignored", "deleted", "missing"]
# How long a new file's hash is remembered to pair it with a vanished path (a rename).
RENAME_WINDOW_SECONDS = 300.0


@dataclass
class FileOutcome:
    path: str
    status: Status
    articles: int = 0
    failures: list[Failure] = field(default_factory=list)
    detail: str = ""


class QueueingFailed(RuntimeError):
    """The broker refused the documents; the file is retried on the next scan."""


class Ingestor:
    def __init__(self, registry: Registry, app: Celery, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.registry = registry
        self.ledger = Ledger(registry)
        self.redis: redis.Redis = registry.redis
        self.app = app
        self.inbox = self.settings.inbox_path
        self.limits = ReadLimits.from_settings(self.settings)
        self._recent_new: dict[str, tuple[str, float]] = {}  # sha256 -> (path, when)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, app: Celery | None = None) -> Ingestor:
        settings = settings or get_settings()
        return cls(Registry(connect(settings.redis_url)), app or make_app(settings), settings)

    # --- what to look at ------------------------------------------------------------------
    def source_path(self, path: Path) -> str:
        return source_path_for(absolute(path), self.inbox)

    def ignored(self, path: Path, root: Path | None = None) -> str | None:
        path = absolute(path)
        base = self.inbox if is_within(path, self.inbox) else root
        return ignored_by(relative_parts(path, base), self.settings.ignore_patterns)

    def looks_unchanged(self, path: Path) -> bool:
        """Cheap check for rescans: same size and mtime as registered (no read)."""
        record = self.registry.get(self.source_path(path))
        if record is None or record.state == "deleted" or record.mtime == 0:
            return False
        try:
            st = path.stat()
        except OSError:
            return False
        return st.st_size == record.size and st.st_mtime == record.mtime

    # --- one file -------------------------------------------------------------------------
    def process(self, path: Path, root: Path | None = None, *, force: bool = False) -> FileOutcome:
        """Handle ``path`` once; never raises for a bad file (the outcome says what happened).

        ``root`` is the folder a backfill was asked for (for ignore rules and the source
        name of files outside the inbox). ``force`` queues the file again even when its
        content is unchanged or failed before.
        """
        path = absolute(path)
        source_path = source_path_for(path, self.inbox)
        if (pattern := self.ignored(path, root)) is not None:
            return FileOutcome(source_path, "ignored", detail=f"matches ignore pattern {pattern!r}")
        try:
            return self._process(path, source_path, root, force)
        except (redis.RedisError, QueueingFailed) as exc:
            # The queue or registry is unreachable: nothing was lost, the next scan retries.
            log.error("ingest of %s interrupted: %s", source_path, exc)
            return FileOutcome(source_path, "failed", detail=str(exc))
        except Exception as exc:  # noqa: BLE001 - per-file isolation: one file never stops the others
            return self._crashed(path, source_path, exc)

    def _crashed(self, path: Path, source_path: str, exc: Exception) -> FileOutcome:
        """Anything else that went wrong with this file fails this file alone, with the cause.

        It is remembered by size and mtime (as a refusal is), so the file is not retried, and
        its traceback not logged, on every rescan; changing or touching the file retries it.
        """
        log.exception("ingest of %s failed", source_path)
        reason = (
            f"Dateline could not ingest this file ({type(exc).__name__}: {str(exc)[:300]}). The other files "
            "are not affected. Touch or replace the file to try again; if it fails again, please report "
            "it as a bug with the file attached."
        )
        try:
            st = os.lstat(path)
            size, mtime = st.st_size, st.st_mtime
        except OSError:
            size, mtime = 0, 0.0
        try:
            failure = self.ledger.refused(source_path, reason, size=size, mtime=mtime)
        except Exception:  # noqa: BLE001 - recording failed too (Redis away): the next scan retries
            log.exception("could not record the failure of %s", source_path)
            return FileOutcome(source_path, "failed", detail=reason)
        return FileOutcome(source_path, "failed", failures=[failure], detail=reason)

    def _process(self, path: Path, source_path: str, root: Path | None, force: bool) -> FileOutcome:
        admission = admit(path, self.inbox, self.settings)
        if isinstance(admission, Gone):
            return (
                self.handle_deleted(source_path)
                if self.registry.get(source_path) is not None
                else FileOutcome(source_path, "missing")
            )
        if isinstance(admission, NotRegular):
            return FileOutcome(source_path, "ignored", detail="not a regular file")
        if isinstance(admission, Refused):
            return self._refused(source_path, admission, force)

        data = read_admitted(path, self.settings)
        if isinstance(data, Gone):
            return (
                self.handle_deleted(source_path)
                if self.registry.get(source_path) is not None
                else FileOutcome(source_path, "missing")
            )
        if isinstance(data, Refused):
            return self._refused(source_path, data, force)
        sha = hashlib.sha256(data).hexdigest()
        old = self.registry.get(source_path)
        if not force and old is not None and old.sha256 == sha and old.state != "deleted":
            if (old.size, old.mtime) != (len(data), admission.mtime):
                old.size, old.mtime = len(data), admission.mtime  # touched, not changed
                self.registry.put(old)
            return FileOutcome(source_path, "skipped", articles=old.articles, detail="unchanged")

        result = self._read(admission.reader, path, data, source_path, self.limits)
        if not result.articles:
            issues = result.errors or [ReadIssue(reason=EMPTY_FILE)]
            failures = self.ledger.bad_content(
                source_path,
                old,
                sha,
                len(data),
                admission.mtime,
                issues,
                bad_parts=result.bad_parts,
                parts=result.parts,
            )
            return FileOutcome(source_path, "failed", failures=failures, detail=failures[0].reason)

        revision = self.registry.next_revision(source_path)
        folder = folder_source(
            path,
            self.inbox if is_within(path, self.inbox) else root,
            enabled=self.settings.source_from_folder,
        )
        docs = [
            build_document(a, source_path=source_path, revision=revision, folder=folder)
            for a in result.articles
        ]
        record = FileRecord(
            path=source_path,
            size=len(data),
            mtime=admission.mtime,
            sha256=sha,
            state="queued",
            revision=revision,
            articles=len(docs),
            doc_ids=[d.id for d in docs],
        )
        if (unsendable := self._unsendable(docs)) is not None:
            # About this file's content (an article too large as a message): remembered by hash.
            failures = self.ledger.bad_content(
                source_path, old, sha, len(data), admission.mtime, [ReadIssue(reason=unsendable)]
            )
            return FileOutcome(source_path, "failed", failures=failures, detail=failures[0].reason)
        failures = self.ledger.issues(
            source_path, result.errors, bad_parts=result.bad_parts, parts=result.parts
        )
        self._queue(record, docs, old, failures)
        for failure in failures:
            log.warning("skipped part of %s: %s", failure.key, failure.reason)
        if old is None:
            self._recent_new[sha] = (source_path, time.monotonic())
        log.info(
            "queued %s: %d article(s), revision %d%s",
            source_path,
            len(docs),
            revision,
            f", {len(failures)} bad part(s)" if failures else "",
        )
        return FileOutcome(source_path, "queued", articles=len(docs), failures=failures)

    def _refused(self, source_path: str, refusal: Refused, force: bool) -> FileOutcome:
        if (
            refusal.remembered
            and not force
            and self.ledger.failed_before(source_path, refusal.size, refusal.mtime)
        ):
            return FileOutcome(source_path, "skipped", detail="unchanged")
        failure = self.ledger.refused(source_path, refusal.reason, size=refusal.size, mtime=refusal.mtime)
        return FileOutcome(source_path, "failed", failures=[failure], detail=failure.reason)

    @staticmethod
    def _read(reader: Reader, path: Path, data: bytes, source_path: str, limits: ReadLimits) -> ReadResult:
        """The reader's articles and issues; a reader that gives up or crashes is an issue."""
        try:
            return reader.read(path, data, limits)
        except ReadError as exc:
            return ReadResult(errors=[ReadIssue(reason=exc.reason, line=exc.line)])
        except Exception as exc:  # noqa: BLE001 - a reader bug on odd input: report it like bad content
            log.exception("reader crashed on %s", source_path)
            kind = path.suffix.lstrip(".")
            return ReadResult(
                errors=[
                    ReadIssue(
                        reason=f"The file could not be parsed ({type(exc).__name__}: {exc}). Check that it is "
                        f"a valid {kind} file; if it is, please report a bug."
                    )
                ]
            )

    def _unsendable(self, docs: list[ArticleDocument]) -> str | None:
        """Why one of the documents cannot go on a queue, checked before any is queued, so a
        file is queued whole or not at all."""
        for doc in docs:
            try:
                encode_message(StageTask(document=doc, stages=list(STAGES)), self.settings.max_message_bytes)
            except UnsendableMessage as exc:
                where = f"article {doc.record + 1}: " if len(docs) > 1 else ""
                return where + str(exc)
        return None

    def _queue(
        self, record: FileRecord, docs: list[ArticleDocument], old: FileRecord | None, failures: list[Failure]
    ) -> None:
        """Register the revision (with ``failures``, its bad parts), queue its documents, and
        drop documents it no longer has."""
        self.ledger.queued(record, failures)
        try:
            for doc in docs:
                submit_document(self.app, doc)
        except Exception as exc:  # noqa: BLE001 - the broker (Redis) refused: retried on the next scan
            self.ledger.not_queued(record, old)
            raise QueueingFailed(
                f"could not queue the articles ({exc}): check that Redis is running; "
                "the file is retried on the next scan"
            ) from exc
        kept = set(record.doc_ids)
        dropped = [i for i in (old.doc_ids if old else []) if i not in kept]
        if dropped:
            request_delete(self.redis, record.path, record.revision, doc_ids=dropped)

    # --- deletions and renames ------------------------------------------------------------
    def handle_deleted(self, source_path: str, renamed_to: str | None = None) -> FileOutcome:
        """A registered file is gone. Its documents go if ``on_delete`` is "remove" or the
        file was renamed (the new name carries the documents now)."""
        record = self.registry.get(source_path)
        if record is None:
            return FileOutcome(source_path, "missing")
        if renamed_to is None:
            renamed_to = self.renamed_to(record)
        self.registry.clear_failures(source_path)
        if renamed_to is not None or self.settings.on_delete == "remove":
            revision = self.registry.next_revision(source_path)
            if record.doc_ids:
                request_delete(self.redis, source_path, revision)
            record.state, record.revision = "deleted", revision
            self.registry.put(record)
            how = f"renamed to {renamed_to}" if renamed_to else "deleted"
            log.info("%s %s: its %d document(s) will be removed", source_path, how, len(record.doc_ids))
        else:
            log.info("deleted %s: its documents are kept (on_delete=keep)", source_path)
        self.registry.forget(source_path)
        return FileOutcome(source_path, "deleted", articles=len(record.doc_ids))

    def renamed_to(self, record: FileRecord) -> str | None:
        """The new path of a vanished file: a new file with the same content seen lately."""
        now = time.monotonic()
        for sha, (_, seen) in list(self._recent_new.items()):
            if now - seen > RENAME_WINDOW_SECONDS:
                del self._recent_new[sha]
        found = self._recent_new.get(record.sha256) if record.sha256 else None
        return found[0] if found and found[0] != record.path else None

    def vanished(self, present: set[str]) -> list[str]:
        """Registered inbox files that are not on disk (absolute paths: backfills, not ours)."""
        return sorted(p for p in self.registry.paths() if p not in present and not self.still_there(p))

    def still_there(self, source_path: str) -> bool:
        """Whether the inbox file a source path names exists (absolute paths - backfills of
        other folders - are not the inbox's to judge: they count as there)."""
        path = file_of(source_path, self.inbox)
        return source_path.startswith("/") or (path is not None and path.exists())

"""One file in, documents queued: the rules every ingest path (watcher, backfill) shares.

The registry in Redis decides what is new: unchanged content is skipped (also after a
restart), changed content gets a higher revision so it overwrites the old documents, and
bad content is recorded as failed with its hash so it is not retried until it changes.
Input files are only ever read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import redis
from celery import Celery

from services.ingest.documents import build_document, folder_source, source_path_for
from services.ingest.paths import absolute, ignored_by, is_within, relative_parts, symlink_escape
from services.ingest.readers import EMPTY_FILE, ReadError, ReadIssue, reader_for
from shared.pipeline import request_delete, submit_document
from shared.registry import Failure, FileRecord, Registry, connect
from shared.settings import Settings, get_settings

log = logging.getLogger("dateline.ingest")

Status = Literal["queued", "skipped", "failed", "ignored", "deleted", "missing"]
STAGE = "ingest"
# How long a new file's hash is remembered to pair it with a vanished path (a rename).
RENAME_WINDOW_SECONDS = 300.0


@dataclass
class FileOutcome:
    path: str
    status: Status
    articles: int = 0
    failures: list[Failure] = field(default_factory=list)
    detail: str = ""
    failed_before: bool = False  # skipped because this very content already failed


class _Fail(Exception):
    """A file-level failure; ``retry`` ones are not remembered by size and mtime."""

    def __init__(self, reason: str, line: int | None = None, retry: bool = False):
        super().__init__(reason)
        self.reason, self.line, self.retry = reason, line, retry


class Ingestor:
    def __init__(
        self,
        registry: Registry,
        app: Celery,
        settings: Settings | None = None,
    ):
        self.settings = settings or get_settings()
        self.registry = registry
        self.redis: redis.Redis = registry.redis
        self.app = app
        self.inbox = self.settings.inbox_path
        self._recent_new: dict[str, tuple[str, float]] = {}  # sha256 -> (path, when)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, app: Celery | None = None) -> Ingestor:
        settings = settings or get_settings()
        if app is None:
            from services.worker.app import make_app  # built now, from the current settings

            app = make_app()
        return cls(Registry(connect(settings.redis_url)), app, settings)

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
            st = os.stat(path)
        except OSError:
            return False
        return st.st_size == record.size and st.st_mtime == record.mtime

    # --- one file -------------------------------------------------------------------------
    def process(self, path: Path, root: Path | None = None) -> FileOutcome:
        """Handle ``path`` once; never raises for a bad file (the outcome says what happened).

        ``root`` is the folder a backfill was asked for (for ignore rules and the source
        name of files outside the inbox).
        """
        path = absolute(path)
        sp = source_path_for(path, self.inbox)
        if (pattern := self.ignored(path, root)) is not None:
            return FileOutcome(sp, "ignored", detail=f"matches ignore pattern {pattern!r}")
        try:
            return self._process(path, sp, root)
        except _Fail as fail:
            return self._fail(sp, fail)
        except (redis.RedisError, OSError) as exc:
            # The queue or registry is unreachable: nothing was lost, the next scan retries.
            log.error("ingest of %s interrupted: %s", sp, exc)
            return FileOutcome(sp, "failed", detail=str(exc))

    def _process(self, path: Path, sp: str, root: Path | None) -> FileOutcome:
        inside = is_within(path, self.inbox)
        try:
            lst = os.lstat(path)
        except FileNotFoundError:
            if self.registry.get(sp) is not None:
                return self.handle_deleted(sp)
            return FileOutcome(sp, "missing")

        if stat.S_ISLNK(lst.st_mode):
            if inside and (target := symlink_escape(path, self.inbox)) is not None:
                if not self._known_failure(sp, lst.st_size, lst.st_mtime):
                    raise _FailSized(
                        f"symlink points outside the inbox (to {target}): dateline reads "
                        "only files inside the inbox; copy the file into the inbox instead "
                        "of linking it",
                        lst.st_size,
                        lst.st_mtime,
                    )
                return FileOutcome(sp, "skipped", detail="unchanged", failed_before=True)
            if not path.exists():
                raise _Fail(
                    f"broken symlink (its target {os.readlink(path)} does not exist): "
                    "fix or remove the link",
                    retry=True,
                )
        try:
            st = os.stat(path)
        except PermissionError as exc:
            raise _Fail(_permission_reason(path), retry=True) from exc
        if not stat.S_ISREG(st.st_mode):
            return FileOutcome(sp, "ignored", detail="not a regular file")

        if st.st_size > self.settings.max_file_bytes:
            if self._known_failure(sp, st.st_size, st.st_mtime):
                return FileOutcome(sp, "skipped", detail="unchanged", failed_before=True)
            raise _FailSized(
                f"file is too large ({st.st_size / 1048576:.1f} MB, limit "
                f"{self.settings.max_file_mb:g} MB): split it into smaller files or raise "
                "DATELINE_MAX_FILE_MB",
                st.st_size,
                st.st_mtime,
            )
        try:
            reader = reader_for(path)
        except ReadError as exc:
            if self._known_failure(sp, st.st_size, st.st_mtime):
                return FileOutcome(sp, "skipped", detail="unchanged", failed_before=True)
            raise _FailSized(exc.reason, st.st_size, st.st_mtime) from exc

        try:
            data = path.read_bytes()
        except PermissionError as exc:
            raise _Fail(_permission_reason(path), retry=True) from exc
        sha = hashlib.sha256(data).hexdigest()
        old = self.registry.get(sp)
        if old is not None and old.sha256 == sha and old.state != "deleted":
            if (old.size, old.mtime) != (len(data), st.st_mtime):
                old.size, old.mtime = len(data), st.st_mtime  # touched, not changed
                self.registry.put(old)
            return FileOutcome(
                sp,
                "skipped",
                articles=old.articles,
                detail="unchanged",
                failed_before=old.state == "failed",
            )

        try:
            result = reader.read(path, data)
        except ReadError as exc:
            issue = ReadIssue(reason=exc.reason, line=exc.line)
            return self._fail_content(sp, old, sha, len(data), st.st_mtime, [issue])
        except Exception as exc:  # a reader bug on odd input: report it like bad content
            log.exception("reader crashed on %s", sp)
            issue = ReadIssue(
                reason=f"the file could not be parsed ({type(exc).__name__}: {exc}): check that "
                f"it is a valid {path.suffix.lstrip('.')} file; if it is, please report a bug"
            )
            return self._fail_content(sp, old, sha, len(data), st.st_mtime, [issue])
        if not result.articles:
            issues = result.errors or [ReadIssue(reason=EMPTY_FILE)]
            return self._fail_content(sp, old, sha, len(data), st.st_mtime, issues)

        revision = self.registry.next_revision(sp)
        folder = folder_source(path, self.inbox if inside else root)
        docs = [
            build_document(a, source_path=sp, revision=revision, folder=folder)
            for a in result.articles
        ]
        record = FileRecord(
            path=sp,
            size=len(data),
            mtime=st.st_mtime,
            sha256=sha,
            state="queued",
            revision=revision,
            articles=len(docs),
            doc_ids=[d.id for d in docs],
        )
        # Register before queueing, so the indexer can mark documents of this revision.
        self.registry.reset_indexed(sp)
        self.registry.clear_failures(sp)
        self.registry.put(record)
        try:
            for doc in docs:
                submit_document(self.app, doc)
        except Exception as exc:  # broker down: forget the hash so the next scan retries
            record.state, record.sha256, record.mtime = "failed", "", 0.0
            # Keep the old ids too: the retry must still delete those it drops.
            record.doc_ids = list(dict.fromkeys([*(old.doc_ids if old else []), *record.doc_ids]))
            self.registry.put(record)
            raise _Fail(
                f"could not queue the articles ({exc}): check that Redis is running; "
                "the file is retried on the next scan",
                retry=True,
            ) from exc

        dropped = [i for i in (old.doc_ids if old else []) if i not in set(record.doc_ids)]
        if dropped:
            request_delete(self.redis, sp, revision, doc_ids=dropped)
        failures = self._record_issues(sp, result.errors)
        for failure in failures:
            log.warning("skipped part of %s: %s", failure.key, failure.reason)
        if old is None:
            self._recent_new[sha] = (sp, time.monotonic())
        log.info(
            "queued %s: %d article(s), revision %d%s",
            sp,
            len(docs),
            revision,
            f", {len(failures)} bad part(s)" if failures else "",
        )
        return FileOutcome(sp, "queued", articles=len(docs), failures=failures)

    # --- failures -------------------------------------------------------------------------
    def _known_failure(self, sp: str, size: int, mtime: float) -> bool:
        """Already failed with this size and mtime (before reading): don't report again."""
        old = self.registry.get(sp)
        return (
            old is not None
            and old.state == "failed"
            and not old.sha256
            and old.mtime != 0
            and (old.size, old.mtime) == (size, mtime)
        )

    def _fail(self, sp: str, fail: _Fail) -> FileOutcome:
        size, mtime = (fail.size, fail.mtime) if isinstance(fail, _FailSized) else (0, 0.0)
        old = self.registry.get(sp)
        self._store_failed(sp, old, sha="", size=size, mtime=mtime)
        self.registry.clear_failures(sp)
        failure = Failure(path=sp, reason=fail.reason, stage=STAGE, line=fail.line)
        self.registry.record_failure(failure)
        log.warning("cannot ingest %s: %s", sp, fail.reason)
        return FileOutcome(sp, "failed", failures=[failure], detail=fail.reason)

    def _fail_content(
        self,
        sp: str,
        old: FileRecord | None,
        sha: str,
        size: int,
        mtime: float,
        issues: list[ReadIssue],
    ) -> FileOutcome:
        """Bad content: remembered by hash, so it is retried only once the file changes.

        The documents of the last good version stay searchable until the file is fixed.
        """
        self._store_failed(sp, old, sha=sha, size=size, mtime=mtime)
        self.registry.clear_failures(sp)
        failures = self._record_issues(sp, issues)
        for failure in failures:
            log.warning("cannot ingest %s: %s", failure.key, failure.reason)
        return FileOutcome(sp, "failed", failures=failures, detail=failures[0].reason)

    def _store_failed(
        self, sp: str, old: FileRecord | None, *, sha: str, size: int, mtime: float
    ) -> None:
        # A new revision makes documents still in flight for the old one stale, so they
        # cannot mark this failed file indexed; the old doc ids are kept for deletion.
        self.registry.put(
            FileRecord(
                path=sp,
                size=size,
                mtime=mtime,
                sha256=sha,
                state="failed",
                revision=self.registry.next_revision(sp),
                articles=0,
                doc_ids=old.doc_ids if old else [],
            )
        )

    def _record_issues(self, sp: str, issues: list[ReadIssue]) -> list[Failure]:
        """One failure per bad line; issues without a line are joined (one key per file)."""
        failures = [
            Failure(path=sp, reason=i.reason, stage=STAGE, line=i.line)
            for i in issues
            if i.line is not None
        ]
        whole = [i.reason for i in issues if i.line is None]
        if whole:
            failures.insert(0, Failure(path=sp, reason="; ".join(whole), stage=STAGE))
        for failure in failures:
            self.registry.record_failure(failure)
        return failures

    # --- deletions and renames ------------------------------------------------------------
    def handle_deleted(self, sp: str, renamed_to: str | None = None) -> FileOutcome:
        """A registered file is gone. Its documents go if ``on_delete`` is "remove" or the
        file was renamed (the new name carries the documents now)."""
        record = self.registry.get(sp)
        if record is None:
            return FileOutcome(sp, "missing")
        if renamed_to is None:
            renamed_to = self.renamed_to(record)
        self.registry.clear_failures(sp)
        if renamed_to is not None or self.settings.on_delete == "remove":
            revision = self.registry.next_revision(sp)
            if record.doc_ids:
                request_delete(self.redis, sp, revision)
            record.state, record.revision = "deleted", revision
            self.registry.put(record)
            how = f"renamed to {renamed_to}" if renamed_to else "deleted"
            log.info("%s %s: its %d document(s) will be removed", sp, how, len(record.doc_ids))
        else:
            log.info("deleted %s: its documents are kept (on_delete=keep)", sp)
        self.registry.forget(sp)
        return FileOutcome(sp, "deleted", articles=len(record.doc_ids))

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
        return sorted(
            p
            for p in self.registry.paths()
            if not p.startswith("/") and p not in present and not (self.inbox / p).exists()
        )


class _FailSized(_Fail):
    """A failure known before reading, remembered by size and mtime."""

    def __init__(self, reason: str, size: int, mtime: float):
        super().__init__(reason)
        self.size, self.mtime = size, mtime


def _permission_reason(path: Path) -> str:
    return (
        f"permission denied reading the file: make it readable by the user running dateline "
        f"(e.g. chmod a+r '{path}')"
    )

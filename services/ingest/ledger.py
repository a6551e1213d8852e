"""What ingest writes into the registry: files queued, files failed, and their failures.

Rules that keep retries honest:

- content that failed is remembered by its hash, so it is not read again until it changes;
- a refusal known before reading (too large, unsupported) is remembered by size and mtime;
- a problem that may go away by itself (no permission, a broken link, Redis away while
  queueing) is not remembered: the next scan tries again;
- every failure bumps the file's revision, so documents of an older revision still in
  flight can never mark the failed file indexed.
"""

from __future__ import annotations

import logging
from typing import Final

from services.ingest.readers import ReadIssue
from shared.registry import Failure, FileRecord, Registry

log = logging.getLogger("dateline.ingest")

STAGE: Final = "ingest"


class Ledger:
    def __init__(self, registry: Registry):
        self.registry = registry

    def failed_before(self, path: str, size: int, mtime: float) -> bool:
        """Already refused with this very size and mtime: don't report it again."""
        old = self.registry.get(path)
        return (
            old is not None
            and old.state == "failed"
            and not old.sha256
            and old.mtime != 0
            and (old.size, old.mtime) == (size, mtime)
        )

    def refused(self, path: str, reason: str, *, size: int = 0, mtime: float = 0.0) -> Failure:
        """A file-level refusal; remembered by ``size``/``mtime`` when they are given."""
        failure = Failure(path=path, reason=reason, stage=STAGE)
        self._store_failed(path, self.registry.get(path), [failure], sha="", size=size, mtime=mtime)
        log.warning("cannot ingest %s: %s", path, reason)
        return failure

    def bad_content(
        self,
        path: str,
        old: FileRecord | None,
        sha: str,
        size: int,
        mtime: float,
        issues: list[ReadIssue],
        *,
        bad_parts: int = 0,
        parts: int = 0,
    ) -> list[Failure]:
        """Content that cannot be read, remembered by hash (retried once it changes).

        The documents of the last good version stay searchable until the file is fixed.
        """
        failures = self.issues(path, issues, bad_parts=bad_parts, parts=parts)
        self._store_failed(path, old, failures, sha=sha, size=size, mtime=mtime)
        for failure in failures:
            log.warning("cannot ingest %s: %s", failure.key, failure.reason)
        return failures

    def queued(self, record: FileRecord, failures: list[Failure]) -> None:
        """Register a new revision before its documents are queued, so the indexer can
        mark them; the older content's failures give way to this content's (its bad parts)."""
        self.registry.reset_indexed(record.path)
        self.registry.put(record, failures)

    def not_queued(self, record: FileRecord, old: FileRecord | None) -> None:
        """The broker refused the documents: forget the hash so the next scan retries.

        The old documents' ids are kept too: the retry must still delete those it drops.
        """
        record.state, record.sha256, record.mtime = "failed", "", 0.0
        record.doc_ids = list(dict.fromkeys([*(old.doc_ids if old else []), *record.doc_ids]))
        self.registry.put(record)

    def issues(
        self, path: str, issues: list[ReadIssue], *, bad_parts: int = 0, parts: int = 0
    ) -> list[Failure]:
        """The failures to record for ``issues``: one per listed bad line; issues without a
        line are joined (one key per file).

        ``issues`` are the first few (``DATELINE_MAX_FAILURE_LINES``); when the file had more
        bad parts (``bad_parts`` of ``parts``), one record for the file counts them, so a file of
        100,000 bad lines makes a handful of records, not 100,000.
        """
        failures = [
            Failure(path=path, reason=i.reason, stage=STAGE, line=i.line)
            for i in issues
            if i.line is not None
        ]
        whole = [i.reason for i in issues if i.line is None]
        unlisted = bad_parts - len(issues)
        if unlisted > 0:
            of = f" of {parts}" if parts else ""
            whole.append(
                f"{bad_parts}{of} lines or items could not be read; the first {len(issues)} are listed with their "
                f"reasons, {unlisted} more are not (DATELINE_MAX_FAILURE_LINES). Fix the listed ones, then check "
                "the rest the same way."
            )
        if whole:
            failures.insert(0, Failure(path=path, reason=" ".join(whole), stage=STAGE))
        return failures

    def _store_failed(
        self, path: str, old: FileRecord | None, failures: list[Failure], *, sha: str, size: int, mtime: float
    ) -> None:
        self.registry.put(
            FileRecord(
                path=path,
                size=size,
                mtime=mtime,
                sha256=sha,
                state="failed",
                revision=self.registry.next_revision(path),
                articles=0,
                doc_ids=old.doc_ids if old else [],
            ),
            failures,
        )

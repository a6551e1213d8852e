"""The file registry and failure log, kept in Redis so they survive restarts.

Ingest records each file it handled (size, mtime, content hash, state, revision); the
indexer marks files indexed; every service records failures a user must see. The
``dateline status`` command reads all of it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import redis
from pydantic import BaseModel, Field

from shared.keys import FAILURES_KEY, FILE_EXPECT_KEY, FILE_KEY, FILES_KEY, INDEXED_DOCS_KEY, STATE_KEY
from shared.redis_client import as_text
from shared.schemas import StageName, utcnow

FileState = Literal["queued", "indexed", "failed", "deleted"]
FailureStage = Literal["ingest", "pipeline", "index"] | StageName
FILE_STATES: tuple[FileState, ...] = ("queued", "indexed", "failed", "deleted")

# Note one document indexed and say whether its file may now be complete, in one round trip
# and without reading the file's record: the record lists every document id, so reading it
# per document made a file of n articles cost n^2. Returns -2 when the file has no expect key
# (written before it existed), -1 for a document of another revision or a deleted file,
# 1 when every document of the revision is in, else 0. The precise count (members of this
# revision only) runs only when the set is large enough to be complete.
_MARK_INDEXED = """
local expect = redis.call('GET', KEYS[1])
if not expect then return -2 end
local revision, articles, state = string.match(expect, '^(%d+) (%d+) (%a+)$')
if revision ~= ARGV[1] or state == 'deleted' then return -1 end
redis.call('SADD', KEYS[2], ARGV[2])
local wanted = tonumber(articles)
if redis.call('SCARD', KEYS[2]) < wanted then return 0 end
local prefix, found = ARGV[1] .. ':', 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if string.sub(member, 1, #prefix) == prefix then found = found + 1 end
end
if found >= wanted then return 1 end
return 0
"""


class FileRecord(BaseModel):
    path: str = Field(description="Source path: relative to the inbox, or absolute outside it.")
    size: int = 0
    mtime: float = 0.0
    sha256: str = ""
    state: FileState = "queued"
    revision: int = 0
    articles: int = 0
    doc_ids: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)


class Failure(BaseModel):
    path: str
    reason: str
    stage: FailureStage = Field(
        description="Where it failed: ingest, a stage, the pipeline (reconciler), the index."
    )
    at: datetime = Field(default_factory=utcnow)
    line: int | None = Field(None, description="Line number within the file (JSON Lines).")

    @property
    def key(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


class Registry:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._mark_indexed = client.register_script(_MARK_INDEXED)

    # --- files --------------------------------------------------------------------------
    def get(self, path: str) -> FileRecord | None:
        raw = self.redis.get(FILE_KEY + path)
        return FileRecord.model_validate_json(raw) if raw else None

    def put(self, record: FileRecord, failures: list[Failure] | None = None) -> FileRecord:
        """Store a record and move the file into the set of its state, atomically.

        With ``failures`` (ingest's verdict on this content), the file's earlier failures are
        replaced by them in the same transaction, so no reader ever sees a failed file
        without its reason, or a new revision beside the old content's failures.
        """
        record.updated_at = utcnow()
        stale = self._failure_keys_of(record.path) if failures is not None else []
        pipe = self.redis.pipeline(transaction=True)
        if stale:
            pipe.hdel(FAILURES_KEY, *stale)
        _store(pipe, record)
        pipe.sadd(FILES_KEY, record.path)
        for failure in failures or []:
            pipe.hset(FAILURES_KEY, failure.key, failure.model_dump_json())
        pipe.execute()
        return record

    def next_revision(self, path: str) -> int:
        """A revision higher than any this file had, so newer content always wins."""
        return int(self.redis.incr(FILE_KEY + path + ":revision"))

    def forget(self, path: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(FILE_KEY + path, INDEXED_DOCS_KEY + path, FILE_EXPECT_KEY + path)
        pipe.srem(FILES_KEY, path)
        for state in FILE_STATES:
            pipe.srem(STATE_KEY + state, path)
        pipe.execute()

    def paths(self) -> set[str]:
        return {as_text(p) for p in self.redis.smembers(FILES_KEY)}

    def counts(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for state in FILE_STATES:
            pipe.scard(STATE_KEY + state)
        return dict(zip(FILE_STATES, (int(n) for n in pipe.execute()), strict=True))

    def mark_indexed(self, path: str, revision: int, doc_id: str) -> bool:
        """Note one document of a file as indexed; returns whether the file as a whole is now
        indexed (``mark_indexed_many`` for one document)."""
        return path in self.mark_indexed_many([(path, revision, doc_id)])

    def mark_indexed_many(self, documents: Sequence[tuple[str, int, str]]) -> set[str]:
        """Note documents (path, revision, doc id) as indexed; a file is indexed when all of
        its revision's are. Returns the paths wholly indexed now.

        The notes go in one pipelined round trip (each one atomic script), and the files they
        complete are settled in one optimistic transaction on their records, so a new
        revision written by ingest meanwhile is never overwritten with an older one's state.
        (Before, each document was a round trip and each file it completed four more.)
        """
        pipe = self.redis.pipeline(transaction=False)
        for path, revision, doc_id in documents:
            self._mark_indexed(
                keys=[FILE_EXPECT_KEY + path, INDEXED_DOCS_KEY + path],
                args=[revision, f"{revision}:{doc_id}"],
                client=pipe,
            )
        complete: dict[str, int] = {}
        indexed: set[str] = set()
        for (path, revision, doc_id), answer in zip(documents, pipe.execute(), strict=True):
            if int(answer) == 1:
                complete[path] = max(revision, complete.get(path, revision))
            elif int(answer) == -2 and self._mark_without_expect(path, revision, doc_id):
                indexed.add(path)
        return indexed | self._settle_indexed(complete)

    def _settle_indexed(self, complete: dict[str, int]) -> set[str]:
        """Files (path -> revision) whose every document the script counted in: state indexed,
        unless the file moved on meanwhile. One transaction for them all."""
        if not complete:
            return set()
        paths = sorted(complete)
        indexed: set[str] = set()

        def update(pipe: redis.client.Pipeline) -> None:
            indexed.clear()  # a retried transaction starts over
            settle = []
            for path, raw in zip(paths, pipe.mget([FILE_KEY + p for p in paths]), strict=True):
                record = _current(raw, complete[path])
                if record is None:
                    continue  # a stale document of an older revision, or of a deleted file
                indexed.add(path)
                if record.state != "indexed":
                    settle.append(record)
            pipe.multi()
            for record in settle:
                record.state = "indexed"
                record.updated_at = utcnow()
                _store(pipe, record)

        self.redis.transaction(update, *(FILE_KEY + p for p in paths))
        return indexed

    def _mark_without_expect(self, path: str, revision: int, doc_id: str) -> bool:
        """``mark_indexed`` for a record from before the expect key: counts the file's
        documents itself, in an optimistic transaction on its record and its set."""
        docs_key = f"{INDEXED_DOCS_KEY}{path}"
        member = f"{revision}:{doc_id}"
        indexed = False

        def update(pipe: redis.client.Pipeline) -> None:
            nonlocal indexed
            record = _record_at(pipe, path, revision)
            if record is None:
                indexed = False  # a stale document of an older revision, or of a deleted file
                return
            done = {as_text(m) for m in pipe.smembers(docs_key)}
            done.add(member)
            indexed = sum(1 for m in done if m.startswith(f"{revision}:")) >= record.articles
            pipe.multi()
            pipe.sadd(docs_key, member)
            if indexed and record.state != "indexed":
                record.state = "indexed"
                record.updated_at = utcnow()
                _store(pipe, record)

        self.redis.transaction(update, FILE_KEY + path, docs_key)
        return indexed

    def reset_indexed(self, path: str) -> None:
        self.redis.delete(INDEXED_DOCS_KEY + path)

    def superseded(self, path: str, revision: int) -> str | None:
        """Why a document of ``revision`` is no longer wanted (None: it is): the file is gone
        from the registry, deleted, or a newer revision of it is in flight."""
        return why_superseded(self.get(path), revision)

    def indexed_doc_ids(self, path: str, revision: int) -> set[str]:
        """The documents of ``revision`` already marked indexed."""
        prefix = f"{revision}:"
        members = (as_text(m) for m in self.redis.smembers(INDEXED_DOCS_KEY + path))
        return {m[len(prefix) :] for m in members if m.startswith(prefix)}

    def scan_state(self, state: FileState, cursor: int, count: int) -> tuple[int, list[str]]:
        """One SSCAN page of the files in ``state`` (a bounded look at a large set)."""
        cursor, paths = self.redis.sscan(STATE_KEY + state, cursor, count=count)
        return int(cursor), [as_text(p) for p in paths]

    def get_many(self, paths: list[str]) -> dict[str, FileRecord]:
        if not paths:
            return {}
        values = self.redis.mget([FILE_KEY + p for p in paths])
        return {p: FileRecord.model_validate_json(v) for p, v in zip(paths, values, strict=True) if v}

    def mark_failed(self, path: str, revision: int, failure: Failure) -> bool:
        """The file's ``revision`` cannot be indexed: state failed, with the reason recorded.
        Its content hash is kept, so a rescan leaves it alone until the file changes (or
        ``dateline ingest --force``). False when the file moved on to a newer revision."""
        failed = False

        def update(pipe: redis.client.Pipeline) -> None:
            nonlocal failed
            record = _record_at(pipe, path, revision)
            if record is None:
                return
            failed = True
            record.state = "failed"
            record.updated_at = utcnow()
            pipe.multi()
            _store(pipe, record)
            pipe.hset(FAILURES_KEY, failure.key, failure.model_dump_json())

        self.redis.transaction(update, FILE_KEY + path)
        return failed

    # --- failures -----------------------------------------------------------------------
    def record_failure(self, failure: Failure) -> None:
        self.redis.hset(FAILURES_KEY, failure.key, failure.model_dump_json())

    def clear_failures(self, path: str) -> None:
        """Forget the failures of a file (and of its lines): it was fixed or removed."""
        stale = self._failure_keys_of(path)
        if stale:
            self.redis.hdel(FAILURES_KEY, *stale)

    def failures(self) -> list[Failure]:
        raw = self.redis.hvals(FAILURES_KEY)
        found = [Failure.model_validate_json(v) for v in raw]
        return sorted(found, key=lambda f: (f.at, f.path, f.line or 0))

    def _failure_keys_of(self, path: str) -> list[str]:
        """The keys of the failures of ``path`` and of its lines."""
        keys = (as_text(k) for k in self.redis.hkeys(FAILURES_KEY))
        return [k for k in keys if k == path or k.startswith(path + ":")]


def format_failure(failure: Failure) -> str:
    where = failure.path if failure.line is None else f"{failure.path} line {failure.line}"
    return f"{where}: {failure.reason} [{failure.stage}, {failure.at:%Y-%m-%d %H:%M:%S}]"


def why_superseded(record: FileRecord | None, revision: int) -> str | None:
    """Why a document of ``revision`` of the file with ``record`` is no longer wanted (None:
    it is): the file is gone from the registry, deleted, or a newer revision is in flight."""
    if record is None:
        return "the file is no longer registered"
    if record.state == "deleted":
        return "the file was deleted"
    if record.revision > revision:
        return f"the file changed since (now revision {record.revision})"
    return None


def _record_at(pipe: redis.client.Pipeline, path: str, revision: int) -> FileRecord | None:
    """The file's record inside a watched transaction, if the file is still at ``revision``
    and not deleted; None for a document of an older revision or of a deleted file."""
    return _current(pipe.get(FILE_KEY + path), revision)


def _current(raw: bytes | str | None, revision: int) -> FileRecord | None:
    """The stored record ``raw`` if its file is at ``revision`` and not deleted."""
    record = FileRecord.model_validate_json(raw) if raw else None
    if record is None or record.revision != revision or record.state == "deleted":
        return None
    return record


def _store(pipe: redis.client.Pipeline, record: FileRecord) -> None:
    """Queue the writes of ``record``: itself, its expect key (what ``_MARK_INDEXED`` reads)
    and its place in the set of its state."""
    pipe.set(FILE_KEY + record.path, record.model_dump_json())
    pipe.set(FILE_EXPECT_KEY + record.path, f"{record.revision} {record.articles} {record.state}")
    for state in FILE_STATES:
        (pipe.sadd if state == record.state else pipe.srem)(STATE_KEY + state, record.path)

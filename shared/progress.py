"""Where each in-flight document is: one small progress record per document, written at
every hop, so the reconciler can tell "waiting behind a backlog" from "lost".

    ingest ──queued(language)──▶ worker: processing(language, summary) ──queued(entities)──▶
    worker: processing(entities) ──indexing(stream entry)──▶ indexer: finished (record deleted)

- ``queued``: the task was put on its stage's queue with a *ticket*, a number from one Redis
  counter, carried in the task itself. Celery's Redis queues are FIFO lists, so a task whose
  ticket is older than the oldest task still waiting in its queue has left the queue.
- ``processing``: a worker process (``host:pid``) runs the stage; ``attempts`` counts how often
  this stage was started for this revision (a process that died on it leaves it at
  ``processing``, and the redelivered task starts it again).
- ``indexing``: the document is an entry of the index stream (its id is recorded in the same
  script that adds it, so the indexer can never finish a record that is not written yet).

Every write is one Lua script, guarded by the file's revision: a late message of an older
revision never overwrites the record of a newer one. While a stage runs, a marker in
``dateline:processing`` says so (status lists them as "processing now"); the script sets and
clears it with the record.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import redis
from pydantic import BaseModel, Field

from shared.keys import INDEX_STREAM, PROCESSING_KEY, PROGRESS_KEY, TICKET_KEY
from shared.redis_client import as_text
from shared.schemas import STAGES, ArticleDocument, IndexRequest, StageName, utcnow

Hop = Literal["queued", "processing", "indexing"]


def this_process() -> str:
    """How a worker process is named in progress records and markers: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Progress(BaseModel):
    doc_id: str
    path: str
    revision: int
    hop: Hop
    stage: StageName | None = Field(None, description="The stage queued for, or running.")
    since: datetime = Field(default_factory=utcnow)
    worker: str | None = Field(None, description="host:pid of the process running the stage.")
    ticket: int | None = Field(None, description="Order of queueing (queued only).")
    entry: str | None = Field(None, description="Index stream entry id (indexing only).")
    attempts: int = Field(1, description="Times this stage was started for this revision.")

    def age(self, now: datetime | None = None) -> float:
        return ((now or utcnow()) - self.since).total_seconds()

    @property
    def where(self) -> str:
        """In words, for status and logs: "queued for entities", "indexing"."""
        if self.hop == "queued":
            return f"queued for {self.stage}"
        if self.hop == "processing":
            return f"{self.stage} on {self.worker}"
        return "waiting for the indexer"


def marker_field(doc_id: str, stage: str) -> str:
    return f"{doc_id}:{stage}"


# KEYS: progress hash, markers hash, index stream, ticket counter.
# ARGV: doc id, revision, record JSON ("" deletes the record), marker field, marker JSON
# ("" none), index request JSON ("" none), then every marker field of the document.
# Returns {1, value} when written (value: the ticket, the attempts, or the stream entry id),
# {0, ""} when a newer revision's record is there (the caller's document is stale).
_TRANSITION = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local revision = tonumber(ARGV[2])
local attempts = 1
if old then
  local previous = cjson.decode(old)
  if tonumber(previous['revision']) > revision then
    return {0, ''}
  end
  if ARGV[3] ~= '' then
    local record = cjson.decode(ARGV[3])
    if record['hop'] == 'processing' and previous['hop'] == 'processing'
        and tonumber(previous['revision']) == revision and previous['stage'] == record['stage'] then
      attempts = (tonumber(previous['attempts']) or 1) + 1
    end
  end
end
for i = 7, #ARGV do
  redis.call('HDEL', KEYS[2], ARGV[i])
end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return {1, ''}
end
local record = cjson.decode(ARGV[3])
local value = ''
if record['hop'] == 'queued' then
  value = redis.call('INCR', KEYS[4])
  record['ticket'] = value
elseif record['hop'] == 'processing' then
  record['attempts'] = attempts
  value = attempts
elseif ARGV[6] ~= '' then
  value = redis.call('XADD', KEYS[3], '*', 'request', ARGV[6])
  record['entry'] = value
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
end
return {1, value}
"""


class ProgressLog:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._transition = client.register_script(_TRANSITION)

    # --- the hops -------------------------------------------------------------------------
    def queued(self, document: ArticleDocument, stage: StageName) -> int | None:
        """The document goes on ``stage``'s queue: returns its ticket (None: stale revision)."""
        record = Progress(
            doc_id=document.id,
            path=document.source_path,
            revision=document.revision,
            hop="queued",
            stage=stage,
        )
        value = self._write(record)
        return None if value is None else int(value)

    def processing(
        self, document: ArticleDocument, stage: StageName, worker: str | None = None
    ) -> int | None:
        """A worker process starts ``stage``: returns how many times it was started for this
        revision, this time included (None: stale revision)."""
        worker = worker or this_process()
        record = Progress(
            doc_id=document.id,
            path=document.source_path,
            revision=document.revision,
            hop="processing",
            stage=stage,
            worker=worker,
        )
        marker = {
            "path": document.source_path,
            "stage": stage,
            "worker": worker,
            "since": record.since.isoformat(),
            "doc_id": document.id,
            "revision": document.revision,
        }
        value = self._write(record, marker=(marker_field(document.id, stage), json.dumps(marker)))
        return None if value is None else int(value)

    def indexing(self, request: IndexRequest) -> str | None:
        """Add the enriched document to the index stream and record the entry, atomically;
        returns the entry id (None: stale revision, nothing added)."""
        document = request.document
        if document is None:
            raise ValueError("only an upsert carries a document to track")
        record = Progress(
            doc_id=document.id, path=document.source_path, revision=document.revision, hop="indexing"
        )
        value = self._write(record, request=request.model_dump_json())
        return None if value is None else as_text(value)

    def finished(self, doc_id: str, revision: int) -> bool:
        """The document of ``revision`` (or an older one) is done: drop its record. A newer
        revision's record stays. Returns whether a record was dropped or none was there."""
        return self.finished_many([(doc_id, revision)])[0]

    def finished_many(self, documents: Sequence[tuple[str, int]]) -> list[bool]:
        """``finished`` for each (doc id, revision), in one pipelined round trip (each still
        its own atomic script): the indexer settles a whole batch at once."""
        pipe = self.redis.pipeline(transaction=False)
        for doc_id, revision in documents:
            self._transition(
                keys=self._keys,
                args=[doc_id, revision, "", "", "", "", *self._all_markers(doc_id)],
                client=pipe,
            )
        return [bool(int(reply[0])) for reply in pipe.execute()]

    # --- reading -------------------------------------------------------------------------
    def get(self, doc_ids: Iterable[str]) -> dict[str, Progress]:
        ids = list(doc_ids)
        if not ids:
            return {}
        values = self.redis.hmget(PROGRESS_KEY, ids)
        return {
            doc_id: Progress.model_validate_json(value)
            for doc_id, value in zip(ids, values, strict=True)
            if value is not None
        }

    def scan(self, cursor: int, count: int) -> tuple[int, list[Progress]]:
        """One HSCAN page of the records: a bounded look at a hash that may be large."""
        cursor, page = self.redis.hscan(PROGRESS_KEY, cursor, count=count)
        assert isinstance(page, dict)
        return int(cursor), [Progress.model_validate_json(value) for value in page.values()]

    def forget(self, records: Iterable[Progress]) -> None:
        """Drop these records (each only if it has not moved on to a newer revision)."""
        self.finished_many([(record.doc_id, record.revision) for record in records])

    def count(self) -> int:
        return int(self.redis.hlen(PROGRESS_KEY))

    def markers(self) -> dict[str, dict[str, Any]]:
        """What runs right now, per marker field: path, stage, worker (host:pid), since."""
        return {
            as_text(field): json.loads(value) for field, value in self.redis.hgetall(PROCESSING_KEY).items()
        }

    def drop_marker(self, field: str) -> None:
        self.redis.hdel(PROCESSING_KEY, field)

    # --- the script ----------------------------------------------------------------------
    @property
    def _keys(self) -> list[str]:
        return [PROGRESS_KEY, PROCESSING_KEY, INDEX_STREAM, TICKET_KEY]

    @staticmethod
    def _all_markers(doc_id: str) -> list[str]:
        return [marker_field(doc_id, stage) for stage in STAGES]

    def _write(self, record: Progress, *, marker: tuple[str, str] = ("", ""), request: str = "") -> Any:
        reply = self._transition(
            keys=self._keys,
            args=[
                record.doc_id,
                record.revision,
                record.model_dump_json(),
                marker[0],
                marker[1],
                request,
                *self._all_markers(record.doc_id),
            ],
        )
        return reply[1] if int(reply[0]) else None

"""Every Redis key and Celery queue name Dateline uses, in one place so writers and readers
never drift apart. (kombu's own keys are shared/broker_layout.py's.)"""

from __future__ import annotations

from shared.schemas import StageName

# One Celery queue per stage, so heavy NER can be scaled apart from the light stages.
STAGE_QUEUES: dict[StageName, str] = {
    "language": "dateline.language",
    "entities": "dateline.entities",
    "summary": "dateline.summary",
}
STAGE_TASKS: dict[StageName, str] = {
    "language": "dateline.stage.language",
    "entities": "dateline.stage.entities",
    "summary": "dateline.stage.summary",
}

# Enriched documents travel to the indexer over a Redis stream with a consumer group:
# entries are acknowledged only after Elasticsearch accepted them.
INDEX_STREAM = "dateline:index"
INDEX_GROUP = "indexers"

PREFIX = "dateline"
FILE_KEY = PREFIX + ":file:"  # hash per registered file
FILES_KEY = PREFIX + ":files"  # set of all registered files
STATE_KEY = PREFIX + ":files:state:"  # set of files per state
INDEXED_DOCS_KEY = PREFIX + ":indexed:"  # set of doc ids indexed for a file's revision
# string per file: "revision articles state", what marking one document indexed needs to know
# without reading the whole record (whose id list grows with the file's articles)
FILE_EXPECT_KEY = PREFIX + ":expect:"
FAILURES_KEY = PREFIX + ":failures"  # hash: failure key -> Failure JSON
PROCESSING_KEY = PREFIX + ":processing"  # hash: doc id + stage -> who and since when
# One heartbeat per process: dateline:service:{service}:{host}:{pid} (shared/heartbeat.py).
HEARTBEAT_PREFIX = PREFIX + ":service:"
# sorted set: heartbeat key -> when it expires (unix seconds); how readers find the live
# heartbeats without scanning every key (shared/heartbeat.py).
HEARTBEAT_INDEX_KEY = PREFIX + ":services"
TASK_DEAD_LETTER_KEY = PREFIX + ":tasks:dead"  # list of raw task payloads that could not be read
INDEX_DEAD_LETTER_STREAM = PREFIX + ":index:dead"  # stream entries the indexer could not apply
# Documents indexed per minute: dateline:rate:indexed:{minute since the epoch} -> count,
# written by the indexer, read by status for the rate and the backlog's ETA (shared/throughput.py).
INDEXED_PER_MINUTE_KEY = PREFIX + ":rate:indexed:"

# --- delivery tracking (shared/progress.py, the reconciler in services/ingest) -------------
PROGRESS_KEY = PREFIX + ":progress"  # hash: doc id -> Progress JSON, while the document is in flight
TICKET_KEY = PREFIX + ":progress:ticket"  # counter: the order in which tasks were queued
RECONCILER_LOCK_KEY = PREFIX + ":reconciler:lock"  # one reconciler pass at a time, across hosts
RECONCILER_REPORT_KEY = PREFIX + ":reconciler:report"  # the last pass and audit (status shows them)
RECONCILER_ACTIONS_KEY = PREFIX + ":reconciler:actions"  # list: what it did lately, newest first
RECONCILER_TOTALS_KEY = PREFIX + ":reconciler:totals"  # hash: reason -> articles' files re-queued, ever
RECONCILER_REQUEUES_KEY = PREFIX + ":reconciler:requeues"  # hash: path -> re-queues of its content
WORKER_DEATHS_KEY = PREFIX + ":worker:deaths"  # list of pool process deaths, newest first

"""Names of queues and Redis keys, shared by every service so they never drift apart."""

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
FAILURES_KEY = PREFIX + ":failures"  # hash: failure key -> Failure JSON
PROCESSING_KEY = PREFIX + ":processing"  # hash: doc id + stage -> who and since when
# One heartbeat per process: dateline:service:{service}:{host}:{pid} (shared/heartbeat.py).
HEARTBEAT_PREFIX = PREFIX + ":service:"
TASK_DEAD_LETTER_KEY = PREFIX + ":tasks:dead"  # list of raw task payloads that could not be read
INDEX_DEAD_LETTER_STREAM = PREFIX + ":index:dead"  # stream entries the indexer could not apply
# Documents indexed per minute: dateline:rate:indexed:{minute since the epoch} -> count,
# written by the indexer, read by status for the rate and the backlog's ETA (shared/throughput.py).
INDEXED_PER_MINUTE_KEY = PREFIX + ":rate:indexed:"

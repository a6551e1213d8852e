"""A stage whose worker process died on an article again and again is skipped, so the
article is indexed without it and the worker stops dying. (The deaths are the records a
killed process leaves: its stage started, never finished.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from services.worker.process import WorkerProcess
from shared.keys import INDEX_STREAM
from shared.progress import ProgressLog
from shared.registry import FileRecord, Registry
from shared.schemas import IndexRequest, StageTask
from shared.settings import Settings
from tests.support.documents import seed_documents


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()


def test_a_stage_that_keeps_killing_its_process_is_skipped_with_the_reason(client, redis_url):
    settings = Settings(
        _env_file=None, redis_url=redis_url, ner_model="/no/such/model.pt", task_max_retries=2
    )
    (document,) = seed_documents(1)
    Registry(client).put(
        FileRecord(path=document.source_path, revision=document.revision, articles=1, doc_ids=[document.id])
    )
    progress = ProgressLog(client)
    for dead in ("host:101", "host:102", "host:103"):  # started three times, finished never
        progress.processing(document, "entities", dead)

    WorkerProcess(["entities"], settings=settings).handle(
        "entities", StageTask(document=document, stages=["entities"]).to_wire()
    )

    ((_, fields),) = client.xrange(INDEX_STREAM)  # handed on to the indexer all the same
    request = IndexRequest.model_validate_json(fields[b"request"])
    entities = request.document.provenance.entities  # type: ignore[union-attr]
    assert entities is not None and entities.status == "failed"
    assert "started 4 times" in entities.error and "died each time" in entities.error  # type: ignore[operator]
    assert "dateline reprocess --stage entities --failed-only" in entities.error  # type: ignore[operator]
    (failure,) = Registry(client).failures()
    assert failure.path == document.source_path and failure.stage == "entities"
    assert progress.get([document.id])[document.id].hop == "indexing"

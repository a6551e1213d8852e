"""The contract with kombu's private Redis layout (shared/broker_layout.py): a real stage
task sent through Celery into a real Redis is read back through the adapter, waiting in its
queue and then delivered but unacknowledged. When kombu keeps messages differently, this
test fails first, with BrokerLayoutChanged saying so and what to update."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import kombu
import pytest
import redis

from shared.broker_layout import (
    KOMBU_WRITTEN_AGAINST,
    UNACKED_KEY,
    delivered_tasks,
    oldest_waiting,
    queue_key,
    read_envelope,
    read_unacked_entry,
    tasks_near_ends,
    waiting,
)
from shared.celery_app import make_app
from shared.pipeline import send_stage_task
from shared.schemas import ArticleDocument, StageTask, document_id
from shared.settings import Settings

# A database of its own on the session's Redis: this test empties it and nothing else
# (another test's tasks in the same queues would change what the ends hold).
CONTRACT_DB = 9


@pytest.fixture
def broker_url(redis_url: str) -> Iterator[str]:
    url = redis_url.rsplit("/", 1)[0] + f"/{CONTRACT_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


def _task() -> StageTask:
    path = f"contract/{uuid.uuid4().hex}.txt"
    document = ArticleDocument(
        id=document_id(path),
        source_path=path,
        format="text",
        title="Contract",
        body="The harbour reopened on Monday.",
        content_sha256=uuid.uuid4().hex,
    )
    return StageTask(document=document, stages=["language", "summary", "entities"])


def test_a_real_task_reads_back_through_the_adapter(broker_url: str) -> None:
    assert kombu.__version__.startswith(f"{KOMBU_WRITTEN_AGAINST}."), (
        f"kombu {kombu.__version__} is installed; shared/broker_layout.py was written against "
        f"{KOMBU_WRITTEN_AGAINST}: check its layout notes against this kombu, then update KOMBU_WRITTEN_AGAINST "
        "and the cap in pyproject.toml"
    )
    client = redis.Redis.from_url(broker_url)
    app = make_app(Settings(redis_url=broker_url))
    sent = _task()
    assert send_stage_task(app, sent)

    # Waiting: the raw message read strictly first, so a changed layout says so.
    (raw,) = client.lrange(queue_key("language"), 0, -1)
    assert read_envelope(raw).document.id == sent.document.id
    assert waiting(client, "language") == 1
    oldest = oldest_waiting(client, "language")
    assert oldest is not None and oldest.ticket == sent.ticket is not None
    (near,) = tasks_near_ends(client, "language", 5)
    assert (near.document.id, near.stages, near.ticket) == (sent.document.id, sent.stages, sent.ticket)

    # Delivered, not acknowledged: the way a worker takes it (acks_late), through kombu itself.
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        message = channel.basic_get(queue_key("language"), no_ack=False)
        assert message is not None
        assert waiting(client, "language") == 0 and oldest_waiting(client, "language") is None
        (entry,) = client.hvals(UNACKED_KEY)
        assert read_unacked_entry(entry).document.id == sent.document.id
        (held,) = delivered_tasks(client)
        assert (held.document.id, held.ticket) == (sent.document.id, sent.ticket)

        message.ack()
        assert delivered_tasks(client) == [] and client.hlen(UNACKED_KEY) == 0

"""The reconciler's judgement of an article in flight: waiting, or lost (and why)."""

from __future__ import annotations

from datetime import timedelta

from services.ingest.inflight import Snapshot, judge
from shared.broker_layout import Oldest
from shared.progress import Progress
from shared.schemas import utcnow

STUCK = 120.0


def snapshot(**overrides) -> Snapshot:
    values = dict(
        now=utcnow(),
        stuck_after=STUCK,
        oldest={"language": None, "summary": None, "entities": None},
        delivered=set(),
        live_workers={"h:1"},
        busy=set(),
    )
    return Snapshot(**(values | overrides))


def record(hop: str, age: float = STUCK + 1, **fields) -> Progress:
    return Progress(
        doc_id="d", path="a.txt", revision=2, hop=hop, since=utcnow() - timedelta(seconds=age), **fields
    )


def test_an_article_that_moved_lately_waits():
    assert judge(record("queued", age=5, stage="entities", ticket=7), snapshot()).action == "wait"


def test_a_task_still_in_its_fifo_queue_waits_however_long():
    queued = record("queued", stage="entities", ticket=7)
    # The oldest task waiting in the queue came before it: it is behind that one.
    assert judge(queued, snapshot(oldest={"entities": Oldest(ticket=5)})).action == "wait"
    assert judge(queued, snapshot(oldest={"entities": Oldest(ticket=7)})).action == "wait"
    # A message without a ticket at the tail: cannot tell, so it waits.
    assert judge(queued, snapshot(oldest={"entities": Oldest(ticket=None)})).action == "wait"


def test_a_task_older_than_everything_in_its_queue_is_lost():
    queued = record("queued", stage="entities", ticket=7)
    for oldest in (None, Oldest(ticket=9)):
        verdict = judge(queued, snapshot(oldest={"entities": oldest}))
        assert verdict.action == "requeue" and verdict.reason == "lost in a queue"
        assert "queued for entities" in verdict.why


def test_a_task_a_worker_took_and_not_acknowledged_waits():
    # kombu puts it back on its queue after the visibility timeout if that worker is gone.
    for hop in ("queued", "processing"):
        verdict = judge(record(hop, stage="entities", ticket=1, worker="h:9"), snapshot(delivered={("d", 2)}))
        assert verdict.action == "wait"
    assert judge(record("processing", stage="entities", worker="h:9"), snapshot(busy={"d"})).action == "wait"


def test_processing_on_a_gone_or_forgetful_worker_is_lost():
    gone = judge(record("processing", stage="entities", worker="h:9"), snapshot())
    assert gone.action == "requeue" and gone.reason == "worker died" and "h:9" in gone.why
    alive = judge(record("processing", stage="entities", worker="h:1"), snapshot())
    assert alive.action == "requeue" and alive.reason == "lost in a worker"


def test_an_enriched_article_is_looked_for_in_the_stream_and_the_index():
    assert judge(record("indexing", entry="1-0"), snapshot()).action == "check-index"

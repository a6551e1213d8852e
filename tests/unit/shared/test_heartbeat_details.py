"""Heartbeat details are one typed model per service, read back by attribute; one rule says
whether a worker's stage is starting, loaded or missing its model."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from shared.heartbeat import (
    CurrentTask,
    Heartbeat,
    IndexerDetails,
    IngestDetails,
    ReconcilerDetails,
    ServiceDetails,
    StageState,
    WorkerDetails,
)

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _round_trip(service: str, details: ServiceDetails) -> Heartbeat:
    beat = Heartbeat(service=service, host="h", pid=1, started_at=NOW, interval=5, details=details)  # type: ignore[arg-type]
    return Heartbeat.model_validate_json(beat.model_dump_json())


@pytest.mark.parametrize(
    ("service", "details"),
    [
        (
            "worker",
            WorkerDetails(
                node="n1",
                queues=["entities"],
                tasks_done=3,
                stages={"entities": StageState(model="m.pt", loaded=True, form="int8")},
                current=CurrentTask(doc_id="d", path="a.txt", stage="entities", revision=2, since=NOW),
            ),
        ),
        ("ingest", IngestDetails(inbox="/in", pending=1, queued=2, failed=3, last_rescan=NOW)),
        (
            "indexer",
            IndexerDetails(consumer="c", alias="articles", indexed=9, unreachable={"Elasticsearch": NOW}),
        ),
        ("reconciler", ReconcilerDetails(passes=4, standby=True, index="articles")),
    ],
)
def test_each_service_reads_back_its_own_details(service: str, details: ServiceDetails) -> None:
    read = _round_trip(service, details)
    assert type(read.details) is type(details) and read.details == details


def test_worker_details_of_another_service_are_empty_not_an_error() -> None:
    assert _round_trip("ingest", IngestDetails(inbox="/in")).worker_details == WorkerDetails()


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(ValidationError):
        Heartbeat(service="mystery", host="h", pid=1, started_at=NOW, interval=5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("process", "stage", "readiness"),
    [
        ("starting", StageState(error="gone"), "starting"),
        ("running", StageState(loaded=False, error="FileNotFoundError: m.pt"), "model missing"),
        ("running", StageState(loaded=True), "loaded"),
        ("running", StageState(loaded=False), "not loaded yet"),
    ],
)
def test_one_rule_for_a_stage_s_readiness(process, stage: StageState, readiness: str) -> None:
    assert stage.readiness(process) == readiness

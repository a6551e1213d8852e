"""The one computed state (ok / degraded / down) and its reasons, shared by `dateline status`,
/health and the pipeline page; which services and stages are expected comes from one place."""

from __future__ import annotations

from datetime import datetime, timezone

from services.stack.topology import DATELINE_SERVICES, PROGRAMS
from shared.crashes import WorkerDeath, crash_loops
from shared.expected import SERVICES, expected_parts, stages_served
from shared.heartbeat import Heartbeat
from shared.schemas import STAGES
from shared.status import IndexInfo, Status, unreachable

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def beat(
    service: str,
    pid: int,
    *,
    state: str = "running",
    queues: list[str] | None = None,
    error: str | None = None,
) -> Heartbeat:
    details: dict = {}
    if queues is not None:
        details = {
            "queues": queues,
            "stages": {
                q: {
                    "model": f"{q}-model",
                    "loaded": error is None and state == "running",
                    "error": error if q == "entities" else None,
                }
                for q in queues
            },
        }
    return Heartbeat(
        service=service, host="h1", pid=pid, started_at=NOW, state=state, interval=10, details=details
    )


EVERYTHING = [
    beat("ingest", 1),
    beat("reconciler", 1),
    beat("indexer", 2),
    beat("api", 3),
    beat("worker", 4, queues=["entities"]),
    beat("worker", 5, queues=["language", "summary"]),
]


def status(heartbeats: list[Heartbeat], index: IndexInfo | None = None, **fields) -> Status:
    return Status(
        files={},
        queues=[],
        processing=[],
        heartbeats=heartbeats,
        failures=[],
        dead_letters=0,
        parts=expected_parts(heartbeats),
        index=index,
        at=NOW,
        **fields,
    )


def test_everything_running_is_ok():
    assert status(EVERYTHING).state == "ok"
    assert status(EVERYTHING).reasons == []


def test_a_missing_service_or_stage_is_degraded_with_the_reason_and_what_to_do():
    without_ner = [b for b in EVERYTHING if b.pid != 4]
    found = status(without_ner)
    assert found.state == "degraded"
    (reason,) = found.reasons
    assert (
        "No worker serves the entities stage" in reason
        and "dateline serve worker --queues entities" in reason
    )

    without_ingest = status([b for b in EVERYTHING if b.service != "ingest"])
    assert without_ingest.state == "degraded"
    assert any("No ingest process" in r and "inbox are not read" in r for r in without_ingest.reasons)


def test_starting_workers_are_starting_not_missing():
    starting = [b for b in EVERYTHING if b.pid != 4] + [
        beat("worker", 6, state="starting", queues=["entities"])
    ]
    found = status(starting)
    parts = {p.name: p for p in found.parts}
    assert parts["entities"].presence == "starting" and parts["entities"].processes == ["h1:6"]
    assert found.state == "degraded"
    assert any("entities stage's workers are still starting" in r for r in found.reasons)
    assert not any("No worker" in r for r in found.reasons)


def test_a_stage_without_its_model_is_degraded():
    broken = [b for b in EVERYTHING if b.pid != 4] + [
        beat("worker", 7, queues=["entities"], error="no such model")
    ]
    found = status(broken)
    assert found.state == "degraded"
    assert any("entities stage on h1:7 runs without its model (no such model)" in r for r in found.reasons)


def test_elasticsearch_away_is_degraded_and_redis_away_is_down():
    away = IndexInfo(reachable=False, url="http://127.0.0.1:1", alias="articles", detail="ConnectionError")
    found = status(EVERYTHING, away)
    assert found.state == "degraded"
    assert "Elasticsearch at http://127.0.0.1:1 does not answer" in found.reasons[0]
    down = unreachable("redis://127.0.0.1:1/0", ConnectionError("refused"))
    assert down.state == "down" and "Redis at redis://127.0.0.1:1/0 does not answer" in down.reasons[0]


def test_the_local_stack_runs_exactly_the_expected_services_and_serves_every_stage():
    assert DATELINE_SERVICES == SERVICES
    assert {p.service for p in PROGRAMS} == set(SERVICES)
    served = set()
    for program in PROGRAMS:
        if program.service == "worker":
            args = program.serve_args
            # No --queues: every stage (dateline serve worker's default).
            queues = args[args.index("--queues") + 1].split(",") if "--queues" in args else list(STAGES)
            served |= set(stages_served(beat("worker", 1, queues=queues)))
    assert served == set(STAGES)


def test_a_missing_reconciler_or_a_crash_loop_is_degraded_with_the_reason():
    without = status([b for b in EVERYTHING if b.service != "reconciler"])
    assert without.state == "degraded"
    (reason,) = without.reasons
    assert (
        "No reconciler process" in reason and "not queued again" in reason and "runs inside ingest" in reason
    )

    deaths = [
        WorkerDeath(host="h1", node="ner@h1", parent_pid=4, pid=100 + n, exitcode=-9, phase="starting")
        for n in range(3)
    ]
    looping = status(EVERYTHING, crash_loops=crash_loops(deaths), recent_deaths=deaths)
    assert looping.state == "degraded"
    (reason,) = looping.reasons
    assert "ner@h1 on h1 is in a crash loop: 3 pool processes died" in reason
    assert "killed by SIGKILL while loading its models" in reason

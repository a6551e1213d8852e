"""`dateline status`'s delivery section: the reconciler, deaths and crash loops, in words."""

from __future__ import annotations

import signal

from rich.console import Console

from services.cli.status import print_delivery
from shared.crashes import WorkerDeath, crash_loops
from shared.reconciliation import Action, AuditReport, ReconcilerReport, Reconciliation
from shared.schemas import utcnow
from shared.status import Status


def status(**fields) -> Status:
    return Status(
        files={}, queues=[], processing=[], heartbeats=[], failures=[], dead_letters=0, at=utcnow(), **fields
    )


def printed(value: Status) -> str:
    console = Console(record=True, width=200)
    print_delivery(console, value)
    return console.export_text()


def test_what_the_reconciler_did_is_shown():
    reconciliation = Reconciliation(
        last_pass=ReconcilerReport(
            host="vm",
            pid=7,
            seconds=0.2,
            in_flight=3,
            examined=12,
            stuck=1,
            audit=AuditReport(
                alias="articles",
                indices=["articles-v1"],
                expected=40,
                found=38,
                checked_ids=True,
                missing=2,
                requeued_files=2,
            ),
        ),
        totals={"worker died": 2, "missing from the index": 2},
        recent=[
            Action(
                path="a.txt",
                reason="worker died",
                detail="entities started by vm:9, which is gone",
                outcome="queued again (1 article(s), 1. time)",
            )
        ],
    )
    text = printed(status(in_flight=3, reconciliation=reconciliation))
    assert "in flight 3 article(s)" in text
    assert "on vm" in text and "12 looked at, 1 stuck" in text
    assert "40 document(s) expected, 38 found, 2 missing, 2 file(s) queued again" in text
    assert "missing from the index 2, worker died 2" in text
    assert "a.txt: worker died (entities started by vm:9, which is gone) -> queued again" in text


def test_a_crash_loop_is_shown_with_its_cause():
    deaths = [
        WorkerDeath(
            host="vm", node="ner@vm", parent_pid=5, pid=100 + i, exitcode=-signal.SIGKILL, phase="starting"
        )
        for i in range(3)
    ]
    text = printed(status(crash_loops=crash_loops(deaths), recent_deaths=deaths))
    assert "crash loop ner@vm: 3 pool process deaths" in text
    assert "killed by SIGKILL while loading its models" in text
    assert "no pass yet" in printed(status())

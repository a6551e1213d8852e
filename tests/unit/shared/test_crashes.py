"""Pool process deaths in words, and crash loops: enough deaths of one worker, lately."""

from __future__ import annotations

import signal
from datetime import timedelta

from shared.crashes import CRASH_LOOP_DEATHS, CRASH_LOOP_WINDOW_SECONDS, WorkerDeath, crash_loops
from shared.schemas import utcnow


def death(minutes_ago: float = 0, parent_pid: int = 10, **fields) -> WorkerDeath:
    values = dict(
        host="h",
        node="ner@h",
        parent_pid=parent_pid,
        pid=100,
        exitcode=-signal.SIGKILL,
        at=utcnow() - timedelta(minutes=minutes_ago),
    )
    return WorkerDeath(**(values | fields))


def test_a_death_says_how_doing_what_and_the_likely_cause():
    loading = death(phase="starting")
    assert loading.cause.startswith("pool process 100 killed by SIGKILL while loading its models")
    assert "out-of-memory" in loading.cause and "DATELINE_WORKER_PROC_ALIVE_TIMEOUT" in loading.cause
    busy = death(phase="running", doing="entities on a.txt")
    assert "while running entities on a.txt" in busy.cause
    assert "hard time limit" in death(controlled=True, doing="entities on a.txt").cause
    assert death(exitcode=1).cause == "pool process 100 exited with status 1 while idle"


def test_deaths_of_one_worker_within_the_window_are_a_crash_loop():
    recent = [death(minutes_ago=m, pid=100 + m) for m in range(CRASH_LOOP_DEATHS)]
    (loop,) = crash_loops(recent)
    assert loop.node == "ner@h" and loop.deaths == CRASH_LOOP_DEATHS
    assert loop.last_cause == recent[0].cause  # the newest death


def test_a_few_deaths_spread_out_or_over_workers_are_not():
    old = CRASH_LOOP_WINDOW_SECONDS / 60 + 1
    assert crash_loops([death(), death(), death(minutes_ago=old)]) == []
    assert crash_loops([death(parent_pid=1), death(parent_pid=2), death(parent_pid=3)]) == []

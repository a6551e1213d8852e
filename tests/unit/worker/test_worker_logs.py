"""A worker's log says each thing once: the filters on Celery's and flair's loggers, and the
guard against soft time limit signals that arrive late."""

from __future__ import annotations

import logging
import time

import pytest
from celery.exceptions import Reject, SoftTimeLimitExceeded

from services.worker.logs import _OneRetryLinePerOutage, _RejectWithoutTraceback, _TagListAtDebug
from services.worker.process import WorkerProcess
from shared.settings import Settings


def record(message: str, level: int = logging.ERROR, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("celery", level, __file__, 1, message, (), exc_info)


def test_a_rejected_task_is_one_line_without_its_traceback():
    line = record(
        "Task x reject requeue=True: out of time while Redis was unreachable",
        exc=Reject("out of time", requeue=True),
    )
    assert _RejectWithoutTraceback().filter(line) and line.exc_info is None
    other = record("Task x raised", exc=ValueError("a bug"))
    assert _RejectWithoutTraceback().filter(other) and other.exc_info is not None  # bugs keep theirs


def test_one_reconnect_line_per_outage():
    retries = _OneRetryLinePerOutage()
    cannot = "consumer: Cannot connect to %s: %s.\nTrying again in 2.00 seconds..."
    kept = [retries.filter(record(cannot)) for _ in range(4)]
    assert kept == [True, False, False, False]
    assert retries.filter(record("Connected to %s", logging.INFO))
    assert retries.filter(record(cannot))  # the next outage says so again


def test_flairs_tag_list_is_a_debug_line():
    tags = record("SequenceTagger predicts: Dictionary with 17 tags: O, S-PER", logging.INFO)
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.INFO)
        assert not _TagListAtDebug().filter(tags) and tags.levelname == "DEBUG"
        root.setLevel(logging.DEBUG)
        assert _TagListAtDebug().filter(record("SequenceTagger predicts: x", logging.INFO))
    finally:
        root.setLevel(level)
    assert _TagListAtDebug().filter(record("NER model loaded", logging.INFO))


def test_a_late_soft_limit_signal_is_ignored_and_a_due_one_raises():
    process = WorkerProcess(
        ["language"],
        settings=Settings(
            _env_file=None, task_soft_time_limit=20, task_visibility_timeout=40, reconcile_stuck_seconds=40
        ),
    )
    process._on_soft_limit(0, None)  # idle: the signal of a task that already ended
    process._task_started = time.monotonic() - 2
    process._on_soft_limit(0, None)  # a young task: another task's late signal
    process._task_started = time.monotonic() - 20
    with pytest.raises(SoftTimeLimitExceeded):
        process._on_soft_limit(0, None)

"""The service skeleton without services: back-off, the error guard, outage logging, and a
loop that runs setup, steps and teardown. Redis is pointed at a closed port, so the
heartbeat fails to write, as it does during a real outage, and the loop carries on."""

from __future__ import annotations

import logging
import threading
from typing import ClassVar

import pytest
import redis

from shared.heartbeat import ServiceName
from shared.retry import Backoff
from shared.service import OutageLog, ServiceLoop, dependency_of
from shared.settings import Settings

CLOSED = "redis://127.0.0.1:1/0"


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(start=1.0, cap=30.0)
    assert [backoff.next() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_dependency_of_names_the_service_that_is_away() -> None:
    from elastic_transport import ConnectionError as EsConnectionError

    assert dependency_of(redis.ConnectionError("refused")) == "Redis"
    assert dependency_of(EsConnectionError("refused")) == "Elasticsearch"
    assert dependency_of(ValueError("a bug")) is None


def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.outage")
    outages = OutageLog(log, where=lambda name: f"{name}-url")
    with caplog.at_level(logging.INFO, logger="test.outage"):
        for _ in range(5):
            outages.down("Redis", redis.ConnectionError("refused"))
        assert set(outages.outages) == {"Redis"}
        outages.up()
        outages.up()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "Redis at Redis-url is unreachable since" in lines[0] and "refused" in lines[0]
    assert "Redis is reachable again" in lines[1]


class Counting(ServiceLoop):
    service: ClassVar[ServiceName] = "indexer"  # any real service: the loop is under test

    def __init__(self, failures: list[BaseException], setup_failures: int = 0) -> None:
        super().__init__(Settings(redis_url=CLOSED, heartbeat_seconds=0.05))
        self.failures = failures
        self.setup_failures = setup_failures
        self.steps = 0
        self.tore_down = False

    def setup(self) -> None:
        if self.setup_failures:
            self.setup_failures -= 1
            raise redis.ConnectionError("not yet")

    def step(self) -> None:
        self.steps += 1
        if self.failures:
            raise self.failures.pop(0)
        self.request_stop()

    def teardown(self) -> None:
        self.tore_down = True


def test_the_guard_keeps_the_service_alive_whatever_a_step_raises(caplog: pytest.LogCaptureFixture) -> None:
    loop = Counting([])
    with caplog.at_level(logging.INFO):
        assert loop.guard(lambda: (_ for _ in ()).throw(ValueError("a bug"))) is False
        assert loop.guard(lambda: (_ for _ in ()).throw(redis.ConnectionError("away"))) is False
        assert loop.guard(lambda: (_ for _ in ()).throw(redis.ConnectionError("away"))) is False
        assert loop.guard(lambda: None) is True
    assert loop.steps_failed == 3
    messages = [r.getMessage() for r in caplog.records if r.name == "dateline.indexer"]
    assert sum("step failed" in m for m in messages) == 1  # a bug: logged with its traceback
    assert sum("unreachable since" in m for m in messages) == 1  # an outage: one line, not two
    assert sum("reachable again" in m for m in messages) == 1


def test_run_retries_setup_then_steps_until_stopped_and_tears_down() -> None:
    loop = Counting([], setup_failures=1)
    thread = threading.Thread(target=loop.run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert loop.steps == 1 and loop.tore_down and loop.setup_failures == 0


def test_a_failing_step_is_retried_after_a_back_off() -> None:
    loop = Counting([RuntimeError("once")])
    thread = threading.Thread(target=loop.run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert loop.steps == 2 and loop.steps_failed == 1

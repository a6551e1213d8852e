"""The one wait-and-retry primitive (shared/retry.py): what it retries, waits, and gives up on."""

from __future__ import annotations

import threading

import pytest

from shared.retry import Backoff, GaveUp, retry_call, retry_until


class Flaky:
    """Fails with ``error`` ``times`` times, then returns ``"done"``."""

    def __init__(self, times: int, error: Exception) -> None:
        self.times, self.error, self.calls = times, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return "done"


def test_accepted_failures_are_retried_after_a_growing_capped_wait() -> None:
    waits: list[float] = []
    seen: list[str] = []
    before: list[int] = []
    call = Flaky(4, ConnectionError("away"))
    result = retry_call(
        call,
        retry_if=lambda e: isinstance(e, ConnectionError),
        backoff=Backoff(start=1, cap=4),
        wait=lambda s: waits.append(s) is not None,
        on_failure=lambda e: seen.append(str(e)),
        before_retry=lambda: before.append(call.calls),
    )
    assert result == "done" and call.calls == 5
    assert waits == [1, 2, 4, 4] and seen == ["away"] * 4 and before == [1, 2, 3, 4]


def test_other_failures_propagate_at_once() -> None:
    call = Flaky(1, ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        retry_call(call, retry_if=lambda e: isinstance(e, ConnectionError), wait=lambda _: False)
    assert call.calls == 1


def test_it_gives_up_after_the_attempts_or_when_the_wait_is_interrupted() -> None:
    call = Flaky(10, ConnectionError("away"))
    with pytest.raises(GaveUp) as caught:
        retry_call(call, retry_if=lambda _: True, wait=lambda _: False, max_attempts=3)
    assert call.calls == 3 and isinstance(caught.value.last, ConnectionError)

    stop = threading.Event()
    stop.set()  # a stopping service: the first wait returns at once, True
    stopped = Flaky(10, ConnectionError("away"))
    with pytest.raises(GaveUp):
        retry_call(stopped, retry_if=lambda _: True, wait=stop.wait)
    assert stopped.calls == 1


def test_retry_until_stops_when_done_or_told_to() -> None:
    results = iter([False, False, True])
    assert retry_until(lambda: next(results), stopping=lambda: False, wait=lambda _: False)
    assert not retry_until(lambda: False, stopping=lambda: False, wait=lambda _: True)

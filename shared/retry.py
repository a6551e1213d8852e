"""The one wait-and-retry primitive: call again after a capped exponential back-off while
the failure is one worth waiting out (an unreachable Redis or Elasticsearch), until it
works, the attempts are used up, or the wait is interrupted (a service told to stop).

Our own rather than tenacity: each caller's wait is its stop event (a stopping service ends
the wait at once) and each failure is reported through the caller's ``OutageLog`` (one log
line per outage); both are a few lines here and would be adapters around tenacity.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

BACKOFF_START_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0


def backoff_seconds(
    failures: int, cap: float = BACKOFF_MAX_SECONDS, start: float = BACKOFF_START_SECONDS
) -> float:
    """The wait after the ``failures``-th failure in a row: start, 2 x start, 4 x start ... at
    most ``cap``. Stateless, for retries whose count is kept elsewhere (an alert's delivery
    record counts its attempts)."""
    return float(min(cap, start * 2 ** max(0, failures - 1)))


class Backoff:
    """Capped exponential back-off: 1, 2, 4 ... 30 s; ``reset()`` after a success."""

    def __init__(self, start: float = BACKOFF_START_SECONDS, cap: float = BACKOFF_MAX_SECONDS):
        self.start, self.cap = start, cap
        self._failures = 0

    def next(self) -> float:
        self._failures += 1
        return backoff_seconds(self._failures, self.cap, self.start)

    def reset(self) -> None:
        self._failures = 0


class GaveUp(Exception):
    """The attempts ran out, or the wait was interrupted; ``last`` is the last failure."""

    def __init__(self, last: BaseException) -> None:
        super().__init__(f"gave up after {type(last).__name__}: {last}")
        self.last = last


def sleep(seconds: float) -> bool:
    """A wait nothing interrupts (False: not stopped)."""
    time.sleep(seconds)
    return False


def retry_call(
    call: Callable[[], T],
    *,
    retry_if: Callable[[BaseException], bool],
    backoff: Backoff | None = None,
    wait: Callable[[float], bool] = sleep,
    on_failure: Callable[[Exception], object] = lambda _: None,
    before_retry: Callable[[], object] = lambda: None,
    max_attempts: int | None = None,
) -> T:
    """``call()``, again after each failure ``retry_if`` accepts (others propagate at once).

    ``on_failure`` sees each accepted failure; ``wait(seconds)`` returns True when the caller
    was stopped meanwhile (a ``threading.Event``'s ``wait`` does); ``before_retry`` runs before
    each further attempt. Raises ``GaveUp`` when stopped or after ``max_attempts``."""
    backoff = backoff or Backoff()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - filtered by retry_if, the rest re-raised
            if not retry_if(exc):
                raise
            on_failure(exc)
            if (max_attempts is not None and attempt >= max_attempts) or wait(backoff.next()):
                raise GaveUp(exc) from exc
            before_retry()


def retry_until(
    done: Callable[[], bool],
    *,
    stopping: Callable[[], bool],
    wait: Callable[[float], bool],
    backoff: Backoff | None = None,
) -> bool:
    """Call ``done()`` until it returns True, waiting between tries; False when stopped first."""
    backoff = backoff or Backoff()
    while not stopping():
        if done():
            return True
        if wait(backoff.next()):
            return False
    return False

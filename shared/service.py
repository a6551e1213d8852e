"""The skeleton every long-running Dateline service shares: ``ServiceLoop``.

A service (ingest, indexer, reconciler) implements ``step()``: one short unit of work that
returns when done or when there is nothing to do. The loop owns everything else, once:

- SIGTERM and SIGINT end the loop after the current step;
- the heartbeat (``starting`` during ``setup()``, ``running`` afterwards), deleted on stop;
- the error guard: no exception from a step stops the service;
- capped exponential back-off while steps fail, reset by the first step that succeeds;
- one log line when a backing service (Redis, Elasticsearch) goes away and one when it is
  back, instead of a traceback per step (see :class:`OutageLog`).

In the shape of servicelayer's ``Worker`` (alephdata), which inspired it.
"""

from __future__ import annotations

import logging
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

import redis

from shared.heartbeat import HeartbeatWriter, ServiceDetails, ServiceName, StepsFailing
from shared.redis_client import connect, display_url
from shared.retry import Backoff, retry_until
from shared.schemas import utcnow
from shared.settings import Settings

log = logging.getLogger(__name__)

# Steps that fail in a row (for a reason other than an unreachable dependency) before the
# heartbeat says so and status turns degraded: one odd failure is logged, a stuck loop is shown.
FAILING_AFTER_STEPS = 3


def dependency_of(exc: BaseException) -> str | None:
    """Which backing service an exception says is unreachable ("Redis", "Elasticsearch")."""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return "Redis"
    try:
        from elastic_transport import ConnectionError as EsConnectionError
        from elastic_transport import ConnectionTimeout
    except ImportError:  # pragma: no cover - the client is a dependency
        return None
    if isinstance(exc, (EsConnectionError, ConnectionTimeout)):
        return "Elasticsearch"
    try:
        from kombu.exceptions import OperationalError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, OperationalError):
        return "Redis"
    return None


class OutageLog:
    """One line when a dependency goes away, one when it is back: never a line per retry."""

    def __init__(self, logger: logging.Logger, where: Callable[[str], str] = lambda name: name):
        self._log = logger
        self._where = where
        self._since: dict[str, datetime] = {}

    def down(self, dependency: str, exc: BaseException) -> None:
        if dependency in self._since:
            return
        self._since[dependency] = utcnow()
        self._log.error(
            "%s at %s is unreachable since %s (%s: %s); retrying with back-off",
            dependency,
            self._where(dependency),
            f"{self._since[dependency]:%H:%M:%S}",
            type(exc).__name__,
            str(exc)[:200],
        )

    def up(self) -> None:
        """Everything worked: report each dependency that had been away."""
        for dependency, since in list(self._since.items()):
            seconds = (utcnow() - since).total_seconds()
            self._log.warning("%s is reachable again after %.0f s", dependency, seconds)
            del self._since[dependency]

    @property
    def outages(self) -> dict[str, datetime]:
        return dict(self._since)


class ServiceLoop(ABC):
    """Subclasses set ``service`` and implement ``step()``; optionally ``setup()``,
    ``details()`` (heartbeat payload) and ``teardown()``."""

    service: ClassVar[ServiceName]

    def __init__(
        self,
        settings: Settings,
        *,
        stop: threading.Event | None = None,
        connect_redis: Callable[[], redis.Redis] | None = None,
    ):
        self.settings = settings
        self.stop_event = stop or threading.Event()
        self._redis: redis.Redis | None = None
        self._connect_redis = connect_redis or (lambda: connect(settings.redis_url))
        self.log = logging.getLogger(f"dateline.{self.service}")
        self.outages = OutageLog(self.log, self._dependency_url)
        self.heartbeat = HeartbeatWriter(
            lambda: self.redis, self.service, settings.heartbeat_seconds, self._details, state="starting"
        )
        self.steps_failed = 0
        self._failing: StepsFailing | None = None  # the current run of failed steps

    # --- what a service provides ---------------------------------------------------------
    def setup(self) -> None:
        """Runs before the first step and again (with back-off) until it succeeds."""
        return None

    @abstractmethod
    def step(self) -> None:
        """One unit of work; return soon when there is nothing to do (block at most ~1 s)."""

    def details(self) -> ServiceDetails:
        """Service-specific fields of the heartbeat: the service's own details model."""
        return ServiceDetails()

    def teardown(self) -> None:
        """Runs once after the loop ends (on stop), before the heartbeat is deleted."""
        return None

    # --- the loop ------------------------------------------------------------------------
    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = self._connect_redis()
        return self._redis

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def request_stop(self, *_: object) -> None:
        if not self.stop_event.is_set():
            self.log.info("stopping %s", self.service)
        self.stop_event.set()

    def run(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        self.heartbeat.start()
        try:
            self._until_done(self.setup)
            if self.stopping:
                return
            self.heartbeat.set_state("running")
            backoff = Backoff()
            while not self.stopping:
                if self.guard(self.step):
                    backoff.reset()
                else:
                    self.stop_event.wait(backoff.next())
        finally:
            self.guard(self.teardown)
            self.heartbeat.stop()
            self.log.info("%s stopped", self.service)

    def guard(self, step: Callable[[], object]) -> bool:
        """Run ``step``; True when it returned. Nothing it raises stops the service."""
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - the service must outlive any one failure
            self.steps_failed += 1
            dependency = dependency_of(exc)
            if dependency is not None:
                self.outages.down(dependency, exc)
            else:
                self.log.exception("%s step failed; continuing", self.service)
                self._step_failed(exc)
            return False
        self.outages.up()
        if self._failing is not None:
            self.log.warning(
                "%s steps work again after %d failed in a row", self.service, self._failing.steps
            )
            self._failing = None
            self.heartbeat.set_failing(None)
        return True

    def _step_failed(self, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
        if self._failing is None:
            self._failing = StepsFailing(since=utcnow(), steps=1, error=error)
        else:
            self._failing = self._failing.model_copy(
                update={"steps": self._failing.steps + 1, "error": error}
            )
        if self._failing.steps >= FAILING_AFTER_STEPS:
            self.heartbeat.set_failing(self._failing)

    def _until_done(self, step: Callable[[], object]) -> None:
        retry_until(lambda: self.guard(step), stopping=lambda: self.stopping, wait=self.stop_event.wait)

    def _details(self) -> ServiceDetails:
        details = self.details()
        details.unreachable = self.outages.outages
        return details

    def _dependency_url(self, dependency: str) -> str:
        return {
            "Redis": display_url(self.settings.redis_url),
            "Elasticsearch": self.settings.elasticsearch_url,
        }.get(dependency, dependency)

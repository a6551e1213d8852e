"""What a working Dateline has running: the one definition that `dateline status`, the API's
/health, the pipeline page and the local stack (``services/stack/topology.py``) share.

Processes may run on one machine (``make up``) or be spread over containers and hosts, so
the rule is about the whole system, never about this host: at least one live heartbeat of
each service, and for each enrichment stage at least one worker process serving its queue.
A heartbeat in state ``starting`` counts as present but not yet serving (models loading).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from pydantic import BaseModel

from shared.heartbeat import Heartbeat, ServiceName
from shared.schemas import STAGES, StageName

# Every Dateline service; a process writes its heartbeat as dateline:service:{service}:...
SERVICES: tuple[ServiceName, ...] = ("ingest", "worker", "indexer", "api", "delivery")
WORKER_SERVICE: Final = "worker"
# Services that must have a live process of their own; workers are counted per stage.
SINGLE_SERVICES = tuple(s for s in SERVICES if s != WORKER_SERVICE)
# Duties a service runs in a thread with a heartbeat of their own: duty -> the service that runs
# it. They are not programs of their own (the stack starts the service), but status shows them.
DUTIES = {"reconciler": "ingest"}

# How to start a missing part, in the words of both ways of running Dateline.
START_HINT = {
    "ingest": "start it with `make up` or `dateline serve ingest`",
    "indexer": "start it with `make up` or `dateline serve indexer`",
    "api": "start it with `make up` or `dateline serve api`",
    "delivery": "start it with `make up` or `dateline serve delivery`",
    "reconciler": "it runs inside ingest: start ingest with `make up` or `dateline serve ingest`",
}

Presence = Literal["running", "starting", "missing"]


class Part(BaseModel):
    """One expected part (a service, or a stage's workers) and what serves it."""

    name: str
    kind: Literal["service", "stage"]
    presence: Presence
    processes: list[str] = []  # "host:pid" of the processes that serve it

    @property
    def hint(self) -> str:
        if self.kind == "stage":
            return f"start a worker for it with `make up` or `dateline serve worker --queues {self.name}`"
        return START_HINT.get(self.name, f"start it with `dateline serve {self.name}`")


def stages_served(beat: Heartbeat) -> list[StageName]:
    """The enrichment stages a worker process serves (from its heartbeat)."""
    served = beat.worker_details.queues
    return [stage for stage in STAGES if stage in served]


def _presence(beats: Iterable[Heartbeat]) -> tuple[Presence, list[str]]:
    found = list(beats)
    if any(beat.state == "running" for beat in found):
        presence: Presence = "running"
    elif found:
        presence = "starting"
    else:
        presence = "missing"
    return presence, [f"{beat.host}:{beat.pid}" for beat in found]


def expected_parts(heartbeats: Iterable[Heartbeat]) -> list[Part]:
    """Each expected service and stage, with whether a live process serves it."""
    beats = list(heartbeats)
    parts = []
    for service in (*SINGLE_SERVICES, *DUTIES):
        presence, processes = _presence(b for b in beats if b.service == service)
        parts.append(Part(name=service, kind="service", presence=presence, processes=processes))
    workers = [b for b in beats if b.service == WORKER_SERVICE]
    for stage in STAGES:
        presence, processes = _presence(b for b in workers if stage in stages_served(b))
        parts.append(Part(name=stage, kind="stage", presence=presence, processes=processes))
    return parts

"""The health checks of ``topology.Health``, run against the settings; each answers
``(ok, detail)`` within a few seconds and never raises."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import redis
from elasticsearch import ApiError, TransportError

from services.stack.topology import Health
from shared.heartbeat import Heartbeat, read_heartbeats
from shared.search.client import describe_failure, make_client
from shared.settings import Settings

TIMEOUT = 3.0


def check(health: Health, settings: Settings, pid: int | None = None) -> tuple[bool, str]:
    """Whether a program is healthy; ``pid`` (its main process) narrows heartbeats to it."""
    try:
        if health.kind == "redis":
            redis.Redis.from_url(
                settings.redis_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
            ).ping()
            return True, "answers PING"
        if health.kind == "elasticsearch":
            return _elasticsearch(health.target or settings.elasticsearch_url, settings)
        if health.kind == "http":
            return _http(api_url(settings) + health.target)
        return heartbeat(settings, health.target, pid)
    except (OSError, redis.RedisError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


def api_url(settings: Settings) -> str:
    host = settings.api_host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


def _elasticsearch(url: str, settings: Settings) -> tuple[bool, str]:
    """The node at ``url`` answers, with the settings' credentials, and its cluster is
    yellow or green (a node of several is healthy once it has joined a formed cluster)."""
    try:
        found = make_client(url, settings=settings, timeout=TIMEOUT).cluster.health(
            wait_for_status="yellow", timeout="1s"
        )
    except ApiError as exc:  # 408 while the cluster is red or not formed yet
        return False, f"cluster health answered {exc.meta.status}"
    except TransportError as exc:
        return False, f"{url} {describe_failure(exc)}"
    status = found.get("status")
    return status in ("green", "yellow"), f"cluster {status}"


def _http(address: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(address, timeout=TIMEOUT) as response:
            return True, f"{address} answers {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{address} answers {exc.code}: {exc.read(300).decode(errors='replace')}"


def live_heartbeats(client: redis.Redis, service: str, host: str | None = None) -> list[Heartbeat]:
    """The live heartbeats of ``service`` written on ``host`` (default: this machine)."""
    host = host or socket.gethostname()
    return [beat for beat in read_heartbeats(client, service) if beat.host == host]


def heartbeat(settings: Settings, service: str, pid: int | None = None) -> tuple[bool, str]:
    beats = live_heartbeats(
        redis.Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT),
        service,
    )
    if pid is not None:
        family = process_tree(pid)
        beats = [beat for beat in beats if beat.pid in family]
    running = [beat for beat in beats if beat.state == "running"]
    if running:
        return True, f"{len(running)} live heartbeat(s)"
    if beats:
        return False, "starting (loading models)" if service == "worker" else "starting"
    return False, "no live heartbeat yet"


def process_tree(pid: int) -> set[int]:
    """``pid`` and its descendants (Celery's pool processes write the worker heartbeats)."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except (FileNotFoundError, ValueError, ProcessLookupError):
                continue
    return found

"""`dateline health SERVICE` (compose's healthcheck): exit 0 only while a process of that
service on this host has a live heartbeat in state running, against a real Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import redis

from shared.heartbeat import Heartbeat, HeartbeatWriter, write_heartbeat
from tests.support.paths import REPO_DIR


def _health(service: str, redis_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", "health", service],
        cwd=REPO_DIR,
        env={**os.environ, "DATELINE_REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_health_follows_this_hosts_heartbeat(redis_url):
    url = redis_url.rsplit("/", 1)[0] + "/14"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        assert _health("ingest", url).returncode == 1
        assert "no live heartbeat of ingest" in _health("ingest", url).stderr

        writer = HeartbeatWriter(lambda: client, "ingest", 10, state="starting").start()
        try:
            starting = _health("ingest", url)
            assert starting.returncode == 1 and "still starting" in starting.stderr
            writer.set_state("running")
            healthy = _health("ingest", url)
            assert healthy.returncode == 0, healthy.stderr
            assert str(os.getpid()) in healthy.stdout
            assert _health("indexer", url).returncode == 1  # another service is not this one
        finally:
            writer.stop()
        assert _health("ingest", url).returncode == 1  # a clean stop deletes the heartbeat

        # A heartbeat from another host (another container) does not make this one healthy.
        other = Heartbeat(
            service="worker",
            host=socket.gethostname() + "-elsewhere",
            pid=1,
            started_at="2026-01-01T00:00:00Z",
            interval=10,
        )
        write_heartbeat(client, other, 30)
        assert _health("worker", url).returncode == 1
    finally:
        client.flushdb()


def test_health_rejects_an_unknown_service_and_says_when_redis_is_away(redis_url):
    unknown = _health("kibana", redis_url)
    said = " ".join(unknown.stderr.replace("│", " ").split())  # typer draws a box around it
    assert unknown.returncode == 2 and "choose from ingest, worker, indexer, api" in said
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: nothing answers there
        away = _health("worker", f"redis://127.0.0.1:{closed}/0")
    assert away.returncode == 1 and "does not answer" in away.stderr

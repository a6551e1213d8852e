"""Heartbeats are found through their index (a sorted set scored by expiry), not by scanning
the keyspace, against a real Redis: what status and ``/health`` read stays as cheap with a
million registered files as with ten (``make bench-scale``)."""

from __future__ import annotations

import time

import redis

from shared.heartbeat import Heartbeat, HeartbeatWriter, read_heartbeats, write_heartbeat
from shared.keys import HEARTBEAT_INDEX_KEY
from shared.redis_client import as_text


def test_live_heartbeats_come_from_the_index_and_dead_ones_leave_it(redis_url):
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/13")
    client.flushdb()
    try:
        # Many other keys (as a large registry has) do not change what is found.
        client.mset({f"dateline:file:f{i}.txt": "{}" for i in range(2000)})
        writer = HeartbeatWriter(lambda: client, "ingest", 10).start()
        worker = HeartbeatWriter(lambda: client, "worker", 10)
        worker.beat_model.pid = 4242
        worker.start()
        assert [b.service for b in read_heartbeats(client)] == ["ingest", "worker"]
        assert [b.pid for b in read_heartbeats(client, "worker")] == [4242]

        # A process that died without a clean stop: its key expires, and the next beat of any
        # process drops its entry from the index.
        dead = Heartbeat(service="indexer", host="h", pid=1, started_at="2026-01-01T00:00:00Z", interval=1)
        write_heartbeat(client, dead, 1)
        assert "indexer" in {b.service for b in read_heartbeats(client)}
        time.sleep(1.2)
        assert "indexer" not in {b.service for b in read_heartbeats(client)}
        writer.beat()
        assert dead.key not in {as_text(m) for m in client.zrange(HEARTBEAT_INDEX_KEY, 0, -1)}

        # A clean stop removes the key and its entry at once.
        worker.stop()
        writer.stop()
        assert read_heartbeats(client) == [] and client.zcard(HEARTBEAT_INDEX_KEY) == 0
    finally:
        client.flushdb()

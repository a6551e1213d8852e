"""How fast documents come out of the pipeline: a counter per minute, kept in Redis.

The indexer adds what Elasticsearch took to the counter of the current minute (one INCRBY
per batch); status reads the last minutes with one MGET. Nothing scans files or documents,
so a page that refreshes every few seconds costs Redis a handful of keys.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import redis
from pydantic import BaseModel, Field, computed_field

from shared.keys import INDEXED_PER_MINUTE_KEY

# Minutes kept (and shown on the pipeline page); the rate averages over the last RATE_MINUTES.
HISTORY_MINUTES = 30
RATE_MINUTES = 5


def _minute(now: float) -> int:
    return int(now // 60)


def record_indexed(client: redis.Redis, count: int, now: float | None = None) -> None:
    """Add ``count`` documents to the current minute's counter (it expires on its own)."""
    if count <= 0:
        return
    key = f"{INDEXED_PER_MINUTE_KEY}{_minute(time.time() if now is None else now)}"
    pipe = client.pipeline(transaction=False)
    pipe.incrby(key, count)
    pipe.expire(key, (HISTORY_MINUTES + 2) * 60)
    pipe.execute()


class MinuteCount(BaseModel):
    minute: datetime
    indexed: int


class Throughput(BaseModel):
    """Documents indexed per minute, oldest first; the last minute is still running."""

    minutes: list[MinuteCount]
    rate_per_minute: float = Field(description=f"Average over the last {RATE_MINUTES} minutes.")
    backlog: int = Field(description="Documents queued, in work or waiting for the indexer.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def eta_seconds(self) -> float | None:
        """When the backlog is done at the current rate; None when nothing moved lately."""
        if self.backlog == 0:
            return 0.0
        if self.rate_per_minute <= 0:
            return None
        return round(self.backlog / self.rate_per_minute * 60, 1)


def read_throughput(client: redis.Redis, backlog: int, now: float | None = None) -> Throughput:
    """The last ``HISTORY_MINUTES`` counters and the rate over the last ``RATE_MINUTES``."""
    now = time.time() if now is None else now
    current = _minute(now)
    numbers = list(range(current - HISTORY_MINUTES + 1, current + 1))
    values = client.mget([f"{INDEXED_PER_MINUTE_KEY}{n}" for n in numbers])
    counts = [int(v) if v is not None else 0 for v in values]
    minutes = [
        MinuteCount(minute=datetime.fromtimestamp(n * 60, tz=timezone.utc), indexed=c)
        for n, c in zip(numbers, counts, strict=True)
    ]
    # The current minute counts for the part of it that has passed, so a rate right after
    # a minute starts is not halved.
    elapsed = (RATE_MINUTES - 1) + max(now / 60 - current, 1 / 60)
    rate = sum(counts[-RATE_MINUTES:]) / elapsed
    return Throughput(minutes=minutes, rate_per_minute=round(rate, 2), backlog=backlog)

"""Connecting to Redis, and reading its replies, the same way in every service."""

from __future__ import annotations

import redis


def connect(url: str) -> redis.Redis:
    """A client that fails fast when Redis is away (callers own their retries)."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30)


def as_text(value: object) -> str:
    """A Redis reply as text (clients here return bytes)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

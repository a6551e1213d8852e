"""Connecting to Redis, and reading its replies, the same way in every service."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis


def connect(url: str) -> redis.Redis:
    """A client that fails fast when Redis is away (callers own their retries). A password
    travels in the URL: ``redis://:PASSWORD@host:6379/0``."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30)


def display_url(url: str) -> str:
    """The URL without its password, for messages and logs: ``redis://:***@host:6379/0``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def as_text(value: object) -> str:
    """A Redis reply as text (clients here return bytes)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

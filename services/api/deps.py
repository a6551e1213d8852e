"""Clients for the API, one per process and URL (both clients pool their connections)."""

from __future__ import annotations

from functools import lru_cache

import redis
from elasticsearch import Elasticsearch

from shared.redis_client import connect
from shared.search.client import make_client


@lru_cache(maxsize=8)
def elasticsearch_for(url: str) -> Elasticsearch:
    return make_client(url, timeout=10.0)


@lru_cache(maxsize=8)
def redis_for(url: str) -> redis.Redis:
    return connect(url)

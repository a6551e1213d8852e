"""Clients for the API, one per process and cluster (both clients pool their connections)."""

from __future__ import annotations

from functools import lru_cache

import redis
from elasticsearch import Elasticsearch

from shared.redis_client import connect
from shared.search.client import make_client
from shared.settings import Settings, get_settings
from shared.status import Status, collect_status

_elasticsearch: dict[tuple[str, ...], Elasticsearch] = {}


def elasticsearch_for(url: str, settings: Settings | None = None) -> Elasticsearch:
    """The client for ``url`` with the credentials of ``settings`` (default: the process's)."""
    cfg = settings or get_settings()
    key = (
        url,
        cfg.elasticsearch_username or "",
        cfg.elasticsearch_password.get_secret_value() if cfg.elasticsearch_password else "",
        cfg.elasticsearch_api_key.get_secret_value() if cfg.elasticsearch_api_key else "",
        str(cfg.elasticsearch_ca_certs or ""),
    )
    client = _elasticsearch.get(key)
    if client is None:
        client = _elasticsearch[key] = make_client(url, timeout=10.0, settings=cfg)
    return client


@lru_cache(maxsize=8)
def redis_for(url: str) -> redis.Redis:
    return connect(url)


def status_for(cfg: Settings, *, outcomes: bool = True) -> Status:
    """What /status, /health and the pipeline page show, through this process's clients
    (raises redis.RedisError when Redis does not answer)."""
    return collect_status(redis_for(cfg.redis_url), elasticsearch_for(cfg.elasticsearch_url, cfg),
                          es_url=cfg.elasticsearch_url, alias=cfg.index, outcomes=outcomes)

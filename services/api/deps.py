"""Clients for the API, one per process and cluster (both clients pool their connections),
and the routes' dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import redis
from elasticsearch import Elasticsearch
from fastapi import Depends, Request

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
    return collect_status(
        redis_for(cfg.redis_url),
        elasticsearch_for(cfg.elasticsearch_url, cfg),
        es_url=cfg.elasticsearch_url,
        alias=cfg.index,
        outcomes=outcomes,
    )


# --- dependencies of the routes (FastAPI's Depends, as Annotated aliases) ---------------------


def current_settings(request: Request) -> Settings:
    """The settings ``create_app`` was given, or the process's (read at each request)."""
    settings: Settings = request.app.state.settings()
    return settings


SettingsDep = Annotated[Settings, Depends(current_settings)]


def current_elasticsearch(cfg: SettingsDep) -> Elasticsearch:
    return elasticsearch_for(cfg.elasticsearch_url, cfg)


ElasticsearchDep = Annotated[Elasticsearch, Depends(current_elasticsearch)]

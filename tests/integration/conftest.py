"""Fixtures for integration tests: whole stacks of real
processes (Celery workers, indexer, ingest watcher) against real Redis and Elasticsearch."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from elasticsearch import Elasticsearch

from shared.search.client import make_client
from shared.settings import get_settings
from shared.watches.models import alert_index, watch_index
from tests.conftest import TEST_DATA_DIR
from tests.support.indices import drop_dateline_index
from tests.support.stack import Stack

_stack_numbers = itertools.count()


@pytest.fixture
def make_stack(
    redis_url: str, es_url: str, ner_model_path: Path, tmp_path: Path
) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(**kwargs: object) -> Stack:
        # A supervisord per stack; its run folder stays short (the socket path is limited).
        run_dir = TEST_DATA_DIR / f"stack-{next(_stack_numbers)}"
        stack = Stack(
            redis_base_url=str(kwargs.pop("redis_base_url", redis_url)),
            es_url=str(kwargs.pop("es_url", es_url)),
            log_dir=tmp_path / "logs",
            run_dir=run_dir,
            ner_model=str(kwargs.pop("ner_model", ner_model_path)),
            inbox=tmp_path / "inbox",
            **kwargs,
        )  # type: ignore[arg-type]
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture
def clean_settings(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., dict[str, str]]]:
    """``clean_settings(STABLE_SECONDS="0", ...)``: an empty Redis database, an inbox under
    ``tmp_path`` (not created: some tests leave that to the service) and these
    ``DATELINE_`` settings for this test; returns them as environment variables."""
    client = redis.Redis.from_url(redis_url)

    def apply(**settings: str) -> dict[str, str]:
        values = {"DATELINE_REDIS_URL": redis_url, "DATELINE_INBOX": str(tmp_path / "inbox")}
        values.update({f"DATELINE_{name.upper()}": value for name, value in settings.items()})
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        client.flushdb()
        return values

    yield apply
    client.flushdb()
    get_settings.cache_clear()


# --- clients and a throwaway alias, for tests that talk to the services directly -----------


@pytest.fixture
def es(es_url: str) -> Elasticsearch:
    return make_client(es_url)


@pytest.fixture
def rclient(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def alias(es: Elasticsearch) -> Iterator[str]:
    """A fresh alias name; its indices (articles, watches, alerts) are dropped after the test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    drop_dateline_index(es, name)
    es.indices.delete(index=[watch_index(name), alert_index(name)], ignore_unavailable=True)

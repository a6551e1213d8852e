"""Fixtures for integration tests: whole stacks of real
processes (Celery workers, indexer, ingest watcher) against real Redis and Elasticsearch."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_DATA_DIR
from tests.support.stack import Stack

_stack_numbers = itertools.count()


@pytest.fixture
def make_stack(redis_url: str, es_url: str, ner_model_path: Path,
               tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(**kwargs: object) -> Stack:
        # A supervisord per stack; its run folder stays short (the socket path is limited).
        run_dir = TEST_DATA_DIR / f"stack-{next(_stack_numbers)}"
        stack = Stack(redis_base_url=str(kwargs.pop("redis_base_url", redis_url)),
                      es_url=str(kwargs.pop("es_url", es_url)), log_dir=tmp_path / "logs", run_dir=run_dir,
                      ner_model=str(kwargs.pop("ner_model", ner_model_path)),
                      inbox=tmp_path / "inbox", **kwargs)  # type: ignore[arg-type]
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()

"""Test setup shared by the whole suite.

Integration tests get real services: Redis and Elasticsearch are installed (if missing)
by the same `deploy/local` scripts users run and run under a supervisord of the session's
own, as the programs of `services/stack/topology.py` that `dateline stack` runs, on test
ports and under a test data folder, so a running development stack is never touched.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import MODEL_CACHE, TEST_DATA
from tests.support.services import BackingServices, free_port

# Test nodes live minutes and answer small requests: the C2 compiler's warm-up costs them
# more CPU than it pays back while the suite keeps every core busy. C1 only, for every node
# the suite starts (its own, clusters', and `dateline stack`'s, which inherit the variable).
# Measured on a 2-vCPU host: a node's start 30 -> 19 CPU-s; start, 2,000 documents indexed
# and 300 searches 44 -> 25 CPU-s, the work's wall time 15 -> 9 s. `make bench` keeps the
# full JIT of the stack's default.
os.environ.setdefault("DATELINE_ES_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1")
# One data folder per test session: sessions running side by side never share a node.
TEST_DATA_DIR = TEST_DATA / f"session-{os.getpid()}"
# Free ports unless given: two checkouts (or a dev stack) can run tests side by side.
TEST_REDIS_PORT = int(os.environ.get("DATELINE_TEST_REDIS_PORT") or free_port())
TEST_ES_PORT = int(os.environ.get("DATELINE_TEST_ES_PORT") or free_port())


def pytest_sessionfinish(session: pytest.Session) -> None:
    # The services were stopped with their fixtures (this catches a fixture that failed
    # half-way); their data goes with the session.
    if not os.environ.get("DATELINE_TEST_KEEP_SERVICES"):
        SERVICES.shutdown()
        shutil.rmtree(TEST_DATA_DIR, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests are marked by where they live, so no test can claim the wrong kind.
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
            if "faults" in parts:
                item.add_marker(pytest.mark.faults)
        elif "unit" in parts:
            item.add_marker(pytest.mark.unit)


SERVICES = BackingServices(TEST_DATA_DIR, TEST_REDIS_PORT, TEST_ES_PORT)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for this test session (flushed at the start)."""
    SERVICES.start("redis")
    url = SERVICES.redis_url
    import redis

    redis.Redis.from_url(url).flushall()
    os.environ["DATELINE_REDIS_URL"] = url
    _clear_settings()
    yield url
    if not os.environ.get("DATELINE_TEST_KEEP_SERVICES"):
        SERVICES.stop("redis")


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """A real single-node Elasticsearch for this test session."""
    SERVICES.start("elasticsearch")
    url = SERVICES.es_url
    os.environ["DATELINE_ELASTICSEARCH_URL"] = url
    _clear_settings()
    yield url
    if not os.environ.get("DATELINE_TEST_KEEP_SERVICES"):
        SERVICES.stop("elasticsearch")


@pytest.fixture
def index_alias(es_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh alias per test, so tests never see each other's documents."""
    alias = f"test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("DATELINE_INDEX", alias)
    _clear_settings()
    yield alias
    from elasticsearch import Elasticsearch

    from tests.support.indices import drop_dateline_index

    drop_dateline_index(Elasticsearch(es_url), alias)
    _clear_settings()


def _clear_settings() -> None:
    from shared.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture(scope="session")
def ner_model_path() -> Path:
    """The one tiny real flair SequenceTagger of the suite, trained by `dateline ner train`'s
    code on tests/fixtures/ner and kept between runs while the corpus is unchanged."""
    from tests.support.ner_model import train_tiny_model

    model = train_tiny_model(MODEL_CACHE)
    # Workers load model files only from the model folder (they are pickles): make the tiny
    # model's folder that folder, for this process and the services the tests start.
    os.environ["DATELINE_MODEL_DIR"] = str(MODEL_CACHE)
    _clear_settings()
    return model

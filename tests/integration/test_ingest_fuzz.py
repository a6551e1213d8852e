"""The intake fuzzed end to end against a real Redis and real Celery messages: a file of any
name and any bytes ends queued (as documents whose messages read back) or failed with a
reason the user sees; nothing is raised past ``Ingestor.process`` and the input is untouched.

The readers are fuzzed on their own in tests/unit/ingest/test_reader_fuzz.py; this adds what
lies around them: names, admission, the registry, the ledger and the queue.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.ingest.processor import Ingestor
from shared.registry import Registry
from shared.settings import get_settings

EXTENSIONS = [b".txt", b".md", b".html", b".json", b".jsonl", b".xml", b""]
STEMS = st.binary(min_size=1, max_size=60).filter(
    lambda b: b"\0" not in b and b"/" not in b and not b.startswith(b".")
)
TEXT = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from("\ud800\udfff\x00\x1b\u2028"), max_size=400
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["title", "body", "text", "url", "date", "author", "source", "language", "x"]),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)
ARTICLE = st.fixed_dictionaries(
    {
        "title": TEXT,
        "body": TEXT,
    },
    optional={
        "url": st.sampled_from(["javascript:alert(1)", "https://example.org/a", "data:,x", "//x"]) | TEXT,
        "date": TEXT,
        "author": TEXT,
        "source": TEXT,
        "language": TEXT,
    },
)


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


CONTENT = st.one_of(
    st.binary(max_size=3000),
    st.tuples(TEXT, st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"])).map(lambda t: _encode(*t)),
    JSON_VALUE.map(lambda v: json.dumps(v).encode()),
    ARTICLE.map(lambda a: json.dumps(a).encode()),  # json.dumps keeps lone surrogates as \\ud800 escapes
    st.lists(ARTICLE.map(json.dumps) | TEXT, max_size=8).map(
        lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")
    ),
    st.tuples(st.dictionaries(st.sampled_from(["title", "date", "url", "x"]), TEXT, max_size=3), TEXT).map(
        lambda t: (
            "---\n" + "\n".join(f"{k}: {json.dumps(v)}" for k, v in t[0].items()) + "\n---\n" + t[1]
        ).encode("utf-8", "surrogatepass")
    ),
    TEXT.map(
        lambda t: f"<html><head><title>{t}</title></head><body><p>{t}</p></body></html>".encode(
            "utf-8", "surrogatepass"
        )
    ),
)


@pytest.fixture
def inbox(clean_settings: Callable[..., dict[str, str]]) -> Path:
    path = Path(
        clean_settings(STABLE_SECONDS="0", MAX_FILE_MB="0.01", MAX_ARTICLE_CHARS="2000")["DATELINE_INBOX"]
    )
    path.mkdir()
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stem=STEMS, extension=st.sampled_from(EXTENSIONS), content=CONTENT)
def test_any_file_ends_queued_or_failed_with_a_reason(
    inbox: Path, stem: bytes, extension: bytes, content: bytes
) -> None:
    name = b"%d-" % next(COUNTER) + stem + extension  # a new file for every example
    raw_path = os.path.join(os.fsencode(inbox), name)
    with open(raw_path, "wb") as out:
        out.write(content)
    ingestor = INGESTOR.get(inbox)
    # A name the user's DATELINE_IGNORE_PATTERNS leaves alone ("3-~": an editor's backup) is
    # not an article; every other name must be one.
    assume(ingestor.ignored(Path(os.fsdecode(raw_path))) is None)
    outcome = ingestor.process(Path(os.fsdecode(raw_path)))  # must not raise

    assert outcome.status in ("queued", "failed"), outcome
    outcome.path.encode("utf-8")
    registry = ingestor.registry
    record = registry.get(outcome.path)
    assert record is not None and record.state == outcome.status
    mine = [f for f in registry.failures() if f.path == outcome.path]
    if outcome.status == "failed":
        assert mine and all(f.reason.strip() for f in mine)
    else:
        assert record.articles == outcome.articles >= 1
    with open(raw_path, "rb") as back:
        assert back.read() == content  # the input is never touched


COUNTER = itertools.count()


class _Ingestors:
    """One ingestor per inbox (its Redis client and Celery app are reused across examples)."""

    def __init__(self) -> None:
        self._by_inbox: dict[Path, Ingestor] = {}

    def get(self, inbox: Path) -> Ingestor:
        if inbox not in self._by_inbox:
            get_settings.cache_clear()
            self._by_inbox = {inbox: Ingestor.from_settings()}
        return self._by_inbox[inbox]


INGESTOR = _Ingestors()


def test_the_messages_queued_by_the_fuzz_read_back(inbox: Path) -> None:
    # The queue's messages are JSON a worker can decode: what the fuzz above queued is
    # decoded by the same code the reconciler runs (shared/broker_layout.task_of_message).
    from shared.broker_layout import task_of_message
    from shared.keys import STAGE_QUEUES

    (inbox / "a.json").write_text(json.dumps({"title": "T\ud800", "body": "Body text \x00 with a NUL. " * 5}))
    outcome = INGESTOR.get(inbox).process(inbox / "a.json")
    assert outcome.status == "queued"
    client = redis.Redis.from_url(get_settings().redis_url)
    (raw,) = client.lrange(STAGE_QUEUES["language"], 0, -1)
    task = task_of_message(raw)
    assert task is not None and task.document.title == "T\ufffd" and "\x00" not in task.document.body
    assert Registry(client).get("a.json") is not None

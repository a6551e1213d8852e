"""Fixtures for the worker's unit tests: the real stages, real (tiny) models, no services."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator

import pytest

from shared.schemas import ArticleDocument, document_id
from shared.settings import get_settings
from shared.text.sentences import offsets, split_sentences
from tests.support.paths import SEEDS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def read_seed(prefix: str) -> str:
    """The text of the seed article whose file name starts with ``prefix`` (e.g. "002")."""
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def make_document(body: str, title: str = "", **fields: object) -> ArticleDocument:
    # As ingest makes them: the body's sentences split once, carried as offsets.
    fields.setdefault("sentences", offsets(split_sentences(body)))
    return ArticleDocument(
        id=document_id(f"unit/{hash(body)}.txt"),
        source_path="unit/article.txt",
        format="text",
        title=title,
        body=body,
        content_sha256=hashlib.sha256(body.encode()).hexdigest(),
        **fields,
    )


@pytest.fixture
def seed() -> Callable[[str], str]:
    return read_seed


@pytest.fixture
def document() -> Callable[..., ArticleDocument]:
    return make_document


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Let a test set DATELINE_* variables; settings are re-read for it and after it."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()

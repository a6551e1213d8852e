"""Migrating to a new index version: documents, versions and late writes survive, the alias moves."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from services.cli.index import index_app
from shared.schemas import ArticleDocument, document_id, utcnow
from shared.search.index import alias_indices, ensure_index, index_status
from shared.search.migrate import migrate
from shared.search.models import SearchParams
from shared.search.query import search
from shared.settings import Settings, get_settings
from tests.support.indices import drop_dateline_index


def article(i: int) -> ArticleDocument:
    return ArticleDocument(
        id=document_id(f"m/{i}.txt"),
        source_path=f"m/{i}.txt",
        format="text",
        revision=i + 1,
        title=f"Migration story {i}",
        body="Text about bridges.",
        content_sha256=uuid.uuid4().hex,
    )


def put(es: Elasticsearch, alias: str, doc: ArticleDocument) -> None:
    source = doc.model_dump(mode="json") | {"indexed_at": utcnow().isoformat()}
    es.index(index=alias, id=doc.id, document=source, version=doc.revision, version_type="external_gte")


@pytest.fixture
def settings(es: Elasticsearch, es_url: str) -> Iterator[Settings]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    cfg = Settings(elasticsearch_url=es_url, index=name)
    ensure_index(es, name, cfg)
    for i in range(7):
        put(es, name, article(i))
    es.indices.refresh(index=name)
    yield cfg
    drop_dateline_index(es, name)


def test_migrate_copies_keeps_versions_and_swaps_alias(es, settings):
    alias = settings.index
    late = article(99)
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        if not seen:
            put(es, alias, late)  # the indexer writing while the copy runs
        seen.append((done, total))

    result = migrate(es, alias, settings, progress=progress)
    assert (result.old_index, result.new_index) == (f"{alias}-v1", f"{alias}-v2")
    assert result.copied == 7 and seen[-1] == (7, 7)
    assert alias_indices(es, alias) == {f"{alias}-v2": True}
    assert es.count(index=alias)["count"] == 8  # the late write was carried over
    assert es.get(index=alias, id=article(3).id)["_version"] == 4  # revision kept as version
    assert es.indices.exists(index=f"{alias}-v1")
    assert search(es, alias, SearchParams(query="bridges")).total == 8

    again = migrate(es, alias, settings, delete_old=True)
    assert again.new_index == f"{alias}-v3" and again.old_deleted
    assert not es.indices.exists(index=f"{alias}-v2")
    assert index_status(es, alias).docs == 8 and index_status(es, alias).generation == 3


def test_index_cli_status_and_migrate(es, settings, monkeypatch):
    monkeypatch.setenv("DATELINE_INDEX", settings.index)
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", settings.elasticsearch_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        status = runner.invoke(index_app, ["status", "--json"])
        assert status.exit_code == 0, status.output
        assert json.loads(status.output)["index"] == f"{settings.index}-v1"
        moved = runner.invoke(index_app, ["migrate", "--delete-old"])
        assert moved.exit_code == 0, moved.output
        assert f"{settings.index}-v2" in moved.output
        assert json.loads(runner.invoke(index_app, ["status", "--json"]).output)["docs"] == 7
    finally:
        get_settings.cache_clear()


def test_migrate_without_alias_is_a_clear_error(es_url, monkeypatch):
    monkeypatch.setenv("DATELINE_INDEX", f"absent-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", es_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(index_app, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "nothing to migrate" in result.output

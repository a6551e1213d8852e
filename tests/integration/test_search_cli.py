"""``dateline search`` end to end: the command against a real index, table and JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import typer
from typer.testing import CliRunner

from services.cli.search import search_command
from shared.schemas import ArticleDocument, Entities, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings, get_settings
from tests.support.indices import drop_dateline_index

app = typer.Typer()
app.command("search")(search_command)
app.command("noop")(lambda: None)  # two commands, so "search" is a sub-command as in main


@pytest.fixture
def alias(es_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    es = make_client(es_url)
    ensure_index(es, name, Settings(elasticsearch_url=es_url, index=name))
    for i, (lang, person) in enumerate([("en", "Ada Lovelace"), ("de", "Carl Benz")]):
        doc = ArticleDocument(
            id=document_id(f"{i}.txt"), source_path=f"{i}.txt", format="text",
            title=f"Engine news {i}", body=f"A story about engines and {person}.",
            content_sha256=uuid.uuid4().hex, source="Wire", language=lang,
            published_at=datetime(2024, 5, i + 1, tzinfo=timezone.utc),
            entities=Entities(person=[person]),
        )
        es.index(index=name, id=doc.id, document=doc.model_dump(mode="json"), refresh=True)
    monkeypatch.setenv("DATELINE_INDEX", name)
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", es_url)
    get_settings.cache_clear()
    yield name
    get_settings.cache_clear()
    drop_dateline_index(es, name)


def test_json_output_has_the_documented_shape(alias):
    result = CliRunner().invoke(app, ["search", "engines", "--json", "--entity", "person=Ada Lovelace"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) == {"total", "hits", "facets", "page", "size", "partial"}
    assert body["partial"] is False  # every shard answered
    assert body["total"] == 1
    hit = body["hits"][0]
    assert {"id", "title", "body", "summary", "language", "entities", "provenance", "source_path", "source",
            "published_at", "dateline", "format", "content_sha256", "score", "highlight"} <= set(hit)
    assert hit["entities"]["person"] == ["Ada Lovelace"]
    assert set(body["facets"]) >= {"language", "source", "entities.person", "entities.organization",
                                   "entities.location", "entities.misc"}


def test_table_output(alias):
    result = CliRunner().invoke(app, ["search", "--lang", "de", "--since", "2024-05"])
    assert result.exit_code == 0, result.output
    assert "Engine news 1" in result.output and "Carl Benz" in result.output
    assert "Engine news 0" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--entity", "animal=cat"], "not one of"),
        (["--since", "someday"], "not understood"),
        (["--size", "1000"], "size"),
    ],
)
def test_bad_input_is_a_clean_message(alias, args, message):
    result = CliRunner().invoke(app, ["search", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_index_is_explained(es_url, monkeypatch):
    monkeypatch.setenv("DATELINE_INDEX", f"absent-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", es_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["search"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no index" in result.output

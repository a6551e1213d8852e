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
            id=document_id(f"{i}.txt"),
            source_path=f"{i}.txt",
            format="text",
            title=f"Engine news {i}",
            body=f"A story about engines and {person}.",
            content_sha256=uuid.uuid4().hex,
            source="Wire",
            language=lang,
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
    assert set(body) == {"total", "hits", "facets", "page", "size", "partial", "matches", "sampled"}
    assert body["sampled"] is None and body["matches"] == 1  # few matches: every one counted
    assert body["partial"] is False  # every shard answered
    assert body["total"] == 1
    hit = body["hits"][0]
    assert {
        "id",
        "title",
        "body",
        "summary",
        "language",
        "entities",
        "provenance",
        "source_path",
        "source",
        "published_at",
        "dateline",
        "format",
        "content_sha256",
        "score",
        "highlight",
    } <= set(hit)
    assert hit["entities"]["person"] == ["Ada Lovelace"]
    assert set(body["facets"]) >= {
        "language",
        "source",
        "entities.person",
        "entities.organization",
        "entities.location",
        "entities.misc",
    }


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


@pytest.fixture
def story_alias(es_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """One story carried by three outlets (texts not identical: the story index grouped them),
    and an unrelated article."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    es = make_client(es_url)
    ensure_index(es, name, Settings(elasticsearch_url=es_url, index=name))
    rows = [
        ("ap.txt", "AP", 1, "s-dam", "The dam burst on Monday, officials said."),
        ("daily.txt", "Daily", 2, "s-dam", "The dam burst on Monday, officials said. More rain is due."),
        ("herald.txt", "Herald", 3, "s-dam", "(Reuters) The dam burst on Monday, officials said."),
        ("other.txt", "Herald", 4, "s-vote", "The council voted on the dam budget."),
    ]
    for path, source, day, story, body in rows:
        doc = ArticleDocument(
            id=document_id(path),
            source_path=path,
            format="text",
            title=f"Dam {path}",
            body=body,
            content_sha256=uuid.uuid4().hex,
            source=source,
            language="en",
            story_id=story,
            published_at=datetime(2024, 6, day, tzinfo=timezone.utc),
            entities=Entities(location=["Dam"]),
        )
        es.index(index=name, id=doc.id, document=doc.model_dump(mode="json"), refresh=True)
    monkeypatch.setenv("DATELINE_INDEX", name)
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", es_url)
    get_settings.cache_clear()
    yield name
    get_settings.cache_clear()
    drop_dateline_index(es, name)


def test_hits_collapse_by_story_and_say_how_many_versions_from_how_many_sources(story_alias):
    result = CliRunner().invoke(app, ["search", "dam", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["total"] == 2
    by_story = {hit["story_id"]: hit for hit in body["hits"]}
    assert set(by_story) == {"s-dam", "s-vote"}
    dam = by_story["s-dam"]
    assert (dam["versions"], dam["sources"]) == (3, 3)
    # The other versions in order of first publication.
    others = [v["source_path"] for v in dam["other_versions"]]
    assert others == sorted(others, key=["ap.txt", "daily.txt", "herald.txt"].index) and len(others) == 2
    assert dam["first_seen"] == (dam["source_path"] == "ap.txt")
    assert (by_story["s-vote"]["versions"], by_story["s-vote"]["sources"]) == (1, 1)
    # Facets count a story once: Herald carried both stories, the location is in all four documents.
    assert body["facets"]["source"] == {"Herald": 2, "AP": 1, "Daily": 1}
    assert body["facets"]["entities.location"] == {"Dam": 2}

    every = json.loads(CliRunner().invoke(app, ["search", "dam", "--json", "--no-collapse"]).output)
    assert every["total"] == 4 and every["facets"]["entities.location"] == {"Dam": 4}
    # Counted over the whole story, whatever the search matched.
    assert {hit["source_path"]: hit["versions"] for hit in every["hits"]} == {
        "ap.txt": 3,
        "daily.txt": 3,
        "herald.txt": 3,
        "other.txt": 1,
    }
    only_ap = json.loads(CliRunner().invoke(app, ["search", "dam", "--json", "--source", "AP"]).output)
    assert [(h["source_path"], h["versions"], h["sources"], h["first_seen"]) for h in only_ap["hits"]] == [
        ("ap.txt", 3, 3, True)
    ]

    table = CliRunner().invoke(app, ["search", "dam"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "3 versions from 3 sources" in table.output

"""Searching a real index: filters, facets, collapsing of duplicates, highlights, errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from elasticsearch import Elasticsearch
from pydantic import ValidationError

from shared.schemas import ArticleDocument, Entities, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.search.models import SearchInputError, SearchParams, input_errors
from shared.search.query import get_article, search
from shared.search.template import language_analyzers_available
from shared.settings import Settings
from tests.support.indices import drop_dateline_index


def doc(
    path: str,
    title: str,
    body: str,
    language: str,
    source: str,
    day: str,
    sha: str | None = None,
    **entities: list[str],
) -> ArticleDocument:
    return ArticleDocument(
        id=document_id(path),
        source_path=path,
        format="text",
        title=title,
        body=body,
        content_sha256=sha or uuid.uuid4().hex,
        source=source,
        language=language,
        published_at=datetime.fromisoformat(day).replace(tzinfo=timezone.utc),
        entities=Entities(**entities),
        dateline="HAMBURG" if language == "en" else None,
    )


DOCS = [
    doc(
        "a.txt",
        "Harbour strike in Hamburg",
        "Dock workers in Hamburg began a strike on Monday.",
        "en",
        "Wire",
        "2024-03-01",
        sha="same",
        person=["Olaf Scholz"],
        location=["Hamburg"],
    ),
    doc(
        "b.txt",
        "Harbour strike in Hamburg",
        "Dock workers in Hamburg began a strike on Monday.",
        "en",
        "Other Wire",
        "2024-03-01",
        sha="same",
        person=["Olaf Scholz"],
        location=["Hamburg"],
    ),
    doc(
        "c.txt",
        "Streik im Hafen",
        "Die Hafenarbeiter in Hamburg streiken seit Montag.",
        "de",
        "Zeitung",
        "2024-04-10",
        location=["Hamburg"],
    ),
    doc(
        "d.txt",
        "Sommet climatique",
        "Les Nations unies ouvrent le sommet sur le climat à Paris.",
        "fr",
        "Journal",
        "2023-12-01",
        organization=["UN"],
        location=["Paris"],
    ),
]


@pytest.fixture(scope="module")
def es(es_url: str) -> Elasticsearch:
    return make_client(es_url)


@pytest.fixture(scope="module")
def alias(es: Elasticsearch, es_url: str) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    ensure_index(es, name, Settings(elasticsearch_url=es_url, index=name))
    for item in DOCS:
        es.index(index=name, id=item.id, document=item.model_dump(mode="json"))
    es.indices.refresh(index=name)
    yield name
    drop_dateline_index(es, name)


def test_everything_collapses_identical_texts(es, alias):
    result = search(es, alias, SearchParams())
    assert result.total == 3
    assert len(result.hits) == 3
    # Facets count what the hits show: the two identical English articles count once.
    assert result.facets["language"] == {"en": 1, "de": 1, "fr": 1}
    assert result.facets["entities.location"]["Hamburg"] == 2
    assert result.facets["entities.organization"] == {"UN": 1}
    assert result.facets["dateline"] == {"HAMBURG": 1}
    assert result.facets["published_at"] == {
        "2023-12": 1,
        "2024-01": 0,
        "2024-02": 0,
        "2024-03": 1,
        "2024-04": 1,
    }
    (hit,) = [h for h in result.hits if h.content_sha256 == "same"]
    # Not grouped by the story index (written here directly): the story of its exact text.
    assert hit.story_id == "text-same" and (hit.versions, hit.sources) == (2, 2)
    assert [c.source_path for c in hit.other_versions] == ["b.txt" if hit.source_path == "a.txt" else "a.txt"]

    # Without collapsing, facets count documents.
    everything = search(es, alias, SearchParams(collapse=False))
    assert everything.total == 4 and len(everything.hits) == 4
    assert everything.facets["language"] == {"en": 2, "de": 1, "fr": 1}
    assert everything.facets["entities.location"]["Hamburg"] == 3
    assert everything.facets["dateline"] == {"HAMBURG": 2}
    # Every hit still says what story it belongs to.
    assert sorted(h.versions for h in everything.hits) == [1, 1, 2, 2]


def test_query_and_highlight(es, alias):
    result = search(es, alias, SearchParams(query="strike", collapse=False))
    assert {hit.source_path for hit in result.hits} == {"a.txt", "b.txt"}
    hit = result.hits[0]
    assert "<em>strike</em>" in " ".join(hit.highlight["body"])
    assert "<em>strike</em>" in " ".join(hit.highlight["title"])
    assert hit.score and hit.score > 0
    assert hit.entities.person == ["Olaf Scholz"]


def test_field_syntax_and_filters(es, alias):
    assert [h.source_path for h in search(es, alias, SearchParams(query='source:"Zeitung"')).hits] == [
        "c.txt"
    ]
    assert [h.source_path for h in search(es, alias, SearchParams(lang=["fr"])).hits] == ["d.txt"]
    assert {
        h.source for h in search(es, alias, SearchParams(source=["Wire", "Journal"], collapse=False)).hits
    } == {"Wire", "Journal"}
    located = search(
        es, alias, SearchParams(entity=["location=Hamburg", "person=Olaf Scholz"], collapse=False)
    )
    assert {h.source_path for h in located.hits} == {"a.txt", "b.txt"}
    assert search(es, alias, SearchParams(entity=["location=Paris", "person=Olaf Scholz"])).total == 0


def test_date_range_is_inclusive(es, alias):
    march = search(es, alias, SearchParams(since="2024-03", until="2024-03-01", collapse=False))
    assert {h.source_path for h in march.hits} == {"a.txt", "b.txt"}
    assert {h.source_path for h in search(es, alias, SearchParams(until="2023")).hits} == {"d.txt"}


def test_paging(es, alias):
    first = search(es, alias, SearchParams(size=2, page=1, collapse=False))
    second = search(es, alias, SearchParams(size=2, page=2, collapse=False))
    assert len(first.hits) == 2 and len(second.hits) == 2
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}
    assert first.page == 1 and second.size == 2


def test_bad_query_syntax_falls_back_instead_of_failing(es, alias):
    result = search(es, alias, SearchParams(query="strike AND (Hamburg", collapse=False))
    assert {h.source_path for h in result.hits} == {"a.txt", "b.txt"}
    assert search(es, alias, SearchParams(query='"unbalanced quote')).total == 0


def test_odd_queries_never_raise_raw_errors(es, alias):
    for text in ("title:/[/", "published_at:[x TO", "\\", "a:b:c", "NOT"):
        try:
            search(es, alias, SearchParams(query=text))
        except SearchInputError:
            pass  # a result or a SearchInputError, nothing else
        except ValidationError as exc:  # ... or refused by the checks before Elasticsearch, in words
            assert "is not a field you can search" in input_errors(exc), input_errors(exc)


def test_get_article(es, alias):
    found = get_article(es, alias, document_id("c.txt"))
    assert found and found.title == "Streik im Hafen"
    assert get_article(es, alias, "0" * 32) is None


def test_stemmed_language_match_when_cluster_has_analysers(es, alias):
    if not language_analyzers_available(es):
        pytest.skip("this Elasticsearch has no analysis-common module (language analysers)")
    result = search(es, alias, SearchParams(query="strikes", lang=["en"]))
    assert result.total == 1

"""The story page and ``GET /stories/{id}`` against a real Elasticsearch, through the
TestClient: versions in order of first publication, the diff, links from hits and articles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from shared.schemas import ARTICLE_VECTOR_DIMS, ArticleDocument, Entity, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from tests.support.indices import drop_dateline_index

WIRE = (
    "The dam on the Kura river burst on Monday. Officials said 40 homes were flooded. "
    "Rain is due again on Friday."
)
VERSIONS = [  # path, source, day, title, body (indexed out of order on purpose)
    ("daily/dam.txt", "Daily", 3, "Dam bursts on the Kura", WIRE + " The mayor visited the site on Tuesday."),
    ("ap/dam.txt", "AP", 1, "Dam bursts on the Kura", "(AP) " + WIRE),
    ("herald/dam.txt", "Herald", 2, "Kura floods forty homes", WIRE.rsplit(" Rain", 1)[0]),
]


@pytest.fixture
def settings(es_url: str, redis_url: str) -> Iterator[Settings]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    cfg = Settings(elasticsearch_url=es_url, redis_url=redis_url, index=name)
    es = make_client(es_url)
    ensure_index(es, name, cfg)
    for path, source, day, title, body in VERSIONS:
        doc = ArticleDocument(
            id=document_id(path),
            source_path=path,
            format="text",
            title=title,
            body=body,
            content_sha256=uuid.uuid4().hex,
            source=source,
            language="en",
            story_id="kura0123456789abcdef0123",
            published_at=datetime(2024, 6, day, tzinfo=timezone.utc),
            dateline="TBILISI",
            carried_from=["AP"] if source == "AP" else [],
            entity_list=[Entity(name="Kura", type="location", count=2)],
        )
        es.index(index=name, id=doc.id, document=doc.model_dump(mode="json"))
    es.indices.refresh(index=name)
    yield cfg
    drop_dateline_index(es, name)


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


def test_the_story_json_lists_versions_by_first_publication_with_their_diff(client):
    story = client.get("/stories/kura0123456789abcdef0123").json()
    assert [m["source_path"] for m in story["members"]] == ["ap/dam.txt", "herald/dam.txt", "daily/dam.txt"]
    assert [m["first_seen"] for m in story["members"]] == [True, False, False]
    assert story["versions"] == 3 and story["sources"] == ["AP", "Herald", "Daily"]
    assert story["carried_from"] == ["AP"]
    _, herald, daily = story["members"]
    # The agency prefix of the first seen makes its first sentence another one.
    first_sentence = "The dam on the Kura river burst on Monday."
    assert herald["new_headline"] and herald["added"] == [first_sentence]
    assert herald["dropped"] == ["(AP) " + first_sentence, "Rain is due again on Friday."]
    assert daily["added"] == [first_sentence, "The mayor visited the site on Tuesday."]
    assert daily["dropped"] == ["(AP) " + first_sentence]
    assert story["entities"] == [{"name": "Kura", "type": "location", "count": 3}]
    assert client.get("/stories/nosuchstory").status_code == 404
    assert client.get("/stories/not a story!").status_code == 422


def test_the_story_page_is_linked_from_hits_and_the_article(client):
    search = client.get("/", params={"q": "dam"}).text
    assert "3 versions from 3 sources" in search
    assert "/story/kura0123456789abcdef0123?back=" in search
    page = client.get("/story/kura0123456789abcdef0123")
    assert page.status_code == 200
    html = page.text
    assert "first seen" in html and "The mayor visited the site on Tuesday." in html
    # In order of first publication.
    assert html.index("ap/dam.txt") < html.index("herald/dam.txt") < html.index("daily/dam.txt")
    article = client.get(f"/article/{document_id('daily/dam.txt')}").text
    assert "/story/kura0123456789abcdef0123" in article
    assert client.get("/story/nosuchstory").status_code == 404
    assert client.get("/story/%3Cscript%3E").status_code == 404


def _unit(*pairs: tuple[int, float]) -> list[float]:
    vector = [0.0] * ARTICLE_VECTOR_DIMS
    for axis, value in pairs:
        vector[axis] = value
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector]


def test_related_articles_are_the_nearest_of_other_stories(settings, client):
    es = make_client(settings.elasticsearch_url)
    near = [
        ("kura", "s-kura", _unit((0, 1.0))),
        ("kura-copy", "s-kura", _unit((0, 1.0), (1, 0.01))),
        ("levee", "s-levee", _unit((0, 1.0), (1, 0.3))),
        ("budget", "s-budget", _unit((0, 1.0), (2, 1.0))),
        ("football", "s-football", _unit((5, 1.0))),
    ]
    for path, story, vector in near:
        doc = ArticleDocument(
            id=document_id(path),
            source_path=path,
            format="text",
            title=path,
            body=path,
            content_sha256=path,
            story_id=story,
            vector=vector,
        )
        es.index(index=settings.index, id=doc.id, document=doc.model_dump(mode="json"))
    es.indices.refresh(index=settings.index)
    found = client.get(f"/articles/{document_id('kura')}/related")
    assert found.status_code == 200
    # Its own story's other version is left out, however near; then by nearness.
    assert [r["source_path"] for r in found.json()][:3] == ["levee", "budget", "football"]
    page = client.get(f"/article/{document_id('kura')}").text
    assert "More on this" in page and page.index(f"/article/{document_id('levee')}") < page.index(
        f"/article/{document_id('budget')}"
    )
    # An article without a vector has none; an unknown one is a 404.
    assert client.get(f"/articles/{document_id('ap/dam.txt')}/related").json() == []
    assert client.get(f"/articles/{'a' * 32}/related").status_code == 404
    # Search hits do not carry the vector (384 numbers per hit).
    assert all("vector" not in hit for hit in client.get("/search", params={"q": "*"}).json()["hits"])

"""One document cannot break search or turn a page against its reader (issue 15), on a real
Elasticsearch through the HTTP API, the pages and ``dateline search``:

- an article of 1.3 million characters (past Elasticsearch's 1,000,000-character highlight
  limit) is found, highlighted in its first part, and shown, and every other search works;
- an error the index causes is a 500 that says the archive failed, never "write plain words";
- an article whose url is ``javascript:`` and whose title is markup is shown inert, and the
  article page's back link comes from ``?back=``, never from ``Referer``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.api.app import create_app
from services.cli.main import app as cli
from shared.schemas import ArticleDocument, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings, get_settings
from tests.support.indices import drop_dateline_index

# 1,359,000 characters: "harbour" throughout, "needle" only past the first 1,000,000.
HUGE_BODY = ("harbour " + "lorem ipsum dolor sit amet " * 50 + "\n") * 1000 + " needle"
HOSTILE_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)> Zeppelin"
HOSTILE_URL = "javascript:alert(document.domain)"


@dataclass
class Archive:
    settings: Settings
    huge: str
    small: str
    hostile: str


def _doc(path: str, title: str, body: str, **extra: object) -> ArticleDocument:
    return ArticleDocument(
        id=document_id(path),
        source_path=path,
        format="json",
        title=title,
        body=body,
        content_sha256=uuid.uuid4().hex,
        source="Wire",
        language="en",
        published_at=datetime(2024, 6, 1, tzinfo=timezone.utc),
        **extra,
    )


@pytest.fixture
def archive(es_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Archive]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    cfg = Settings(_env_file=None, elasticsearch_url=es_url, redis_url=redis_url, index=name)
    es = make_client(es_url)
    ensure_index(es, name, cfg)
    docs = [
        _doc("big/huge.txt", "The long harbour report", HUGE_BODY),
        _doc("big/small.txt", "Harbour strike", "Dockers at the harbour stopped work; a zeppelin flew over."),
        _doc("big/hostile.json", HOSTILE_TITLE, "A zeppelin story from a hostile feed.", url=HOSTILE_URL),
    ]
    for doc in docs:
        es.index(index=name, id=doc.id, document=doc.model_dump(mode="json"))
    es.indices.refresh(index=name)
    # For `dateline search`, which reads the process's settings.
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", es_url)
    monkeypatch.setenv("DATELINE_INDEX", name)
    get_settings.cache_clear()
    yield Archive(cfg, *(d.id for d in docs))
    get_settings.cache_clear()
    drop_dateline_index(es, name)


@pytest.fixture
def client(archive: Archive) -> TestClient:
    return TestClient(create_app(archive.settings), base_url="http://127.0.0.1")


def test_a_huge_article_is_found_and_every_search_still_works(archive, client):
    assert len(HUGE_BODY) > 1_300_000
    for query, expected in [
        ("harbour", {archive.huge, archive.small}),
        ("zeppelin", {archive.small, archive.hostile}),
        ("needle", {archive.huge}),
    ]:
        response = client.get("/search", params={"q": query})
        assert response.status_code == 200, (query, response.text[:300])
        body = response.json()
        assert {hit["id"] for hit in body["hits"]} == expected, query
        assert body["facets"]["language"] == {"en": len(expected)}
        page = client.get("/", params={"q": query})
        assert page.status_code == 200, (query, page.text[:300])
        assert f"{len(expected)} articles" in page.text
        result = CliRunner().invoke(cli, ["search", "--json", "--", query])
        assert result.exit_code == 0, (query, result.output[-300:])
    # Highlights come from the first part of the huge body (the bound), in the API and the page.
    huge = next(
        h for h in client.get("/search", params={"q": "harbour"}).json()["hits"] if h["id"] == archive.huge
    )
    assert any("<em>harbour</em>" in fragment for fragment in huge["highlight"]["body"])
    assert client.get(f"/articles/{archive.huge}").json()["body"] == HUGE_BODY
    article = client.get(f"/article/{archive.huge}")
    assert article.status_code == 200 and "needle" in article.text


def test_an_error_the_index_causes_is_a_server_error_that_never_blames_the_query(archive, client):
    # An operator lowered the index's own highlight limit below DATELINE_HIGHLIGHT_MAX_CHARS:
    # Elasticsearch refuses every search that matches the huge article.
    es = make_client(archive.settings.elasticsearch_url)
    es.indices.put_settings(
        index=archive.settings.index, settings={"index.highlight.max_analyzed_offset": 1000}
    )
    response = client.get("/search", params={"q": "harbour"})
    assert response.status_code == 500, response.text[:300]
    detail = response.json()["detail"]
    assert (
        detail.startswith("the archive failed to answer this search")
        and "DATELINE_HIGHLIGHT_MAX_CHARS" in detail
    )
    assert "plain words" not in detail and "exception" not in detail
    page = client.get("/", params={"q": "harbour"})
    assert page.status_code == 500 and "The archive failed to answer this search" in page.text
    assert "plain words" not in page.text
    result = CliRunner().invoke(cli, ["search", "harbour"])
    assert (
        result.exit_code == 1 and "failed to answer" in result.output and "plain words" not in result.output
    )
    # A search that does not match the huge article is answered.
    assert client.get("/search", params={"q": "dockers"}).json()["total"] == 1


def test_a_query_elasticsearch_cannot_parse_is_read_as_the_query_s_and_answered(archive, client):
    # Elasticsearch refuses "harbour AND (" (query_shard_exception from a parse_exception); read
    # by its types as the query's syntax, it is run again in the forgiving simple syntax.
    for where in ("/search", "/"):
        response = client.get(where, params={"q": "harbour AND ("})
        assert response.status_code == 200, (where, response.text[:300])
    assert client.get("/search", params={"q": "harbour AND ("}).json()["total"] == 2


def test_a_hostile_article_is_shown_inert(archive, client):
    page = client.get(f"/article/{archive.hostile}")
    assert page.status_code == 200
    assert (
        "javascript:" not in page.text and "<script>alert" not in page.text and "<img src=x" not in page.text
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "link not shown" in page.text
    hits = client.get("/", params={"q": "zeppelin"})
    assert "javascript:" not in hits.text and "<script>alert" not in hits.text
    assert client.get(f"/articles/{archive.small}").json()["url"] is None


def test_the_back_link_comes_from_the_search_not_from_referer(archive, client):
    results = client.get("/", params={"q": "harbour", "lang": "en"}).text
    links = set(re.findall(r'href="(/article/[0-9a-f]{32}\?back=[^"]+)"', results))
    assert f"/article/{archive.small}?back=/%3Fq%3Dharbour%26lang%3Den" in links
    back = 'class="back"><a href="{}">'
    article = client.get(
        f"/article/{archive.small}",
        params={"back": "/?q=harbour&lang=en"},
        headers={"Referer": "https://evil.example/"},
    ).text
    assert back.format("/?q=harbour&amp;lang=en") in article
    for hostile in ("https://evil.example/?q=x", "//evil.example", "javascript:alert(1)", "/\\evil.example"):
        article = client.get(
            f"/article/{archive.small}",
            params={"back": hostile},
            headers={"Referer": "https://evil.example/"},
        ).text
        assert back.format("/") in article and "evil.example" not in article, hostile
    plain = client.get(f"/article/{archive.small}", headers={"Referer": "https://evil.example/?q=x"}).text
    assert back.format("/") in plain and "evil.example" not in plain

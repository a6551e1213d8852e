"""A malformed article or story id is a 404 in words, on the pages (HTML) and, for articles,
the JSON API; decided before any backend is asked (Elasticsearch here is a closed port)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from services.api.app import create_app
from shared.settings import Settings

LOCAL = "http://127.0.0.1"


def _client() -> TestClient:
    # Nothing listens on port 9: a route that asked Elasticsearch would answer 503, not 404.
    return TestClient(
        create_app(Settings(_env_file=None, elasticsearch_url="http://127.0.0.1:9")), base_url=LOCAL
    )


def test_a_malformed_article_id_is_a_404_page_naming_the_id() -> None:
    response = _client().get("/article/not-an-id")
    assert response.status_code == 404
    assert "No such article" in response.text and "is not an article id" in response.text


def test_a_malformed_story_id_is_a_404_page_naming_the_id() -> None:
    response = _client().get("/story/bad%20story")
    assert response.status_code == 404
    assert "No such story" in response.text and "is not a story id" in response.text

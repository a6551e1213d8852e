"""A search matching more documents than DATELINE_SEARCH_EXACT_MAX counts a sample of its
stories, on a real Elasticsearch: the estimates are near the exact counts, a story of many
versions still counts once, and the page and JSON say the counts are estimates."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from elasticsearch import helpers
from fastapi.testclient import TestClient

from services.api.app import create_app
from shared.schemas import ArticleDocument, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.search.models import SearchParams
from shared.search.query import search
from shared.settings import Settings, get_settings
from shared.stories.index import story_id_for
from tests.support.indices import drop_dateline_index

STORIES = 1200
SOURCES = ("AP", "Reuters", "Daily", "Herald")


def versions(story: int) -> int:
    """1 to 4 versions a story: copies that a document sample would count several times."""
    return 1 + story % 4


@pytest.fixture(scope="module")
def archive(es_url: str) -> Iterator[tuple[str, Counter[str]]]:
    """STORIES stories of 1-4 versions; the exact number of stories per source."""
    name = f"test-sample-{uuid.uuid4().hex[:10]}"
    es = make_client(es_url)
    ensure_index(es, name, Settings(_env_file=None, elasticsearch_url=es_url, index=name))
    operations = []
    by_source: dict[str, set[str]] = {s: set() for s in SOURCES}
    for story in range(STORIES):
        story_id = story_id_for(f"story-{story}", "text")
        for version in range(versions(story)):
            source = SOURCES[(story + version) % len(SOURCES)] if story % 3 else SOURCES[0]
            by_source[source].add(story_id)
            path = f"s{story}/v{version}.txt"
            doc = ArticleDocument(
                id=document_id(path),
                source_path=path,
                format="text",
                title=f"Harbour report {story}",
                body=f"The harbour reopened, version {version} of story {story}.",
                content_sha256=uuid.uuid4().hex,
                source=source,
                language="en",
                story_id=story_id,
                published_at=datetime(2024, 1 + story % 12, 1 + version, tzinfo=timezone.utc),
            )
            operations.append({"_index": name, "_id": doc.id, "_source": doc.model_dump(mode="json")})
    helpers.bulk(es, operations, refresh=True)
    yield name, Counter({source: len(ids) for source, ids in by_source.items()})
    drop_dateline_index(es, name)


@pytest.fixture
def sampled_settings(monkeypatch: pytest.MonkeyPatch, es_url: str, archive) -> Iterator[str]:
    name, _ = archive
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", es_url)
    monkeypatch.setenv("DATELINE_INDEX", name)
    monkeypatch.setenv("DATELINE_SEARCH_EXACT_MAX", "500")
    monkeypatch.setenv("DATELINE_SEARCH_SAMPLE_DOCUMENTS", "1000")
    get_settings.cache_clear()
    yield name
    get_settings.cache_clear()


def documents() -> int:
    return sum(versions(s) for s in range(STORIES))


def test_counts_of_a_huge_result_set_are_estimated_from_whole_stories(sampled_settings, es_url, archive):
    _, exact_by_source = archive
    result = search(make_client(es_url), sampled_settings, SearchParams(query="harbour"))
    assert result.matches == documents()
    # ceil(256 * 1000 / 3000) parts of 256: a third of the stories.
    assert result.sampled == pytest.approx(86 / 256)
    # A story of four versions is in the sample whole or not at all, so it still counts once:
    # sampling documents would have put the estimate near the 3,000 documents.
    assert abs(result.total - STORIES) < 0.15 * STORIES
    for source, exact in exact_by_source.items():
        assert abs(result.facets["source"][source] - exact) < 0.2 * exact, (source, exact, result.facets)
    months = result.facets["published_at"]
    assert abs(sum(months.values()) - STORIES) < 0.2 * STORIES
    assert len(result.hits) == 10 and len({h.story_id for h in result.hits}) == 10  # hits are not sampled


def test_documents_are_estimated_without_collapse(sampled_settings, es_url):
    result = search(make_client(es_url), sampled_settings, SearchParams(query="harbour", collapse=False))
    assert result.sampled is not None
    assert result.total == documents()  # the number of matches is always exact
    assert abs(sum(result.facets["source"].values()) - documents()) < 0.15 * documents()


def test_a_narrow_search_is_counted_exactly(sampled_settings, es_url):
    result = search(make_client(es_url), sampled_settings, SearchParams(query='"Harbour report 7"'))
    assert result.sampled is None
    assert (result.matches, result.total) == (versions(7), 1)


def test_the_page_says_the_counts_are_estimates(sampled_settings):
    settings = get_settings()
    client = TestClient(create_app(settings), base_url="http://127.0.0.1")
    page = client.get("/", params={"q": "harbour"})
    assert page.status_code == 200
    assert "About " in page.text and "are estimated from 33.6% of their stories" in page.text
    assert "≈" in page.text
    exact = client.get("/", params={"q": '"Harbour report 7"'})
    assert exact.status_code == 200 and "estimated from" not in exact.text and "About " not in exact.text


def test_status_counts_the_stories_of_a_large_archive_on_the_same_sample(
    sampled_settings, es_url, monkeypatch
):
    from shared.search.outcomes import stage_outcomes

    es = make_client(es_url)
    estimated = stage_outcomes(es, sampled_settings).stories
    assert estimated.sampled == pytest.approx(86 / 256)
    assert abs(estimated.stories - STORIES) < 0.15 * STORIES
    monkeypatch.setenv("DATELINE_SEARCH_EXACT_MAX", str(10 * documents()))
    get_settings.cache_clear()
    exact = stage_outcomes(es, sampled_settings).stories
    assert (exact.stories, exact.sampled) == (STORIES, None)

"""How many documents joined an existing story: `dateline status` (text and --json) and the
pipeline page, from a real Redis story index and a real Elasticsearch; the counts stay right
when a batch is written again and when a document leaves."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import pytest
import redis
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.api.app import create_app
from services.cli.status import status_command
from shared.schemas import ArticleDocument, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.search.outcomes import StoryCounts
from shared.settings import Settings, get_settings
from shared.stories.index import StoryIndex
from shared.stories.signature import signature
from tests.integration.test_story_index import copy_of, story_text
from tests.support.indices import drop_dateline_index

app = typer.Typer()
app.command("status")(status_command)
app.command("noop")(lambda: None)  # two commands, so "status" is a sub-command as in main


@pytest.fixture
def settings(es_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    alias = f"test-{uuid.uuid4().hex[:12]}"
    url = redis_url.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(url).flushdb()
    monkeypatch.setenv("DATELINE_INDEX", alias)
    monkeypatch.setenv("DATELINE_REDIS_URL", url)
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", es_url)
    get_settings.cache_clear()
    cfg = get_settings()
    ensure_index(make_client(es_url), alias, cfg)
    yield cfg
    drop_dateline_index(make_client(es_url), alias)
    redis.Redis.from_url(url).flushdb()
    get_settings.cache_clear()


def _write(cfg: Settings, stories: StoryIndex, texts: dict[str, str]) -> None:
    """As the indexer writes a batch: each document's story assigned, then the document."""
    es = make_client(cfg.elasticsearch_url)
    for name, text in texts.items():
        doc = ArticleDocument(
            id=document_id(f"counts/{name}.txt"),
            source_path=f"counts/{name}.txt",
            format="text",
            title=name,
            body=text,
            content_sha256=str(hash(text)),
        )
        assignment = stories.assign(doc.id, doc.source_path, doc.content_sha256, signature(text))
        doc.story_id, doc.story_joined = assignment.story_id, assignment.joined
        es.index(index=cfg.index, id=doc.id, document=doc.model_dump(mode="json"))
    es.indices.refresh(index=cfg.index)


def _status() -> dict:
    result = CliRunner().invoke(app, ["status", "--json"])
    return json.loads(result.stdout)


def test_documents_that_joined_a_story_are_counted_in_status_and_on_the_pipeline_page(settings):
    stories = StoryIndex(redis.Redis.from_url(settings.redis_url), settings.story_threshold)
    wire, other = story_text(31), story_text(32)
    batch = {"wire": wire, "paper": copy_of(wire, 0), "site": copy_of(wire, 2), "other": other}
    _write(settings, stories, batch)
    assert StoryCounts.model_validate(_status()["stories"]) == StoryCounts(joined=2, stories=2)

    _write(settings, stories, batch)  # the batch written again (a retry, a replay): nothing changes
    assert StoryCounts.model_validate(_status()["stories"]) == StoryCounts(joined=2, stories=2)

    # A copy's file is deleted: it leaves the story and the count.
    site = document_id("counts/site.txt")
    stories.remove([site])
    es = make_client(settings.elasticsearch_url)
    es.delete(index=settings.index, id=site, refresh=True)
    assert StoryCounts.model_validate(_status()["stories"]) == StoryCounts(joined=1, stories=2)

    text = CliRunner().invoke(app, ["status"]).stdout
    assert re.search(r"Stories\s+2 distinct\s+1 document\(s\) joined an existing story", text)
    body = TestClient(create_app(settings), base_url="http://127.0.0.1").get(
        "/pipeline", params={"part": "body"}
    )
    assert body.status_code == 200
    assert re.search(r'data-count="joined-story">1<', body.text)
    assert re.search(r'data-count="stories">2<', body.text)

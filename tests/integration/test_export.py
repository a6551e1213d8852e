"""Exports against a real Elasticsearch: more than 10,000 documents, every row exactly once
(API and CLI, CSV and JSON Lines), the search's filters, one row per story, facets and the
histogram as on the page, errors before the first byte, the snapshot always closed, and
memory that does not grow with the export."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from elasticsearch import Elasticsearch, helpers
from fastapi.testclient import TestClient

from services.api.app import create_app
from shared.schemas import ArticleDocument, Entities, document_id
from shared.search.client import make_client
from shared.search.export import Export, ExportParams
from shared.search.index import ensure_index
from shared.search.models import SearchParams
from shared.search.query import PUBLISHED, search
from shared.settings import Settings
from tests.support.cli import dateline
from tests.support.indices import drop_dateline_index
from tests.support.paths import REPO_DIR

TOTAL = 12_000  # past Elasticsearch's 10,000-hit window
STORY_COPIES = 4  # the first 400 documents are 100 stories of 4 copies each
COPIED = 400
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def make_document(i: int) -> ArticleDocument:
    return ArticleDocument(
        id=document_id(f"export/{i}.txt"),
        source_path=f"export/{i}.txt",
        format="text",
        title=f"Report {i}" if i % 7 else f"=cmd|' /C calc'!A{i}",
        body="Floods in the valley." if i % 3 == 0 else "The harbour reopened.",
        content_sha256=f"copy-{i // STORY_COPIES}" if i < COPIED else f"solo-{i}",
        source=f"S{i % 10}",
        language="en" if i % 2 else "de",
        # Copies of one story are published a day apart, the last copy first.
        published_at=START
        + timedelta(days=(i % 300) + (STORY_COPIES - i % STORY_COPIES) * 400 * (i < COPIED)),
        entities=Entities(location=["Pakistan"] if i % 5 == 0 else [], person=["Imran Khan"]),
        summary="A summary, with a comma." if i % 11 == 0 else None,
    )


@pytest.fixture(scope="module")
def es(es_url: str) -> Elasticsearch:
    return make_client(es_url)


@pytest.fixture(scope="module")
def alias(es: Elasticsearch, es_url: str) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    ensure_index(es, name, Settings(elasticsearch_url=es_url, index=name))
    helpers.bulk(
        es.options(request_timeout=120),
        (
            {"_index": name, "_id": d.id, "_source": d.model_dump(mode="json")}
            for d in map(make_document, range(TOTAL))
        ),
        chunk_size=2000,
    )
    es.indices.refresh(index=name)
    yield name
    drop_dateline_index(es, name)


@pytest.fixture(scope="module")
def client(alias: str, es_url: str) -> TestClient:
    return TestClient(
        create_app(Settings(elasticsearch_url=es_url, index=alias)), base_url="http://127.0.0.1"
    )


def open_contexts(es: Elasticsearch) -> int:
    """Search contexts open on the cluster: every point in time an export left open."""
    stats = es.nodes.stats(metric="indices", index_metric="search")
    return sum(node["indices"]["search"]["open_contexts"] for node in stats["nodes"].values())


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_every_document_exactly_once_past_ten_thousand(client, es):
    response = client.get("/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="dateline-export-')
    rows = csv_rows(response.text)
    ids = [row["id"] for row in rows]
    assert len(ids) == TOTAL and len(set(ids)) == TOTAL
    assert set(ids) == {document_id(f"export/{i}.txt") for i in range(TOTAL)}
    by_path = {row["path"]: row for row in rows}
    seventh = by_path["export/7.txt"]
    assert seventh["title"] == "'=cmd|' /C calc'!A7"  # never a formula in a spreadsheet
    assert seventh["places"] == "" and seventh["people"] == "Imran Khan" and seventh["language"] == "en"
    assert by_path["export/0.txt"]["places"] == "Pakistan"

    lines = client.get("/export", params={"format": "jsonl"}).text.splitlines()
    documents = [json.loads(line) for line in lines]
    assert len(documents) == TOTAL and len({d["id"] for d in documents}) == TOTAL
    assert {d["id"] for d in documents} == set(ids)
    assert open_contexts(es) == 0  # every export closed its point in time


def test_the_search_filters_and_query_apply(client, es, alias):
    params = {"q": "floods", "lang": "en", "since": "2024-02"}
    rows = csv_rows(client.get("/export", params=params).text)
    expected = search(
        es, alias, SearchParams(query="floods", lang=["en"], since="2024-02", collapse=False)
    ).total
    assert len(rows) == expected > 0
    for row in rows:
        i = int(row["path"].removeprefix("export/").removesuffix(".txt"))
        assert i % 3 == 0 and i % 2 == 1 and row["published_at"] >= "2024-02"
    # In the page's order: with sort=date, newest first.
    dated = [
        row["published_at"] for row in csv_rows(client.get("/export", params={**params, "sort": "date"}).text)
    ]
    assert dated == sorted(dated, reverse=True)


def test_collapse_gives_each_storys_first_version(client):
    rows = csv_rows(client.get("/export", params={"collapse": "true"}).text)
    stories = COPIED // STORY_COPIES + (TOTAL - COPIED)
    assert len(rows) == stories and len({row["id"] for row in rows}) == stories
    paths = {row["path"] for row in rows}
    # Copies 0..3 of a story: the last one was published first and stands for the story.
    assert "export/3.txt" in paths and not {"export/0.txt", "export/1.txt", "export/2.txt"} & paths


def test_facets_and_histogram_as_on_the_page(client, es, alias):
    for collapse in (True, False):
        result = search(es, alias, SearchParams(lang=["de"], collapse=collapse, facet_size=20))
        params = {"lang": "de", "collapse": str(collapse).lower(), "facet_size": 20}
        facets = csv_rows(client.get("/export/facets.csv", params=params).text)
        assert facets, "no facet rows"
        got: dict[str, dict[str, int]] = {}
        for row in facets:
            got.setdefault(row["facet"], {})[row["value"]] = int(row["count"])
        assert got == {
            field: counts for field, counts in result.facets.items() if counts and field != PUBLISHED
        }
        histogram = csv_rows(client.get("/export/histogram.csv", params=params).text)
        assert {row["period"]: int(row["count"]) for row in histogram} == result.facets[PUBLISHED]
    assert got["language"] == {"de": TOTAL // 2}


def test_refusals_come_before_the_first_byte(client, es, es_url):
    bad = client.get("/export", params={"q": "nosuchfield:x"})
    assert bad.status_code == 422 and "nosuchfield" in bad.json()["detail"]
    assert client.get("/export", params={"format": "xlsx"}).status_code == 422
    missing = TestClient(
        create_app(Settings(elasticsearch_url=es_url, index="test-missing-export")),
        base_url="http://127.0.0.1",
    )
    answer = missing.get("/export")
    assert answer.status_code == 503 and "does not exist" in answer.json()["detail"]
    assert open_contexts(es) == 0


def test_an_abandoned_export_closes_its_snapshot(es, alias):
    run = Export(es, alias, ExportParams(), page_size=100)
    stream = run.stream("csv")
    assert next(stream).startswith("id,title,")
    assert open_contexts(es) == 1
    stream.close()  # what happens when a client goes away mid-download
    assert open_contexts(es) == 0


def _peak_bytes(es: Elasticsearch, alias: str, params: ExportParams) -> tuple[int, int]:
    """(rows, peak traced bytes) of streaming the export and dropping it as it comes."""
    run = Export(es, alias, params, page_size=500)
    rows = 0
    tracemalloc.start()
    try:
        for chunk in run.stream("csv"):
            rows += chunk.count("\r\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return rows - 1, peak


def test_memory_does_not_grow_with_the_export(es, alias):
    small_rows, small = _peak_bytes(es, alias, ExportParams(source=["S3"]))
    large_rows, large = _peak_bytes(es, alias, ExportParams())
    assert (small_rows, large_rows) == (TOTAL // 10, TOTAL)
    # Ten times the rows, the same pages: a growing buffer would be ten times the peak.
    assert large < 2 * small, (small, large)


def test_cli_exports_to_a_file_and_to_a_pipe(es, alias, es_url, tmp_path):
    env = {
        **os.environ,
        "DATELINE_ELASTICSEARCH_URL": es_url,
        "DATELINE_INDEX": alias,
        "DATELINE_EXPORT_PAGE_SIZE": "700",
    }
    target = tmp_path / "german.jsonl"
    done = dateline(env, "export", "--lang", "de", "--format", "jsonl", "-o", str(target))
    assert done.returncode == 0, done.stderr
    documents = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(documents) == TOTAL // 2 and len({d["id"] for d in documents}) == TOTAL // 2
    assert {d["language"] for d in documents} == {"de"}
    assert f"{TOTAL // 2}/{TOTAL // 2}" in done.stderr  # the progress bar, on stderr
    assert not (tmp_path / "german.jsonl.part").exists()

    piped = dateline(env, "export", "floods", "--source", "S3")
    assert piped.returncode == 0, piped.stderr
    rows = csv_rows(piped.stdout)
    assert len(rows) == len([i for i in range(TOTAL) if i % 10 == 3 and i % 3 == 0])
    assert {row["source"] for row in rows} == {"S3"}

    facets = dateline(env, "export", "--facets", "--no-collapse", "--lang", "en")
    assert facets.returncode == 0, facets.stderr
    assert {"facet": "language", "value": "en", "count": str(TOTAL // 2)} in csv_rows(facets.stdout)

    refused = dateline(env, "export", "nosuchfield:x", "-o", str(tmp_path / "x.csv"))
    assert refused.returncode == 2 and "nosuchfield" in refused.stderr

    # A reader that stops early (`| head`) ends the export quietly, its snapshot closed.
    export = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "export"],
        cwd=REPO_DIR,
        env={**env, "DATELINE_EXPORT_PAGE_SIZE": "100"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert export.stdout is not None and export.stderr is not None
    assert export.stdout.readline().startswith(b"id,title,")
    export.stdout.close()
    assert export.wait(timeout=300) == 0
    assert b"Traceback" not in export.stderr.read()
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.csv.part").exists()
    assert open_contexts(es) == 0


def test_the_search_pages_export_links_work(client, es, alias):
    """The page links to the exports with its own state: each link answers with the file."""
    page = client.get("/", params={"q": "floods", "lang": "en", "page": "2"})
    assert page.status_code == 200
    links = [html.unescape(href) for href in re.findall(r'class="export-link" href="([^"]+)"', page.text)]
    assert len(links) == 4, links
    for link in links:
        answer = client.get(link)
        assert answer.status_code == 200, (link, answer.text[:200])
        assert "attachment" in answer.headers["content-disposition"]
    rows = csv_rows(client.get(links[0]).text)
    expected = search(es, alias, SearchParams(query="floods", lang=["en"], collapse=False)).total
    assert len(rows) == expected > 10 and {row["language"] for row in rows} == {"en"}
    assert all(int(row["path"].removeprefix("export/").removesuffix(".txt")) % 3 == 0 for row in rows)

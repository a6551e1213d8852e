"""Watchlists against a real Elasticsearch, through the API (with its token check) and the
CLI: counts per line, the matches, names as phrases or as entities under every alias."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from services.api.app import create_app
from shared.schemas import ArticleDocument, Entities, document_id
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.settings import Settings
from shared.watches.models import alert_index, watch_index
from tests.support.cli import dateline
from tests.support.indices import drop_dateline_index

TOKEN = "watchlist-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def doc(key: str, title: str, body: str, language: str = "en", **entities: list[str]) -> ArticleDocument:
    return ArticleDocument(
        id=document_id(f"watch/{key}.txt"),
        source_path=f"watch/{key}.txt",
        format="text",
        title=title,
        body=body,
        content_sha256=f"sha-{key}",
        source="Wire",
        language=language,
        entities=Entities(**entities),
    )


DOCS = {
    "merkel": doc("merkel", "Kanzlerin", "Angela Merkel traf die Presse.", "de", person=["Angela Merkel"]),
    "us": doc("us", "US growth", "The US economy grew.", location=["United States"]),
    "usa": doc(
        "usa", "Trade", "Exports to the USA fell.", location=["USA"]
    ),  # enriched before the table knew
    "pronoun": doc("pronoun", "A song", "All of us and them."),
    "reversed": doc("reversed", "Quote", "Merkel, Angela, was quoted."),
    "flood": doc("flood", "Sindh", "The flood in Sindh spread."),
    "pakistan": doc("pakistan", "Monsoon", "Rain fell across Pakistan.", location=["Pakistan"]),
    "untagged": doc("untagged", "Rain", "More rain for Pakistan today."),  # NER missed it
}
ID_KEYS = {d.id: key for key, d in DOCS.items()}


@pytest.fixture(scope="module")
def alias(es_url: str) -> Iterator[str]:
    es = make_client(es_url)
    name = f"test-{uuid.uuid4().hex[:12]}"
    ensure_index(es, name, Settings(elasticsearch_url=es_url, index=name))
    for item in DOCS.values():
        es.index(index=name, id=item.id, document=item.model_dump(mode="json"))
    es.indices.refresh(index=name)
    yield name
    drop_dateline_index(es, name)
    es.indices.delete(index=[watch_index(name), alert_index(name)], ignore_unavailable=True)


def client_for(es_url: str, alias: str, **settings: object) -> TestClient:
    # Not from .env: make setup writes an API token there, and these tests choose their own.
    cfg = Settings(_env_file=None, elasticsearch_url=es_url, index=alias, export_page_size=2, **settings)  # type: ignore[arg-type,call-arg]
    return TestClient(create_app(cfg), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def client(es_url: str, alias: str) -> TestClient:
    return client_for(es_url, alias, api_token=TOKEN)


def upload(text: str, name: str = "list.txt") -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, text.encode("utf-8"), "text/plain")}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


LIST = "United States\nAngela Merkel\nnobody at all\n=SUM(A1:A9)\n"


def test_upload_is_refused_without_the_token(client, es_url, alias):
    assert client.post("/watchlists", files=upload(LIST)).status_code == 401
    wrong = client.post("/watchlists", files=upload(LIST), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "token" in wrong.json()["detail"]
    unset = client_for(es_url, alias).post("/watchlists", files=upload(LIST), headers=AUTH)
    assert unset.status_code == 403 and "DATELINE_API_TOKEN" in unset.json()["detail"]


def test_the_token_is_checked_before_the_upload_is_read(client):
    """Without the token the body is never parsed: a broken form is refused as unauthorised,
    not as broken; with the token it is read, and checked."""
    broken = {"content-type": "multipart/form-data; boundary=xyz"}
    garbage = b"--xyz\r\nContent-Disposition: form-data; name=file\r\n\r\nno closing boundary"
    assert client.post("/watchlists", content=garbage, headers=broken).status_code == 401
    read = client.post("/watchlists", content=garbage, headers={**broken, **AUTH})
    assert read.status_code in (400, 422), read.text
    assert client.post("/watchlists", data={"other": "x"}, headers=AUTH).status_code == 422
    assert (
        "field named 'file'" in client.post("/watchlists", data={"other": "x"}, headers=AUTH).json()["detail"]
    )
    huge = client.post("/watchlists", files=upload("x\n" * 600_000), headers=AUTH)
    assert huge.status_code == 413 and "DATELINE_WATCHLIST_MAX_LINES" in huge.json()["detail"]
    assert client.post("/watchlists", files=upload("x\n" * 600_000)).status_code == 401


def test_counts_per_line(client):
    response = client.post("/watchlists", files=upload(LIST), headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="dateline-watchlist-counts-'
    )
    found = {row["line"]: row for row in rows(response.text)}
    assert list(found) == ["United States", "Angela Merkel", "nobody at all", "'=SUM(A1:A9)"]
    # An entity the alias table knows matches under each of its names; "us" the word does not.
    assert found["United States"]["count"] == "2" and found["United States"]["query"].startswith("entity: ")
    assert found["Angela Merkel"] == {"line": "Angela Merkel", "query": "phrase: Angela Merkel", "count": "1"}
    assert found["nobody at all"]["count"] == "0"
    # A line is data, never a formula in a spreadsheet.
    assert found["'=SUM(A1:A9)"] == {"line": "'=SUM(A1:A9)", "query": "phrase: =SUM(A1:A9)", "count": "0"}


def test_matches_are_the_counted_articles(client):
    response = client.post("/watchlists", files=upload(LIST), params={"output": "matches"}, headers=AUTH)
    assert response.status_code == 200
    matched: dict[str, set[str]] = {}
    for row in rows(response.text):
        matched.setdefault(row["line"], set()).add(ID_KEYS[row["id"]])
    assert matched == {"United States": {"us", "usa"}, "Angela Merkel": {"merkel"}}
    assert rows(response.text)[0].keys() >= {"line", "id", "title", "people", "places", "path"}


def test_a_known_entity_also_matches_its_names_in_the_text(client):
    counted = rows(
        client.post(
            "/watchlists", files=upload("Pakistan\nIslamic Republic of Pakistan\n"), headers=AUTH
        ).text
    )
    assert [(row["line"], row["count"]) for row in counted] == [
        ("Pakistan", "2"),
        ("Islamic Republic of Pakistan", "2"),
    ]
    matched = rows(
        client.post(
            "/watchlists", files=upload("Pakistan\n"), params={"output": "matches"}, headers=AUTH
        ).text
    )
    assert {ID_KEYS[row["id"]] for row in matched} == {"pakistan", "untagged"}


def test_filters_narrow_every_line_and_queries_are_queries(client):
    german = rows(client.post("/watchlists", files=upload(LIST), params={"lang": "de"}, headers=AUTH).text)
    assert {row["line"]: row["count"] for row in german}["United States"] == "0"
    assert {row["line"]: row["count"] for row in german}["Angela Merkel"] == "1"
    queries = client.post(
        "/watchlists", files=upload("query\nflood AND Sindh\ntitle:trade\n", "q.csv"), headers=AUTH
    )
    assert [(row["line"], row["count"]) for row in rows(queries.text)] == [
        ("flood AND Sindh", "1"),
        ("title:trade", "1"),
    ]


def test_bad_files_are_refused_with_the_reason(client, es_url, alias):
    latin = client.post(
        "/watchlists", files={"file": ("l.txt", "Zürich\n".encode("latin-1"), "text/plain")}, headers=AUTH
    )
    assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
    no_column = client.post("/watchlists", files=upload("company,country\nAcme,US\n", "l.csv"), headers=AUTH)
    assert no_column.status_code == 422 and "no column 'name' or 'query'" in no_column.json()["detail"]
    small = client_for(es_url, alias, api_token=TOKEN, watchlist_max_lines=2)
    long = small.post("/watchlists", files=upload("a\nb\nc\n"), headers=AUTH)
    assert long.status_code == 422 and "at most 2" in long.json()["detail"]
    bad_query = client.post("/watchlists", files=upload("query\nnosuchfield:x\n"), headers=AUTH)
    assert bad_query.status_code == 422 and "line 2" in bad_query.json()["detail"]


def test_cli_watchlist_writes_counts_and_matches(es_url, alias, tmp_path):
    source = tmp_path / "names.txt"
    source.write_text("\ufeffUnited States\nAngela Merkel\n", encoding="utf-8")
    counts, matches = tmp_path / "counts.csv", tmp_path / "matches.csv"
    env = {**os.environ, "DATELINE_ELASTICSEARCH_URL": es_url, "DATELINE_INDEX": alias}
    done = dateline(env, "watchlist", str(source), "-o", str(counts), "--matches", str(matches))
    assert done.returncode == 0, done.stderr
    assert [(r["line"], r["count"]) for r in rows(counts.read_text(encoding="utf-8"))] == [
        ("United States", "2"),
        ("Angela Merkel", "1"),
    ]
    assert sorted((r["line"], ID_KEYS[r["id"]]) for r in rows(matches.read_text(encoding="utf-8"))) == [
        ("Angela Merkel", "merkel"),
        ("United States", "us"),
        ("United States", "usa"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("company\nAcme\n", encoding="utf-8")
    refused = dateline(env, "watchlist", str(bad))
    assert refused.returncode == 2 and "no column 'name' or 'query'" in refused.stderr


def test_counts_and_matches_agree_for_every_line(client, es_url):
    """Counted and read in one snapshot: a line's count is its number of match rows."""
    names = "\n".join(["United States", "US", "USA", "Angela Merkel", "Sindh", "us", "Wire"])
    counts = {
        row["line"]: int(row["count"])
        for row in rows(client.post("/watchlists", files=upload(names), headers=AUTH).text)
    }
    per_line: dict[str, int] = {}
    for row in rows(
        client.post("/watchlists", files=upload(names), params={"output": "matches"}, headers=AUTH).text
    ):
        per_line[row["line"]] = per_line.get(row["line"], 0) + 1
    assert {line: n for line, n in counts.items() if n} == per_line
    assert counts["US"] == counts["USA"] == counts["United States"] == counts["us"] == 2  # one entity
    es = Elasticsearch(es_url)
    stats = es.nodes.stats(metric="indices", index_metric="search")
    assert sum(n["indices"]["search"]["open_contexts"] for n in stats["nodes"].values()) == 0


def test_each_line_can_become_a_watch(client, es_url, alias):
    from shared.watches.models import WatchSpec
    from shared.watches.store import WatchStore

    names = "United States\nAngela Merkel\n"
    made = client.post("/watchlists", files=upload(names), params={"make_watches": "true"}, headers=AUTH)
    assert made.status_code == 200, made.text
    assert [(r["line"], r["count"], r["watch"], r["watch_status"]) for r in rows(made.text)] == [
        ("United States", "2", "watchlist United States", "created"),
        ("Angela Merkel", "1", "watchlist Angela Merkel", "created"),
    ]
    store = WatchStore(make_client(es_url), alias, Settings(elasticsearch_url=es_url, index=alias))
    watches = {w.name: w for w in store.list()}
    assert set(watches) == {"watchlist United States", "watchlist Angela Merkel"}
    assert watches["watchlist United States"].entity == ["United States"]
    # Each watch saves the line's search: what already matches it is what the line counted.
    for name, count in (("watchlist United States", 2), ("watchlist Angela Merkel", 1)):
        spec = WatchSpec.model_validate(watches[name].model_dump(include=set(WatchSpec.model_fields)))
        backfill = store.backfill(spec, size=10)
        assert backfill.total == count
    again = client.post(
        "/watchlists", files=upload(names), params={"make_watches": "true", "output": "matches"}, headers=AUTH
    )
    assert again.status_code == 200 and len(rows(again.text)) == 3
    counted = client.post("/watchlists", files=upload(names), params={"make_watches": "true"}, headers=AUTH)
    assert {r["watch_status"] for r in rows(counted.text)} == {"exists"}
    for name in watches:
        store.remove(name)


def test_json_for_programs(client):
    from shared.search.watchlist import MatchRow, WatchlistCounts

    counted = client.post("/watchlists", files=upload(LIST), params={"format": "json"}, headers=AUTH)
    assert counted.headers["content-type"].startswith("application/json")
    body = WatchlistCounts.model_validate_json(counted.text)
    assert [(c.line, c.count, c.match) for c in body.lines][:2] == [
        ("United States", 2, "entity"),
        ("Angela Merkel", 1, "phrase"),
    ]
    assert body.watches is None
    matched = client.post(
        "/watchlists", files=upload(LIST), params={"format": "json", "output": "matches"}, headers=AUTH
    )
    found = [MatchRow.model_validate_json(line) for line in matched.text.splitlines()]
    assert sorted((m.line, ID_KEYS[m.id]) for m in found) == [
        ("Angela Merkel", "merkel"),
        ("United States", "us"),
        ("United States", "usa"),
    ]

"""Search input that cannot hurt the cluster: a corpus of hostile queries (deep nesting, great
length, every operator of the query-string syntax, internal fields, wildcards and regular
expressions that expand without end, unicode of every kind, absurd filters) goes through the
HTTP API and ``dateline search``; each is answered (200) or refused with a sentence (422 /
exit status 2), never passed on as a server error or as Elasticsearch's own message, and
Elasticsearch is up, the same process, and healthy afterwards.

Before the checks, ``q`` = 3000 ``(`` made Elasticsearch 8.19.7 exit (StackOverflowError in
the query parser). This test runs against a node of its own, so a regression kills that node
(and fails here) rather than the session's.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.api.app import create_app
from services.cli.main import app as cli
from shared.schemas import ArticleDocument, Entities, document_id
from shared.search.index import ensure_index
from shared.search.syntax import MAX_DEPTH, MAX_QUERY_CHARS
from shared.settings import Settings, get_settings
from tests.conftest import TEST_DATA_DIR
from tests.support.elasticsearch_nodes import ElasticsearchNodes
from tests.support.indices import drop_dateline_index

OPERATORS = [
    "+",
    "-",
    "=",
    "&&",
    "||",
    ">",
    "<",
    "!",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "^",
    '"',
    "~",
    "*",
    "?",
    ":",
    "\\",
    "/",
    "AND",
    "OR",
    "NOT",
    "TO",
]
# Each of these could hurt the cluster or reach what is not for searching: always refused.
DANGEROUS: list[str] = [
    "(" * 3000,
    "(" * 20000,
    "(" * (MAX_DEPTH + 1) + "flood" + ")" * (MAX_DEPTH + 1),
    "flood" * (MAX_QUERY_CHARS // 5 + 1),
    "flood " * 40,
    "*" * 999,
    "*flood",
    "?lood",
    "f*",
    "title:*bour",
    "flood~100",
    '"rhine valley"~100000',
    "flood^1e308",
    "_id:x",
    "_index:articles*",
    "*:*",
    "source_path:*",
    "_exists_:body",
    "body.*:x",
    "provenance.entities.error:x",
    "content_sha256:[* TO *]",
    "flood\x00",
    "flood~rhine",
]
HOSTILE: list[str] = list(
    dict.fromkeys(
        [  # each once
            *DANGEROUS,
            "(" * 3000,  # made Elasticsearch exit
            "(" * 20000,
            "(" * (MAX_DEPTH + 1) + "flood" + ")" * (MAX_DEPTH + 1),
            "(flood " * 200,
            ")" * 3000,
            "((((((((((flood))))))))))",  # as deep as allowed: answered
            '"' * 999,
            "[" * 999,
            "{" * 999,
            "flood" * (MAX_QUERY_CHARS // 5 + 1),
            "flood " * 40,
            "*" * 999,
            "?" * 50,
            "*flood",
            "?lood",
            "f*",
            "fl*o*o*d*",
            "title:*",
            "flood~100",
            "flood~",
            "flood~2~2~2",
            '"rhine valley"~100000',
            "flood^1e308",
            "flood^-1",
            "flood^",
            "/.*a.{30}/",
            "/(.*){1,10000}/",
            "/" * 999,
            "a/b/c/d/e/f/g",
            "\\" * 999,
            "flood\\",
            "title:" * 200,
            "title:",
            ":",
            ":flood",
            "_id:x",
            "_index:articles*",
            "*:*",
            "source_path:*",
            "_exists_:body",
            "body.*:x",
            "provenance.entities.error:x",
            "content_sha256:[* TO *]",
            "published_at:[1000-01-01 TO 9999-12-31]",
            "published_at:>now-1000000y",
            "published_at:[now TO",
            'entities.person:"Angela Merkel"',
            "title:[a TO z]",
            "title:{* TO *}",
            "AND " * 300,
            "NOT " * 300,
            "OR OR OR",
            "+-!&&||" * 100,
            "flood && || !rhine",
            "flood AND (rhine OR (danube AND NOT (elbe OR (oder AND (main OR weser)))))",
            "\u202e\u202dflood",  # bidirectional overrides
            "\u200b\u200c\u200d" * 300,  # zero-width characters
            "a\u0301" * 400,  # combining accents
            "\U0001f30a" * 500,  # emoji
            "𝔣𝔩𝔬𝔬𝔡 ﬂood ＦＬＯＯＤ",
            "（" * 999,  # full-width parenthesis: text, not syntax
            "\u3000" * 999,  # ideographic space
            "فيضان نهر الراين",
            "洪水 莱茵河",
            "наводнение",
            "flood\x00",
            "flood\x1b[31m",
            "\ufeffflood",
            "\ufffd" * 50,
            *OPERATORS,
            *(op * 500 for op in OPERATORS if len(op) == 1),
            *(f"flood{op}rhine" for op in OPERATORS),
            *(f"title:{op}" for op in OPERATORS),
        ]
    )
)
BAD_FILTERS: list[dict[str, object]] = [
    {"lang": [f"l{i}" for i in range(1000)]},
    {"source": ["x" * 10000]},
    {"entity": ["person=" + "x" * 10000]},
    {"entity": ["=" * 500]},
    {"since": "9" * 1000},
    {"until": "2024-13-45"},
    {"size": -1},
    {"size": 10**9},
    {"page": 10**12},
    {"facet_size": 10**9},
    {"collapse": "maybe"},
]
# What Elasticsearch and Python say about themselves: never in a person's error.
INTERNALS = re.compile(
    r"exception|org\.elasticsearch|org\.apache|lucene|traceback|BadRequestError|ApiError"
    r"|TransportError|query_shard|StackOverflow",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def node() -> Iterator[ElasticsearchNodes]:
    nodes = ElasticsearchNodes(TEST_DATA_DIR / "hostile", TEST_DATA_DIR, identifier="dateline-test-hostile")
    try:
        nodes.start_node()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def settings(node: ElasticsearchNodes, redis_url: str) -> Iterator[Settings]:
    cfg = Settings(
        _env_file=None, elasticsearch_url=node.url, redis_url=redis_url, index=f"test-{uuid.uuid4().hex[:10]}"
    )
    es = node.client()
    ensure_index(es, cfg.index, cfg)
    for i in range(3):
        doc = ArticleDocument(
            id=document_id(f"hostile/{i}.txt"),
            source_path=f"hostile/{i}.txt",
            format="text",
            title=f"Flood warning {i}",
            body="Rivers rose across the Rhine valley; flood 24/7 coverage.",
            content_sha256=f"sha-{i}",
            source="Wire",
            language="en",
            published_at=datetime(2024, 6, 1, tzinfo=timezone.utc),
            entities=Entities(location=["Rhine"]),
        )
        es.index(index=cfg.index, id=doc.id, document=doc.model_dump(mode="json"))
    es.indices.refresh(index=cfg.index)
    yield cfg
    drop_dateline_index(es, cfg.index)


def _words(text: str) -> str:
    return " ".join(text.split())


def test_hostile_queries_are_answered_or_refused_and_elasticsearch_stays_up(node, settings, monkeypatch):
    process = node.processes["elasticsearch"]
    pid = process.pid
    client = TestClient(create_app(settings), base_url="http://127.0.0.1")
    monkeypatch.setenv("DATELINE_ELASTICSEARCH_URL", settings.elasticsearch_url)
    monkeypatch.setenv("DATELINE_INDEX", settings.index)
    get_settings.cache_clear()
    refused_queries: set[str] = set()
    answered = 0
    try:
        for query in HOSTILE:
            response = client.get("/search", params={"q": query, "size": 3})
            assert response.status_code in (200, 422), (query[:60], response.status_code, response.text[:300])
            assert not INTERNALS.search(response.text) or response.status_code == 200, (
                query[:60],
                response.text[:300],
            )
            if response.status_code == 422:
                refused_queries.add(query)
                detail = response.json()["detail"]
                assert isinstance(detail, str) and detail, detail
                assert len(detail) < 600, detail  # a sentence: a long input is never echoed back
            else:
                answered += 1
                assert "total" in response.json()

            result = CliRunner().invoke(cli, ["search", "--size", "3", "--json", "--", query])
            assert result.exit_code in (0, 2), (query[:60], result.exit_code, result.output[-500:])
            assert (
                "Traceback" not in result.output
                and result.exception is None
                or isinstance(result.exception, SystemExit)
            ), (query[:60], repr(result.exception))
            assert (result.exit_code == 2) == (response.status_code == 422), (
                query[:60],
                result.output[-300:],
            )
            if result.exit_code == 2:
                # The same sentence as the API's, after the field's name.
                assert _words(response.json()["detail"].removeprefix("q: ")) in _words(result.output), query[
                    :60
                ]
                assert not INTERNALS.search(result.output), result.output[-300:]

        for params in BAD_FILTERS:
            response = client.get("/search", params=params)
            assert response.status_code == 422, (params, response.text[:300])
            assert isinstance(response.json()["detail"], str) and not INTERNALS.search(response.text)
            assert len(response.text) < 3000, "an error body that repeats the input"

        # Undecodable bytes on a command line (Python's surrogate escapes) are refused, not sent.
        result = CliRunner().invoke(cli, ["search", "caf\udce9"])
        assert result.exit_code == 2 and "not valid text" in result.output

        # A normal search still works, through both.
        found = client.get("/search", params={"q": "flood AND rhine", "collapse": "false"}).json()
        assert found["total"] == 3 and not found["partial"]
        assert client.get("/search", params={"q": "24/7"}).json()["total"] == 3
        result = CliRunner().invoke(cli, ["search", "--json", "title:flood"])
        assert result.exit_code == 0 and json.loads(result.output)["total"] == 3
    finally:
        get_settings.cache_clear()

    # Elasticsearch: the same process, running and healthy, and no fatal error in its log.
    assert process.running and process.pid == pid, process.describe()
    health = node.client().cluster.health()
    assert health["status"] in ("green", "yellow") and health["number_of_nodes"] == 1
    log = process.log()
    assert "StackOverflowError" not in log and "fatal error" not in log
    assert refused_queries >= set(DANGEROUS), set(DANGEROUS) - refused_queries
    print(
        f"\nhostile queries: {len(HOSTILE)} through the API and the CLI, {len(refused_queries)} refused, "
        f"{answered} answered; {len(BAD_FILTERS)} bad filters refused; Elasticsearch pid {pid} still running"
    )

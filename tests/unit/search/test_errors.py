"""Whose fault Elasticsearch's refusal of a search is, read from its error types (real error
bodies captured from Elasticsearch 8.19 by ``fixtures/elasticsearch_errors/capture.py``):
the query's -> a 422 saying what to change; a document's, the index's or the cluster's -> a
server error that never blames the query."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import BadRequestError

from shared.search.client import describe_failure
from shared.search.errors import ArchiveFailure, SearchInputError, classify
from shared.search.models import SearchParams
from shared.search.query import _refused, build_search

FIXTURES = Path(__file__).parent / "fixtures" / "elasticsearch_errors"
BLAMES_THE_QUERY = "write plain words"


def _body(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    assert found["status"] == 400
    return found["body"]


def _bad_request(name: str) -> BadRequestError:
    meta = ApiResponseMeta(
        status=400,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )
    return BadRequestError(message="search_phase_execution_exception", meta=meta, body=_body(name))


@pytest.mark.parametrize(
    "name, blame, syntax",
    [
        ("query_parse", "query", True),
        ("regex_too_complex", "query", False),
        ("highlight_offset", "archive", False),
        ("too_many_buckets", "archive", False),  # no root_cause at all: the cause is under caused_by
        ("fielddata_sort", "archive", False),
        ("result_window", "archive", False),
    ],
)
def test_each_real_refusal_is_blamed_on_the_query_or_the_archive(name, blame, syntax):
    found = classify(_body(name))
    assert found.blame == blame
    assert found.syntax is syntax


def test_a_query_that_does_not_parse_is_retried_as_simple_syntax_and_a_complex_one_is_refused_in_words():
    assert "parse_exception" in classify(_body("query_parse")).types
    refusal = _refused(_bad_request("regex_too_complex"), SearchParams(query="x"))
    assert isinstance(refusal, SearchInputError)
    assert "wildcard in the query is too complex" in str(refusal)


@pytest.mark.parametrize(
    "name, words",
    [
        ("highlight_offset", "DATELINE_HIGHLIGHT_MAX_CHARS"),
        ("too_many_buckets", "search.max_buckets"),
        ("fielddata_sort", "(illegal argument)"),
    ],
)
def test_what_a_document_or_the_index_causes_never_blames_the_query(name, words):
    failure = _refused(_bad_request(name), SearchParams(query="harbour"))
    assert isinstance(failure, ArchiveFailure) and not isinstance(failure, SearchInputError)
    assert words in failure.cause and BLAMES_THE_QUERY not in failure.cause
    # Every caller that handles Elasticsearch's errors says it in the same words.
    assert describe_failure(failure) == f"failed to answer: {failure.cause}"
    # Elasticsearch's message and class names go to the log.
    assert "Fielddata" not in failure.cause and "exception" not in failure.cause


@pytest.mark.parametrize("info", [None, {}, "text", {"error": "a string"}, {"error": {"root_cause": ["x"]}}])
def test_a_body_without_error_types_is_the_archive_s_fault(info):
    assert classify(info).blame == "archive"


def test_highlighting_is_bounded_by_the_setting_or_the_given_number(monkeypatch):
    from shared.settings import get_settings

    monkeypatch.setenv("DATELINE_HIGHLIGHT_MAX_CHARS", "12345")
    get_settings.cache_clear()
    try:
        assert build_search(SearchParams(), subfields=set())["highlight"]["max_analyzed_offset"] == 12345
    finally:
        get_settings.cache_clear()
    assert (
        build_search(SearchParams(), subfields=set(), highlight_chars=99)["highlight"]["max_analyzed_offset"]
        == 99
    )

"""Turning search parameters into an Elasticsearch request, without a cluster."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.search.models import SearchInputError, SearchParams, parse_entity, parse_when
from shared.search.query import build_search, text_clause


def test_entity_filters_parse_and_reject_bad_types():
    assert parse_entity("person=Angela Merkel") == ("person", "Angela Merkel")
    assert parse_entity(" Organization = UN ") == ("organization", "UN")
    with pytest.raises(SearchInputError, match="not one of"):
        parse_entity("animal=cat")
    with pytest.raises(SearchInputError, match="TYPE=NAME"):
        parse_entity("person")
    with pytest.raises(ValidationError, match="not one of"):
        SearchParams(entity=["place=Paris"])


def test_dates():
    assert parse_when("2024-03-05", end=False) == "2024-03-05"
    assert parse_when("2024-03-05", end=True) == "2024-03-05||/d"
    assert parse_when("2024", end=True) == "2024-01-01||/y"
    assert parse_when("2024-03", end=False) == "2024-03-01"
    assert parse_when("2024-03-05T10:00:00Z", end=False) == "2024-03-05T10:00:00+00:00"
    with pytest.raises(SearchInputError, match="not understood"):
        parse_when("last tuesday", end=False)
    with pytest.raises(ValidationError):
        SearchParams(since="yesterday")


def test_paging_past_the_result_window_is_refused():
    with pytest.raises(ValidationError, match="narrow the search"):
        SearchParams(page=1001, size=10)


def test_filters_are_anded():
    params = SearchParams(
        query="harbour", lang=["EN"], source=["Wire"], entity=["person=A B", "location=Hamburg"],
        since="2024-01-01", until="2024-01-31",
    )
    body = build_search(params, subfields=set())
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"language": ["en"]}} in filters
    assert {"terms": {"source": ["Wire"]}} in filters
    assert {"term": {"entities.person": "A B"}} in filters
    assert {"term": {"entities.location": "Hamburg"}} in filters
    assert {"range": {"published_at": {"gte": "2024-01-01", "lte": "2024-01-31||/d"}}} in filters


def test_collapse_on_content_hash_by_default():
    body = build_search(SearchParams(), subfields=set())
    assert body["collapse"] == {"field": "content_sha256"}
    assert "distinct_texts" in body["aggs"]
    assert "collapse" not in build_search(SearchParams(collapse=False), subfields=set())


def test_each_language_is_matched_on_its_own_subfield():
    clause = text_clause("running", {"en", "de", "cjk"})
    should = clause["bool"]["should"]
    by_lang = {tuple(s["bool"]["filter"][0]["terms"]["language"]): s for s in should if "filter" in s["bool"]}
    assert set(by_lang) == {("en",), ("de",), ("zh", "ja", "ko")}
    en_fields = by_lang[("en",)]["bool"]["must"][0]["query_string"]["fields"]
    assert "body.en^1" in en_fields and "body^1" in en_fields
    rest = next(s for s in should if "must_not" in s["bool"])
    assert sorted(rest["bool"]["must_not"][0]["terms"]["language"]) == sorted(["en", "de", "zh", "ja", "ko"])
    assert text_clause("*", {"en"}) == {"match_all": {}}
    assert "query_string" in text_clause("x", set())

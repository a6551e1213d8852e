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
        query="harbour",
        lang=["EN"],
        source=["Wire"],
        entity=["person=A B", "location=Hamburg"],
        since="2024-01-01",
        until="2024-01-31",
    )
    body = build_search(params, subfields=set())
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"language": ["en"]}} in filters
    assert {"terms": {"source": ["Wire"]}} in filters
    assert {"term": {"entities.person": "A B"}} in filters
    assert {"term": {"entities.location": "Hamburg"}} in filters
    assert {"range": {"published_at": {"gte": "2024-01-01", "lte": "2024-01-31||/d"}}} in filters


def test_collapse_by_story_by_default():
    body = build_search(SearchParams(), subfields=set())
    assert body["collapse"] == {"field": "story_id"}
    assert body["aggs"]["distinct_stories"]["cardinality"]["field"] == "story_id"
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


def test_collapsed_facets_count_distinct_stories_and_uncollapsed_count_documents():
    from shared.search.query import DISTINCT, PUBLISHED, details_request

    collapsed = build_search(SearchParams(), subfields=set())
    assert collapsed["aggs"]["language"]["aggs"][DISTINCT]["cardinality"]["field"] == "story_id"
    dates = {"aggregations": {"published_range": {"count": 2, "min": 0, "max": 40 * 86_400_000}}}
    details = details_request(SearchParams(), collapsed, dates, [])
    assert details is not None and details["query"] == collapsed["query"]
    assert details["aggs"][PUBLISHED]["date_histogram"]["calendar_interval"] == "month"
    assert details["aggs"][PUBLISHED]["aggs"][DISTINCT]["cardinality"]["field"] == "story_id"
    every = build_search(SearchParams(collapse=False), subfields=set())
    assert "aggs" not in every["aggs"]["language"]
    assert "aggs" not in details_request(SearchParams(collapse=False), every, dates, [])["aggs"][PUBLISHED]
    assert details_request(SearchParams(), collapsed, {"aggregations": {}}, []) is None


def test_results_take_each_buckets_distinct_count_when_collapsed():
    from shared.search.query import add_details, to_result

    response = {
        "hits": {"total": {"value": 3}, "hits": []},
        "aggregations": {
            "distinct_stories": {"value": 2},
            "language": {"buckets": [{"key": "en", "doc_count": 3, "stories": {"value": 2}}]},
            "source": {
                "buckets": [
                    {"key": "Wire", "doc_count": 2, "stories": {"value": 1}},
                    {"key": "APP", "doc_count": 1, "stories": {"value": 1}},
                ]
            },
            "published_range": {"count": 3, "min": 1685577600000, "max": 1685577600000 + 400 * 86_400_000},
        },
    }
    details = {
        "aggregations": {
            "published_at": {"buckets": [{"key": 1685577600000, "doc_count": 3, "stories": {"value": 2}}]}
        }
    }
    collapsed = to_result(response, SearchParams())
    add_details(collapsed, SearchParams(), details, response)
    assert collapsed.total == 2
    assert collapsed.facets["language"] == {"en": 2}
    assert list(collapsed.facets["source"].items()) == [("APP", 1), ("Wire", 1)]
    assert collapsed.facets["published_at"] == {"2023-06": 2}
    every = to_result(response, SearchParams(collapse=False))
    add_details(every, SearchParams(collapse=False), details, response)
    assert (
        every.total == 3
        and every.facets["language"] == {"en": 3}
        and every.facets["published_at"] == {"2023-06": 3}
    )


def test_the_date_facet_is_as_fine_as_the_range_allows():
    from shared.search.query import date_interval

    day = 86_400_000
    assert date_interval(0, 20 * day) == ("day", "%Y-%m-%d")
    assert date_interval(0, 400 * day) == ("month", "%Y-%m")
    assert date_interval(0, 40 * 366 * day) == ("year", "%Y")


def test_sort_by_date_puts_the_newest_first_and_dateline_filters():
    body = build_search(SearchParams(sort="date", dateline=["KABUL"]), subfields=set())
    assert list(body["sort"][0]) == ["published_at"]
    assert {"terms": {"dateline": ["KABUL"]}} in body["query"]["bool"]["filter"]
    assert build_search(SearchParams(), subfields=set())["sort"][0] == {"_score": "desc"}


def _story_hit(doc_id: str, story: str, path: str) -> dict:
    return {
        "_id": doc_id,
        "_score": 1.0,
        "_source": {
            "id": doc_id,
            "source_path": path,
            "format": "text",
            "title": "T",
            "body": "B.",
            "content_sha256": doc_id,
            "story_id": story,
        },
    }


def test_every_hit_says_how_many_versions_from_how_many_sources_over_the_whole_story():
    from shared.search.query import VERSIONS, add_details, details_request, to_result

    for collapse in (True, False):
        params = SearchParams(collapse=collapse)
        response = {
            "hits": {
                "total": {"value": 2},
                "hits": [_story_hit("b", "s1", "b.txt"), _story_hit("z", "s2", "z.txt")],
            },
            "aggregations": {"distinct_stories": {"value": 2}},
        }
        result = to_result(response, params)
        body = build_search(params, subfields=set())
        details = details_request(params, body, response, result.hits)
        assert details is not None
        story_agg = details["aggs"][VERSIONS]
        # Counted whole: outside the query and its filters.
        assert "global" in story_agg
        assert story_agg["aggs"]["in"]["filter"] == {"terms": {"story_id": ["s1", "s2"]}}
        first = {"_id": "a", "_source": {"source_path": "a.txt", "source": "AP", "title": "T"}}
        me = {"_id": "b", "_source": {"source_path": "b.txt", "source": "Wire", "title": "T"}}
        answer = {
            "aggregations": {
                VERSIONS: {
                    "doc_count": 9,
                    "in": {
                        "doc_count": 4,
                        "stories": {
                            "buckets": [
                                {
                                    "key": "s1",
                                    "doc_count": 3,
                                    "sources": {"value": 2},
                                    "first": {"hits": {"hits": [first, me]}},
                                },
                                {
                                    "key": "s2",
                                    "doc_count": 1,
                                    "sources": {"value": 4},
                                    "first": {
                                        "hits": {"hits": [{"_id": "z", "_source": {"source_path": "z.txt"}}]}
                                    },
                                },
                            ]
                        },
                    },
                }
            }
        }
        add_details(result, params, answer, response)
        one, two = result.hits
        assert (one.versions, one.sources, one.first_seen) == (3, 2, False)
        assert [v.id for v in one.other_versions] == ["a"]
        # An estimate is never more than the versions it counted; the only version is the first.
        assert (two.versions, two.sources, two.first_seen, two.other_versions) == (1, 1, True, [])
        dumped = result.model_dump(mode="json")["hits"][0]
        assert {"story_id", "versions", "sources"} <= set(dumped)

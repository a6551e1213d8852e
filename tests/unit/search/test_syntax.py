"""Query text is checked before Elasticsearch sees it: what people write passes, what could
hurt the cluster (or names fields that are not for searching) is refused with a reason."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from shared.search.errors import SearchInputError
from shared.search.models import MAX_FILTER_VALUES, SearchParams, describe_errors
from shared.search.query import build_search
from shared.search.syntax import (
    MAX_DEPTH,
    MAX_EXPANDING_TERMS,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    check_query,
    query_string_text,
)


@pytest.mark.parametrize(
    "text",
    [
        "*",
        "harbour strike",
        '"dock workers" AND title:harbour',
        "(flood OR storm) AND NOT drought",
        "+rhine -danube !elbe",
        "body.en:running summary:strike",
        'entities.person:"Angela Merkel" source:Reuters language:de',
        "published_at:[2024-01-01 TO 2024-02-01} dateline:ISLAMABAD",
        '"harbour strike"~3 harbour~1 harbo~ title:harbour^2',
        "harb* wom?n",
        "24/7 coverage of 9/11",
        r"Breaking\: floods",
        '"Breaking: floods"',
        r"\(not a group\) \*literal",
        "Ärger über Zölle 中文新闻 خبر 🚀",
        "a]b} stray",
        "&& || AND",
    ],
)
def test_what_people_write_passes(text):
    check_query(text)
    SearchParams(query=text)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("x" * (MAX_QUERY_CHARS + 1), "characters long"),
        ("(" * 3000, "characters long"),  # the request that made Elasticsearch exit
        ("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1), "nests parentheses"),
        ("title:(" * (MAX_DEPTH + 1) + "a", "nests parentheses"),
        (" ".join(f"w{i}" for i in range(MAX_TERMS + 1)), "search terms"),
        ('"' + " ".join(f"w{i}" for i in range(MAX_TERMS + 1)) + '"', "search terms"),
        (" ".join(f"ab{i}*" for i in range(MAX_EXPANDING_TERMS + 1)), "wildcard, fuzzy or range"),
        (" ".join(f"word{i}~1" for i in range(MAX_EXPANDING_TERMS + 1)), "wildcard, fuzzy or range"),
        ("*harbour", "before its first"),
        ("?arbour", "before its first"),
        ("title:*bour", "before its first"),
        ("h*", "before its first"),
        ("source_path:/etc/passwd", "not a field you can search"),
        ("content_sha256:abc", "not a field you can search"),
        ("_id:abc", "not a field you can search"),
        ("_exists_:title", "not a field you can search"),
        ("*:harbour", "not a field you can search"),
        ("body.*:harbour", "not a field you can search"),
        ("provenance.entities.error:x", "not a field you can search"),
        ("Breaking: floods", "put the words in quotes"),
        ("harbour~3", "at most 2 edits"),
        ('"harbour strike"~500', "at most 50 words"),
        ("harbour^1000", "boost"),
        ("harbour^high", "^ takes a number"),
        ("harbour~rhine", "~ takes a number"),
        ("harbour~2x", "~ takes a number"),
        ("harbour^2x", "^ takes a number"),
        ("harbour\x00", "control character U+0000"),
        ("harbour\x1b[31m", "control character U+001B"),
        ("caf\udce9", "not valid text"),
    ],
)
def test_what_could_hurt_the_cluster_is_refused_with_a_reason(text, reason):
    with pytest.raises(SearchInputError, match=re.escape(reason)):
        check_query(text)
    with pytest.raises(ValidationError, match="query"):
        SearchParams(query=text)


def test_parentheses_inside_phrases_and_escaped_ones_do_not_nest():
    deep = "(" * (MAX_DEPTH + 5)
    assert check_query(f'"{deep}"').depth == 0
    assert check_query("\\(" * (MAX_DEPTH + 5) + "a").depth == 0
    assert check_query("((a OR b) AND (c OR d))").depth == 2


def test_fields_and_expansions_are_found():
    shape = check_query(
        'title:harbour AND entities.person:"Angela Merkel" harb* rhine~1 published_at:[2024 TO 2025]'
    )
    assert shape.fields == ["title", "entities.person", "published_at"]
    assert len(shape.expanding) == 3
    assert shape.terms == 6  # harbour, Angela, Merkel, harb*, rhine, the range


def test_slashes_are_searched_as_text_not_as_regular_expressions():
    assert query_string_text("24/7") == r"24\/7"
    assert query_string_text("/.*a.{30}/") == r"\/.*a.{30}\/"
    assert query_string_text(r"already\/escaped") == r"already\/escaped"
    assert query_string_text('"a/b" c/d') == r'"a/b" c\/d'  # phrases are text already


def test_query_string_is_bounded_on_the_elasticsearch_side_too():
    body = build_search(SearchParams(query="harb*"), subfields=set())
    options = body["query"]["bool"]["must"][0]["query_string"]
    assert options["allow_leading_wildcard"] is False
    assert options["fuzzy_max_expansions"] <= 50 and options["max_determinized_states"] <= 10_000
    assert set(options["fields"]) == {"title^3", "summary^1.5", "body^1"}
    simple = build_search(SearchParams(query="harb*"), subfields=set(), syntax="simple")
    assert simple["query"]["bool"]["must"][0]["simple_query_string"]["fuzzy_max_expansions"] <= 50


def test_empty_filter_values_are_ignored():
    params = SearchParams(lang=["", " "], source=[""], entity=["", "person=Angela Merkel"])
    assert params.lang == [] and params.source == [] and params.entity == ["person=Angela Merkel"]
    filters = build_search(params, subfields=set())["query"]["bool"]["filter"]
    assert filters == [{"term": {"entities.person": "Angela Merkel"}}]


def test_filter_values_are_bounded():
    with pytest.raises(ValidationError, match=f"at most {MAX_FILTER_VALUES}"):
        SearchParams(source=[f"s{i}" for i in range(MAX_FILTER_VALUES + 1)])
    with pytest.raises(ValidationError, match="cannot match anything"):
        SearchParams(lang=["x" * 300])


def test_errors_read_as_one_sentence_without_the_input():
    try:
        SearchParams(query="source_path:" + "x" * 50)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", "q")} for e in exc.errors()]  # as FastAPI reports them
    text = describe_errors(errors)
    assert text.startswith("q: 'source_path' is not a field you can search")
    assert "x" * 50 not in text and "Value error" not in text

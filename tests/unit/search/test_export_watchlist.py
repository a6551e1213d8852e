"""Reading watchlists and turning their lines into searches, without a cluster."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.search.models import MAX_FILTER_CHARS, SearchParams
from shared.search.watchlist import (
    BYTES_PER_LINE,
    WatchlistError,
    WatchlistLine,
    is_acronym,
    is_known_entity,
    line_search,
    parse_watchlist,
)


def texts(lines: list[WatchlistLine]) -> list[str]:
    return [line.text for line in lines]


def test_plain_list_one_name_per_line():
    data = "\ufeffAngela Merkel\r\n\r\n  United States  \n\n#MeToo\n".encode()
    lines = parse_watchlist(data, max_lines=10)
    assert texts(lines) == ["Angela Merkel", "United States", "#MeToo"]
    assert [line.number for line in lines] == [1, 3, 5]
    assert {line.kind for line in lines} == {"name"}


def test_csv_with_a_name_or_query_column():
    data = b'id,Name,notes\n1,"Merkel, Angela",x\n2,,empty\n3,"Line\nbreak",y\n'
    lines = parse_watchlist(data, max_lines=10, filename="list.csv")
    assert texts(lines) == ["Merkel, Angela", "Line\nbreak"]
    assert [line.number for line in lines] == [2, 5]
    queries = parse_watchlist(b"query\nflood AND Sindh\ntitle:strike\n", max_lines=10)
    assert texts(queries) == ["flood AND Sindh", "title:strike"] and queries[0].kind == "query"


@pytest.mark.parametrize(
    "data, name, fragment",
    [
        (b"name,query\nx,y\n", None, "both a 'name' and a 'query' column"),
        (b"company,country\nAcme,US\n", "list.csv", "no column 'name' or 'query'"),
        ("Zürich\n".encode("latin-1"), None, "not UTF-8 text (line 1"),
        (b"ok\nfine\n\xff\n", None, "line 3"),
        (b"a\x00b\n", None, "NUL"),
        (b"\n \n\t\n", None, "holds no names"),
        (b"name\n\n", None, "holds no names"),
        (("x" * (MAX_FILTER_CHARS + 1)).encode(), None, f"line 1 of the watchlist is {MAX_FILTER_CHARS + 1}"),
        (b"query\nfine\nnosuchfield:x\n", None, "line 3 of the watchlist"),
    ],
)
def test_bad_files_say_what_is_wrong(data, name, fragment):
    with pytest.raises(WatchlistError, match=fragment.replace("(", r"\(")):
        parse_watchlist(data, max_lines=10, filename=name)


def test_the_line_limit():
    assert len(parse_watchlist(b"a\nb\nc\n", max_lines=3)) == 3
    with pytest.raises(WatchlistError, match="4 lines; at most 3.*DATELINE_WATCHLIST_MAX_LINES"):
        parse_watchlist(b"a\nb\nc\nd\n", max_lines=3)
    with pytest.raises(WatchlistError, match="DATELINE_WATCHLIST_MAX_LINES"):
        parse_watchlist(b"a" * (3 * BYTES_PER_LINE + 1), max_lines=3)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from([None, "list.txt", "list.csv"]))
def test_any_bytes_give_lines_or_a_watchlist_error(data, name):
    try:
        lines = parse_watchlist(data, max_lines=50, filename=name)
    except WatchlistError as exc:
        assert str(exc)
        return
    assert 0 < len(lines) <= 50
    for line in lines:
        assert line.text == line.text.strip() and 0 < len(line.text) <= MAX_FILTER_CHARS
        assert line.number >= 1


# Names on one line each: no line breaks (str.splitlines' separators), no NUL, not blank.
_NAME = (
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=60)
    .map(str.strip)
    .filter(bool)
)


def _is_header(name: str) -> bool:
    cells = next(csv.reader([name]), [])
    return any(cell.strip().casefold() in ("name", "query") for cell in cells)


@settings(max_examples=200, deadline=None)
@given(st.lists(_NAME, min_size=1, max_size=30), st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_plain_lists_read_back_exactly(names, bom, newline):
    if _is_header(names[0]):
        names = ["first", *names]
    data = ("\ufeff" if bom else "") + newline.join(names) + newline
    assert texts(parse_watchlist(data.encode(), max_lines=50)) == names


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=60).map(str.strip).filter(bool), min_size=1, max_size=30))
def test_csv_names_read_back_exactly(names):
    """Whatever a name holds (commas, quotes, line breaks), written as CSV it reads back."""
    if any("\x00" in name for name in names):
        names = [name.replace("\x00", "").strip() or "x" for name in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "notes"])
    writer.writerows([name, "note"] for name in names)
    assert texts(parse_watchlist(buffer.getvalue().encode(), max_lines=50, filename="w.csv")) == names


def test_lines_search_as_phrase_entity_or_query():
    params = SearchParams(lang=["de"])
    phrase = line_search(WatchlistLine(number=1, text="Angela Merkel"), params, frozenset())
    assert phrase.match == "phrase" and phrase.described == "phrase: Angela Merkel"
    assert phrase.query["bool"]["must"] == [
        {"multi_match": {"query": "Angela Merkel", "type": "phrase", "fields": ["title", "body", "summary"]}}
    ]
    assert {"terms": {"language": ["de"]}} in phrase.query["bool"]["filter"]

    # A name the alias table knows is searched as that entity, under every name it has:
    # "US" as a phrase would find every "us" in the archive.
    assert is_known_entity("US") and is_known_entity("United States") and not is_known_entity("Angela Merkel")
    entity = line_search(WatchlistLine(number=2, text="US"), SearchParams(), frozenset())
    assert entity.match == "entity"
    shown = json.dumps(entity.query)
    assert '"United States"' in shown and '"USA"' in shown
    # ... or any of its names in the text, but no acronym: every "us" is not the US.
    phrases = [
        c["multi_match"]["query"]
        for c in entity.query["bool"]["must"][0]["bool"]["should"]
        if "multi_match" in c
    ]
    assert "United States" in phrases and "United States of America" in phrases
    assert not {"US", "USA", "U.S."} & set(phrases)
    assert entity.described.startswith("entity: ") and "; or phrase: " in entity.described
    assert [is_acronym(n) for n in ("US", "U.S.", "TTP", "NATO", "Pakistan", "U.S. of A.")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]

    query = line_search(
        WatchlistLine(number=3, text="flood AND Sindh", kind="query"), SearchParams(query="rain"), frozenset()
    )
    assert query.match == "query" and len(query.query["bool"]["must"]) == 2
    assert "flood AND Sindh" in json.dumps(query.query["bool"]["must"][0])


def test_each_line_as_a_watch():
    from shared.search.watchlist import watch_name, watch_spec

    assert (
        watch_name(WatchlistLine(number=1, text="Angela Merkel"), "watchlist ") == "watchlist Angela Merkel"
    )
    # Watch names hold letters, digits, spaces, '.', '-' and '_' only, at most 80.
    assert (
        watch_name(WatchlistLine(number=2, text='"Merkel, Angela"'), "watchlist ")
        == "watchlist Merkel Angela"
    )
    assert len(watch_name(WatchlistLine(number=3, text="x" * 200), "w ")) == 80
    assert watch_name(WatchlistLine(number=4, text="!!!"), "") == "line 4"

    filters = SearchParams(query="rain", lang=["de"], entity=["person=Olaf Scholz"], since="2024")
    phrase = line_search(WatchlistLine(number=1, text='Say "no"'), filters, frozenset())
    spec = watch_spec(phrase, filters, "watchlist ")
    assert spec.query == '(rain) AND "Say \\"no\\""' and spec.lang == ["de"] and spec.since == "2024"
    SearchParams(query=spec.query)  # a query search accepts
    entity = line_search(WatchlistLine(number=2, text="USA"), SearchParams(), frozenset())
    spec = watch_spec(entity, SearchParams(), "wl ")
    assert spec.query == "*" and spec.entity == ["USA"] and spec.name == "wl USA"
    query = line_search(
        WatchlistLine(number=3, text="flood OR rain", kind="query"), SearchParams(), frozenset()
    )
    assert watch_spec(query, SearchParams(), "wl ").query == "(flood OR rain)"

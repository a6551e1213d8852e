"""The search page's controls, computed without a cluster: the export links carry exactly the
page's search (every filter, the sort, collapse; not the page number) to /export and the
facet and histogram CSVs; "Watch this search" saves the page's query and filters (not its
sort, page or collapse) with the form's name and channels."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import ValidationError

from services.api.views import PageState, export_links, search_params
from services.api.web import watch_spec, watched_search

PAIRS = [
    ("q", 'strike "harbour workers"'),
    ("lang", "en"),
    ("lang", "de"),
    ("entity", "person=Zalmay Khalilzad"),
    ("since", "2024-01"),
    ("sort", "date"),
    ("page", "3"),
]


def test_export_links_carry_the_search_but_not_the_page():
    state = PageState.from_pairs(PAIRS)
    links = {link.label: link for link in export_links(state)}
    assert list(links) == ["CSV", "JSON Lines", "Facets CSV", "Histogram CSV"]
    searched = [pair for pair in PAIRS if pair[0] != "page"]
    expected = {
        "CSV": ("/export", [("format", "csv"), *searched]),
        "JSON Lines": ("/export", [("format", "jsonl"), *searched]),
        "Facets CSV": ("/export/facets.csv", searched),
        "Histogram CSV": ("/export/histogram.csv", searched),
    }
    for label, (path, pairs) in expected.items():
        parts = urlsplit(links[label].url)
        assert (parts.path, parse_qsl(parts.query)) == (path, pairs), label
    # What the links carry is a search the API takes (the same validation as the page's).
    carried = PageState.from_pairs(parse_qsl(urlsplit(links["Facets CSV"].url).query))
    params = search_params(carried, 10)
    assert (params.query, params.lang, params.sort, params.page) == (
        'strike "harbour workers"',
        ["en", "de"],
        "date",
        1,
    )
    assert "copies included" in links["CSV"].title


def test_export_links_without_a_search_export_everything():
    links = export_links(PageState(()))
    assert [link.url for link in links] == [
        "/export?format=csv",
        "/export?format=jsonl",
        "/export/facets.csv",
        "/export/histogram.csv",
    ]
    collapsed = export_links(PageState.from_pairs([("collapse", "true")]))
    assert "one per story" in collapsed[0].title and collapsed[0].url == "/export?format=csv&collapse=true"


def test_a_watch_from_the_page_saves_the_pages_search_and_not_its_view():
    state = PageState.from_pairs(
        [*PAIRS, ("entity", "organization=Taliban"), ("dateline", "KABUL"), ("collapse", "false")]
    )
    watched = watched_search(state)
    assert [k for k, _ in watched.items] == ["q", "lang", "lang", "entity", "since", "entity", "dateline"]
    spec = watch_spec(watched, name=" Harbour strikes ", webhook=" ", email="", email_mode="daily")
    assert spec.model_dump(exclude={"webhook", "email"}) == {
        "query": 'strike "harbour workers"',
        "lang": ["en", "de"],
        "source": [],
        "entity": ["person=Zalmay Khalilzad", "organization=Taliban"],
        "dateline": ["KABUL"],
        "since": "2024-01",
        "until": None,
        "name": "Harbour strikes",
        "email_mode": "daily",
    }
    assert spec.webhook is None and spec.email is None
    # No query on the page: the watch matches every article its filters let through.
    assert watch_spec(PageState(()), "All", "", "", "").query == "*"
    with pytest.raises(ValidationError, match="watch name"):
        watch_spec(watched, name="a/b", webhook="", email="", email_mode="each")
    with pytest.raises(ValidationError):
        watch_spec(watched, name="ok", webhook="", email="", email_mode="weekly")


def test_the_watch_pages_say_what_is_wrong_in_words():
    """Nothing listens for Elasticsearch here: the watches page says so in its own page (503);
    the watch form without a login is refused before anything is tried (401, a way to log in)."""
    from fastapi.testclient import TestClient

    from services.api.app import create_app
    from tests.unit.api.test_auth import TOKEN, settings

    client = TestClient(create_app(settings()), base_url="http://127.0.0.1")
    down = client.get("/watching")
    assert down.status_code == 503 and "The watches cannot be shown" in down.text
    assert 'aria-current="page">Watches' in down.text.replace("\n", "")
    refused = client.post("/watch", data={"name": "Harbour", "q": "harbour"})
    assert refused.status_code == 401 and "Log in to make changes" in refused.text
    # With the token the watch is tried, and the archive being away is said as such.
    tried = client.post("/watch", data={"name": "Harbour"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert tried.status_code == 503 and "Elasticsearch" in tried.text

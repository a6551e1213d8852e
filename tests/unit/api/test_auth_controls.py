"""The search page's controls, computed without a cluster: the export links carry exactly the
page's search (every filter, the sort, collapse; not the page number) to /export and the
facet and histogram CSVs."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from services.api.views import PageState, export_links, search_params

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

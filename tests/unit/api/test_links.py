"""Links drawn from what files and requests carry: an article's "original page" only for
http(s) URLs, and "Back to the search" only to this app's search page, from ``?back=``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.api.views import back_link, safe_link


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/story",
        "http://example.com",
        "HTTPS://Example.com/a?b=c#d",
        "https://example.com/path%20with/escapes",
    ],
)
def test_http_and_https_links_are_kept(url):
    assert safe_link(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.domain)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "/relative/path",
        "example.com",
        "https:",
        "https:///nohost",
        "http://[::1",
        "file:///etc/passwd",
        "",
        None,
        "ftp://example.com/",
        "https://example.com/a b",
    ],
)
def test_anything_else_is_never_a_link(url):
    assert safe_link(url) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_a_kept_link_is_always_http_or_https(text):
    for url in (text, "javascript:" + text, "https://" + text):
        kept = safe_link(url)
        assert kept is None or (kept == url and url.lower().startswith(("http://", "https://")))


@pytest.mark.parametrize(
    "back, expected",
    [
        ("/?q=flood&lang=en", "/?q=flood&lang=en"),
        ("/?q=flood&page=2&bogus=1", "/?q=flood&page=2"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/?q=x", "/"),
        ("//evil.example/?q=x", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/article/0123456789abcdef0123456789abcdef", "/"),
        ("/pipeline", "/"),
        ("/\t/evil.example", "/"),
        ("/?q=%22a%22%20OR%20b", "/?q=%22a%22+OR+b"),
    ],
)
def test_the_back_link_goes_only_to_the_search_page(back, expected):
    assert back_link(back) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_the_back_link_is_always_this_app_s_search_page(text):
    for value in (text, "/" + text, "/?" + text):
        link = back_link(value)
        assert link == "/" or link.startswith("/?")

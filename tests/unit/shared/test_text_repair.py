"""The one text repair (shared/text/repair.py): any str in, encodable safe text out, with notes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.text.repair import TextRepair, repair, web_url


def encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_lone_surrogates_become_replacement_characters() -> None:
    fixed = repair("a\ud800b\udfffc")
    assert fixed.text == "a\ufffdb\ufffdc"
    assert fixed.counts == {"lone_surrogate": 2}
    assert encodes(fixed.text)


def test_surrogateescape_bytes_are_repaired() -> None:
    text = b"caf\xe9 au lait".decode("utf-8", "surrogateescape")
    assert not encodes(text)
    fixed = repair(text)
    assert fixed.text == "caf\ufffd au lait"
    assert fixed.counts == {"lone_surrogate": 1}


def test_a_surrogate_pair_is_joined_not_replaced() -> None:
    # "\ud83d\ude00" written as two halves (as UTF-16 does) is one emoji.
    fixed = repair("smile \ud83d\ude00")
    assert fixed.text == "smile \U0001f600"
    assert fixed.counts == {}


def test_a_replacement_character_already_there_is_not_counted() -> None:
    assert repair("\ufffd and \ud800").counts == {"lone_surrogate": 1}


def test_control_characters_are_removed_but_tab_and_line_breaks_stay() -> None:
    fixed = repair("a\x00b\x07c\x1b[31m\x7f\x9bd\te\nf\rg")
    assert fixed.text == "abc[31md\te\nf\rg"
    assert fixed.counts == {"control_character": 5}


def test_clean_text_is_unchanged_and_notes_nothing() -> None:
    text = "Ordinary text — with “quotes”, ünïcödé and 中文.\n\nSecond paragraph."
    fixed = repair(text)
    assert fixed.text == text
    assert fixed.counts == {}
    assert fixed.notes("body") == []


def test_notes_name_the_field_kind_and_count() -> None:
    assert repair("\x00\x00\ud800").notes("title") == [
        TextRepair(field="title", kind="lone_surrogate", count=1),
        TextRepair(field="title", kind="control_character", count=2),
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_any_string_comes_out_encodable_without_controls(text: str) -> None:
    fixed = repair(text)
    assert encodes(fixed.text)
    json.dumps(fixed.text, ensure_ascii=False).encode("utf-8")
    assert not any(ord(c) < 0x20 and c not in "\t\n\r" for c in fixed.text)
    assert repair(fixed.text).counts == {}  # repairing twice changes nothing more


@pytest.mark.parametrize(
    "url",
    [
        "https://www.dawn.com/news/1",
        "http://example.org",
        "HTTPS://Example.ORG/path?q=1#x",
        "  https://example.org/trimmed  ",
        "https://[2001:db8::1]:8080/x",
    ],
)
def test_web_urls_are_kept(url: str) -> None:
    assert web_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.domain)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "/relative/path",
        "//example.org/no-scheme",
        "example.org",
        "https://",
        "https:///no-host",
        "https:\\\\evil.example",
        "https://exa mple.org",
        "https://example.org/\x00",
        "https://example.org/\ud800",
        "http://[::1",
        "http://example.org:notaport/",
        "",
    ],
)
def test_other_links_are_refused(url: str) -> None:
    assert web_url(url) is None

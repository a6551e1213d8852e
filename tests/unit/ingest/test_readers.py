"""Each reader on small realistic fixtures, and the errors users see for bad files."""

from __future__ import annotations

import codecs
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.ingest.readers import (
    BLANK_FILE,
    EMPTY_FILE,
    ReadError,
    ReadResult,
    read_file,
    reader_for,
    supported_extensions,
)
from services.ingest.readers.html import HtmlReader
from services.ingest.readers.json import JsonReader
from services.ingest.readers.jsonl import JsonLinesReader
from services.ingest.readers.text import TextReader

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ingest"
SEEDS = Path(__file__).parents[2] / "fixtures" / "seeds"


def read_fixture(name: str) -> ReadResult:
    path = FIXTURES / name
    return read_file(path, path.read_bytes())


def read_bytes(name: str, data: bytes) -> ReadResult:
    return read_file(Path(name), data)


# --- registry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,reader",
    [
        ("a.txt", TextReader), ("a.TEXT", TextReader), ("a.md", TextReader),
        ("a.html", HtmlReader), ("a.HTM", HtmlReader), ("a.json", JsonReader),
        ("a.jsonl", JsonLinesReader), ("a.ndjson", JsonLinesReader),
    ],
)  # fmt: skip
def test_reader_for_extension(name: str, reader: type) -> None:
    assert isinstance(reader_for(name), reader)


def test_unsupported_extension_names_it_and_the_supported_ones() -> None:
    with pytest.raises(ReadError) as err:
        reader_for("scan.pdf")
    assert "'.pdf'" in err.value.reason
    for ext in (".txt", ".md", ".html", ".json", ".jsonl"):
        assert ext in err.value.reason
    assert set(supported_extensions()) >= {
        ".txt",
        ".text",
        ".md",
        ".html",
        ".htm",
        ".json",
        ".jsonl",
        ".ndjson",
    }


def test_no_extension() -> None:
    with pytest.raises(ReadError, match="no extension"):
        reader_for("README")


# --- text and markdown ------------------------------------------------------------------


def test_text_seed() -> None:
    path = next(SEEDS.glob("004_*.txt"))
    (article,) = read_file(path, path.read_bytes()).articles
    assert article.format == "text"
    assert article.title == "Pakistan US to move forward together by removing differences: sources"
    assert article.dateline == "Islamabad"
    assert article.source is None  # plain text names no publisher; the folder may


def test_text_in_cp1252_with_crlf() -> None:
    data = "Café talks resume\r\n\r\nKARACHI: The café owners’ “union” met on Monday.\r\n".encode("cp1252")
    (article,) = read_bytes("x.txt", data).articles
    assert article.title == "Café talks resume"
    assert article.body == "The café owners’ “union” met on Monday."


def test_text_in_utf16() -> None:
    data = codecs.BOM_UTF16_LE + "Title\n\nBody text here.".encode("utf-16-le")
    (article,) = read_bytes("x.txt", data).articles
    assert (article.title, article.body) == ("Title", "Body text here.")


@pytest.mark.parametrize("data", [b"", codecs.BOM_UTF8])
def test_empty_text_file(data: bytes) -> None:
    with pytest.raises(ReadError) as err:
        read_bytes("x.txt", data)
    assert err.value.reason == EMPTY_FILE


@pytest.mark.parametrize("data", [b"   \n\n\t\n", "\u00a0\n\u200b\n".encode()])
def test_blank_text_file_says_blank(data: bytes) -> None:
    # A file of only whitespace is blank, not empty: the product tells the two apart.
    with pytest.raises(ReadError) as err:
        read_bytes("x.txt", data)
    assert err.value.reason == BLANK_FILE
    assert "blank" in err.value.reason and "empty" not in err.value.reason.split(":")[0]


def test_title_only_text_file() -> None:
    with pytest.raises(ReadError, match="only a title line.*add the story"):
        read_bytes("x.txt", b"Just a headline\n")


def test_binary_file_with_text_extension() -> None:
    with pytest.raises(ReadError, match="binary"):
        read_bytes("x.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")


def test_markdown_front_matter_and_markup() -> None:
    (article,) = read_fixture("article.md").articles
    assert article.format == "markdown"
    assert article.title == "Karachi port handles record cargo"
    assert article.source == "Dawn"
    assert article.author == "Sana Mir"
    assert article.published_at == datetime(2024, 2, 1, tzinfo=timezone.utc)
    assert article.dateline == "Karachi"
    assert article.body.startswith(
        "The Karachi Port Trust handled a record volume of cargo in January, the port "
        "authority said on Thursday."
    )
    for markup in ("**", "#", "](", "![", "`", "> ", "---", "cranes.jpg", "Karachi port handles"):
        assert markup not in article.body
    assert '"This is a milestone for the port," the chairman said.' in article.body


def test_markdown_heading_becomes_title() -> None:
    (article,) = read_bytes("x.md", b"## Rain in *Lahore*\n\nIt rained _all_ day.\n").articles
    assert (article.title, article.body) == ("Rain in Lahore", "It rained all day.")


# --- html -------------------------------------------------------------------------------


def test_html_main_text_and_metadata() -> None:
    (article,) = read_fixture("news_page.html").articles
    assert article.format == "html"
    assert article.title == "Pakistan, Afghanistan agree to reopen Torkham border crossing"
    assert article.source == "The Frontier Post"
    assert article.author == "Amina Siddiqui"
    assert article.url == "https://frontierpost.example/news/torkham-reopens"
    assert article.published_at == datetime(2023, 9, 15, 3, 30, tzinfo=timezone.utc)
    assert article.dateline == "Peshawar"
    assert article.body.startswith("Pakistan and Afghanistan agreed on Friday")
    assert article.body.endswith("without closing the crossing in future.")
    assert "“Trade and pedestrian movement" in article.body
    for junk in (
        "Home",
        "ADVERTISEMENT",
        "trackingSecretToken",
        "dataLayer",
        "Related stories",
        "Cricket board",
        "All rights reserved",
        "Privacy policy",
        "display: block",
    ):
        assert junk not in article.body, junk


def test_html_without_article_text() -> None:
    with pytest.raises(ReadError, match="no article text"):
        read_fixture("nav_only.html")


def test_html_in_legacy_encoding() -> None:
    html = (
        "<html><head><meta charset='windows-1252'><title>Café owners protest</title></head>"
        "<body><article><h1>Café owners protest</h1><p>Café owners in Lahore protested on "
        "Monday against the new “luxury” tax, saying it would close many small businesses."
        "</p></article></body></html>"
    ).encode("cp1252")
    (article,) = read_bytes("x.html", html).articles
    assert article.title == "Café owners protest"
    assert "“luxury” tax" in article.body


# --- json -------------------------------------------------------------------------------


def test_json_single_object() -> None:
    result = read_fixture("single.json")
    assert result.errors == []
    (article,) = result.articles
    assert article.format == "json"
    assert article.title == "Quetta hosts provincial budget talks"
    assert article.body.startswith("Balochistan's cabinet met on Tuesday")
    assert article.dateline == "Quetta"
    assert article.published_at == datetime(2024, 6, 11, 9, tzinfo=timezone.utc)
    assert article.source == "The Balochistan Post"
    assert article.author == "Karim Baloch"
    assert article.url == "https://example.org/quetta-budget"
    assert article.language_hint == "en"


def test_json_aliases() -> None:
    (article,) = read_fixture("aliases.json").articles
    assert article.title == "Gwadar airport opens to passenger flights"
    assert article.body == (
        "The new international airport received its first passenger flight on Friday.\n\n"
        "Officials said more routes would follow."
    )
    assert article.dateline == "Gwadar"
    assert article.published_at == datetime(2024, 1, 20, 9, tzinfo=timezone.utc)
    assert article.source == "Pakistan Today"
    assert article.author == "Hina Shah, Ali Raza"
    assert article.language_hint == "en"


def test_json_list_keeps_good_items_and_reports_bad_ones() -> None:
    result = read_fixture("list.json")
    assert [a.title for a in result.articles] == ["Lahore smog closes schools", "Second story"]
    assert [a.record for a in result.articles] == [0, 1]
    assert result.articles[1].body == "Peshawar's new bus line opened on Monday."
    (error,) = result.errors
    assert error.line is None
    assert "item 3 of 3" in error.reason
    assert "missing the article body" in error.reason
    assert "body, text, content, articleBody" in error.reason


def test_json_wrapped_list() -> None:
    result = read_fixture("wrapped.json")
    assert [a.source for a in result.articles] == ["Business Recorder", "Dawn"]


def test_json_without_title_uses_first_sentence() -> None:
    data = json.dumps({"body": "Rain lashed Karachi on Monday. Roads flooded."}).encode()
    (article,) = read_bytes("x.json", data).articles
    assert article.title == "Rain lashed Karachi on Monday"


def test_json_missing_body_names_the_fields() -> None:
    data = json.dumps({"title": "Only a title", "summary": "x"}).encode()
    with pytest.raises(ReadError) as err:
        read_bytes("x.json", data)
    assert "missing the article body" in err.value.reason
    assert "body, text, content, articleBody" in err.value.reason
    assert "title, summary" in err.value.reason


@pytest.mark.parametrize("value", ['"just a string"', "42", "null", "true"])
def test_json_wrong_shape(value: str) -> None:
    with pytest.raises(ReadError, match="not an article.*one article object"):
        read_bytes("x.json", value.encode())


@pytest.mark.parametrize(
    "value,kind", [('"just a string"', "a string"), ("42", "a number"), ("null", "null")]
)
def test_json_wrong_shape_names_the_value_in_words(value: str, kind: str) -> None:
    # Python's type names (str, NoneType) mean nothing to the person fixing the file.
    with pytest.raises(ReadError) as err:
        read_bytes("x.json", value.encode())
    assert f"a single JSON value ({kind})" in err.value.reason


def test_json_syntax_error_has_line_and_column() -> None:
    with pytest.raises(ReadError) as err:
        read_bytes("x.json", b'{\n  "title": "a",\n  "body": "b"\n  "url": "c"\n}')
    assert err.value.line == 4
    assert "invalid JSON at line 4" in err.value.reason


def test_json_body_of_wrong_type() -> None:
    with pytest.raises(ReadError, match="field 'body' is an object, expected text"):
        read_bytes("x.json", json.dumps({"title": "t", "body": {"x": 1}}).encode())


def test_json_empty_list() -> None:
    with pytest.raises(ReadError, match="file is empty"):
        read_bytes("x.json", b"[]")


def test_json_bad_date_is_dropped_not_fatal() -> None:
    data = json.dumps({"title": "t", "body": "Some text here.", "date": "sometime soon"}).encode()
    (article,) = read_bytes("x.json", data).articles
    assert article.published_at is None


# --- json lines -------------------------------------------------------------------------


def test_jsonl_bad_lines_do_not_stop_good_ones() -> None:
    result = read_fixture("articles.jsonl")
    assert [a.title for a in result.articles] == [
        "Sialkot exporters meet",
        "Faisalabad textile mills reopen",
    ]
    assert [a.line for a in result.articles] == [1, 6]
    assert [e.line for e in result.errors] == [3, 4, 5]
    assert "not valid JSON" in result.errors[0].reason
    assert "missing the article body" in result.errors[1].reason
    assert "found a list" in result.errors[2].reason
    first = result.articles[0]
    assert (first.format, first.source, first.dateline) == ("jsonl", "Dawn", "Sialkot")
    assert result.articles[1].language_hint == "en"


def test_jsonl_record_positions_survive_a_fixed_line() -> None:
    good = b'{"title": "a", "body": "A text."}\n'
    bad = b'{"title": "b"\n'
    broken = read_bytes("x.jsonl", good + bad + good).articles
    fixed = read_bytes("x.jsonl", good + good + good).articles
    assert [a.record for a in broken] == [0, 2]
    assert [a.record for a in fixed] == [0, 1, 2]


def test_jsonl_all_blank() -> None:
    with pytest.raises(ReadError, match="file is blank"):
        read_bytes("x.jsonl", b"\n\n  \n")


def test_jsonl_crlf_and_bom() -> None:
    data = codecs.BOM_UTF8 + b'{"title": "a", "body": "A text."}\r\n{"title": "b", "body": "B text."}\r\n'
    result = read_bytes("x.ndjson", data)
    assert [a.title for a in result.articles] == ["a", "b"]
    assert result.errors == []

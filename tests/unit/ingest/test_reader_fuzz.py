"""Fuzzed intake (issue 15): whatever a file holds, a reader returns articles or a reason.

The invariant, for every reader and every input: ``read_file`` returns a ReadResult or raises
ReadError, nothing else; every string of an article (and every reason) is encodable UTF-8
without lone surrogates or control characters; links are web links; no article is longer
than the limit; no more issues than ``max_failure_lines`` are kept. Small limits keep each
example fast; every test has a bounded number of examples (the whole file runs in well under
a minute on one core).
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.documents import build_document
from services.ingest.readers import ReadError, ReadLimits, ReadResult, read_file, supported_extensions
from services.ingest.readers.base import TEXT_FIELDS
from shared.schemas import StageTask
from shared.text.repair import web_url

LIMITS = ReadLimits(
    max_article_chars=2000,
    max_articles_per_file=20,
    max_nesting=8,
    max_yaml_aliases=0,
    max_failure_lines=3,
    max_date_chars=64,
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
pytestmark = pytest.mark.timeout(120)


def _clean(text: str, what: str) -> None:
    text.encode("utf-8")  # no lone surrogates
    bad = [c for c in text if (ord(c) < 0x20 and c not in "\t\n\r") or 0x7F <= ord(c) <= 0x9F and c != "\x85"]
    assert not bad, f"{what} holds control characters {bad!r}"


def check(name: str, data: bytes) -> ReadResult | None:
    """Read ``data`` as the file ``name`` and assert the invariant; the result, if any."""
    try:
        result = read_file(Path(name), data, LIMITS)
    except ReadError as exc:
        assert exc.reason.strip()
        _clean(exc.reason, "the reason")
        return None
    assert isinstance(result, ReadResult)
    assert len(result.errors) <= LIMITS.max_failure_lines
    assert result.bad_parts >= len(result.errors)
    assert result.articles or result.errors, "neither an article nor a reason"
    for issue in result.errors:
        assert issue.reason.strip()
        _clean(issue.reason, "an issue's reason")
    for article in result.articles:
        for field in TEXT_FIELDS:
            value = getattr(article, field)
            if value is not None:
                _clean(value, field)
        assert article.body.strip()
        assert len(article.body) <= LIMITS.max_article_chars
        assert article.url is None or web_url(article.url) == article.url
        doc = build_document(article, source_path=name, revision=1)
        # What Redis, Celery and Elasticsearch do with it: JSON, as UTF-8.
        json.dumps(StageTask(document=doc).to_wire(), ensure_ascii=False).encode("utf-8")
    return result


# --- building blocks -----------------------------------------------------------------------

# Any code point, lone surrogates and controls included.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)
WORDS = st.lists(
    st.sampled_from(["The", "council", "met", "on", "Monday.", "Karachi", "—", "\u00a0", "café",
                     "\x00", "\ud800", "\x1b", "2024-05-01", "“quoted”", "中文", "\n", "\n\n"]),
    max_size=60,
).map(" ".join)  # fmt: skip
STORY_TEXT = st.one_of(WORDS, ANY_TEXT)
URLS = st.sampled_from([
    "https://example.org/a", "javascript:alert(document.domain)", "data:text/html,<b>x</b>",
    "vbscript:x", "file:///etc/passwd", "/relative", "https://exa mple.org", "http://[::1",
    "https://example.org/\x00", " HTTPS://Example.org/x ",
]) | ANY_TEXT  # fmt: skip
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=20,
)
FIELD_NAMES = ["title", "headline", "body", "text", "content", "articleBody", "date",
               "published_at", "pubDate", "url", "link", "source", "publisher", "author",
               "authors", "language", "lang"]  # fmt: skip
ARTICLES = st.fixed_dictionaries(
    {"title": STORY_TEXT, "body": STORY_TEXT},
    optional={
        name: st.one_of(STORY_TEXT, URLS, JSON_VALUES, st.sampled_from([10**400, "9" * 100, "x" * 500]))
        for name in FIELD_NAMES
        if name not in ("title", "body")
    },
)


def encode(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding``; what the encoding cannot hold becomes ``?``."""
    data = text.encode(encoding, "replace") if encoding != "utf-8" else text.encode("utf-8", "surrogatepass")
    return data


# --- the tests -----------------------------------------------------------------------------


@FUZZ
@given(st.sampled_from(supported_extensions()), st.binary(max_size=3000))
def test_arbitrary_bytes(extension: str, data: bytes) -> None:
    check(f"x{extension}", data)


@FUZZ
@given(st.sampled_from(supported_extensions()), ANY_TEXT, st.sampled_from(ENCODINGS))
def test_arbitrary_text_in_several_encodings(extension: str, text: str, encoding: str) -> None:
    check(f"x{extension}", encode(text, encoding))


@FUZZ
@given(st.one_of(JSON_VALUES, ARTICLES, st.lists(ARTICLES, max_size=25), st.dictionaries(
    st.sampled_from(["articles", "items", "data"]), st.lists(ARTICLES | JSON_VALUES, max_size=5),
)), st.booleans(), st.sampled_from(["utf-8", "utf-16", "utf-8-sig"]))  # fmt: skip
def test_generated_json(value: Any, ascii_only: bool, encoding: str) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only or encoding != "utf-8")
    check("x.json", encode(text, encoding))


BAD_LINES = st.sampled_from(["{", "[1, 2", "null", '"text"', '{"title": "T"}', "{bad}", "[" * 50,
                             '{"body": "\\ud800\\u0000"}', "\x00"]) | ANY_TEXT  # fmt: skip


@FUZZ
@given(st.lists(st.one_of(ARTICLES.map(json.dumps), BAD_LINES), max_size=30),
       st.sampled_from(["\n", "\r\n"]))  # fmt: skip
def test_json_lines_of_good_and_bad_lines(lines: list[str], newline: str) -> None:
    result = check("x.jsonl", newline.join(lines).encode("utf-8", "surrogatepass"))
    if result is not None:
        assert result.bad_parts + len(result.articles) == result.parts


YAML_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | WORDS
    | URLS.filter(str.isprintable),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=3),
    max_leaves=15,
)
FRONT_MATTER = st.one_of(
    st.dictionaries(st.sampled_from(["title", "date", "author", "url", "source", "language", "x"]),
                    YAML_VALUES, max_size=6).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.sampled_from(["a: &a [1, 2]\nb: *a\n", "date: 2024-13-45\n", "n: " + "9" * 5000 + "\n",
                     "t: " + "[" * 100 + "]" * 100 + "\n", "!!python/object:os.system x\n",
                     "- just\n- a list\n", "title: \"Talks: day two\"\n", "? [a, b]\n: c\n"]),
    ANY_TEXT,
)  # fmt: skip


@FUZZ
@given(FRONT_MATTER, STORY_TEXT, st.sampled_from(["---", "..."]))
def test_markdown_with_generated_front_matter(meta: str, story: str, closer: str) -> None:
    check("x.md", f"---\n{meta}\n{closer}\n# Heading\n\n{story}\n".encode("utf-8", "surrogatepass"))


TAGS = st.sampled_from(["p", "div", "article", "h1", "title", "script", "style", "nav", "a", "li", "span"])
HTML_NODES = st.recursive(
    STORY_TEXT.map(lambda t: t.replace("<", "&lt;")),
    lambda inner: st.builds(
        lambda tag, href, children: f'<{tag} href="{href}">{"".join(children)}</{tag}>',
        TAGS, URLS.map(lambda u: u.replace('"', "")), st.lists(inner, max_size=3),
    ),
    max_leaves=12,
)  # fmt: skip


@settings(FUZZ, max_examples=60)
@given(HTML_NODES, URLS.map(lambda u: u.replace('"', "")), st.sampled_from(["utf-8", "cp1252", "latin-1"]))
def test_html_fragments(body: str, canonical: str, encoding: str) -> None:
    page = (
        f'<html><head><link rel="canonical" href="{canonical}"><meta property="og:url" '
        f'content="{canonical}"></head><body>{body}</body></html>'
    )
    check("x.html", encode(page, encoding))


@settings(FUZZ, max_examples=20)
@given(st.integers(min_value=1, max_value=60_000), st.sampled_from(supported_extensions()),
       st.sampled_from(["a", "a ", "word. ", "[", "{", "\n", "é"]))  # fmt: skip
def test_sizes_around_the_limits(size: int, extension: str, unit: str) -> None:
    check(f"x{extension}", (unit * size).encode("utf-8"))


def test_utf16_json_with_bom_is_read() -> None:
    # A guard that the fuzz's encodings reach the parsers, not just the decoder.
    data = codecs.BOM_UTF16_LE + json.dumps({"title": "T", "body": "Words here."}).encode("utf-16-le")
    result = check("x.json", data)
    assert result is not None and result.articles[0].body == "Words here."

"""Readers against hostile content (issue 15): text repaired at the boundary, links that are
web links only, and every limit a file can hit failing cleanly with the setting's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.ingest.documents import build_document
from services.ingest.readers import ReadError, ReadIssue, ReadLimits, ReadResult, read_file
from shared.schemas import ArticleDocument, StageTask
from shared.settings import Settings
from shared.text.dates import parse_date
from shared.text.repair import TextRepair

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ingest"
BODY = "The council met on Monday and agreed the budget after a long debate."


def read(name: str, data: bytes | str, limits: ReadLimits | None = None) -> ReadResult:
    raw = data.encode() if isinstance(data, str) else data
    return read_file(Path(name), raw, limits)


def refused(name: str, data: bytes | str, limits: ReadLimits | None = None) -> str:
    with pytest.raises(ReadError) as err:
        read(name, data, limits)
    return err.value.reason


def assert_encodable(doc: ArticleDocument) -> None:
    """What every carrier downstream does with a document: JSON as UTF-8 (Redis, Celery, ES)."""
    payload = StageTask(document=doc).to_wire()
    json.dumps(payload, ensure_ascii=False).encode("utf-8")
    assert StageTask.from_wire(json.loads(json.dumps(payload))).document == doc


# --- text repair -------------------------------------------------------------------------


def test_lone_surrogates_in_title_and_author_are_repaired_and_noted() -> None:
    # The JSON escape "\ud800" is valid JSON but not encodable text: it used to be lost
    # silently (title) or crash the worker's serialisation (author).
    data = '{"title": "Budget \\ud800 talks", "author": "Ann \\udc00 Lee", "body": "%s"}' % BODY
    (article,) = read("x.json", data).articles
    assert article.title == "Budget \ufffd talks"
    assert article.author == "Ann \ufffd Lee"
    doc = build_document(article, source_path="x.json", revision=1)
    assert_encodable(doc)
    assert doc.provenance.repairs == [
        TextRepair(field="title", kind="lone_surrogate"),
        TextRepair(field="author", kind="lone_surrogate"),
    ]


def test_every_text_field_is_repaired() -> None:
    obj = {
        "title": "T\u0000itle",
        "body": BODY + " \u0007Bell.",
        "source": "Da\ud800wn",
        "author": {"name": "A\u001bnn"},
        "url": "https://example.org/\ud800",
        "language": "e\u0000n",
    }
    (article,) = read("x.jsonl", json.dumps(obj)).articles
    doc = build_document(article, source_path="x.jsonl", revision=1)
    assert_encodable(doc)
    assert (doc.title, doc.source, doc.author, doc.language_hint) == ("Title", "Da\ufffdwn", "Ann", "en")
    assert "\x07" not in doc.body
    assert doc.url is None  # a link with broken text is dropped, not repaired into another
    assert {(r.field, r.kind) for r in doc.provenance.repairs} == {
        ("title", "control_character"),
        ("body", "control_character"),
        ("source", "lone_surrogate"),
        ("author", "control_character"),
        ("url", "unsafe_url"),
        ("language_hint", "control_character"),
    }


def test_a_body_of_only_control_characters_is_a_reason_not_an_empty_article() -> None:
    reason = refused("x.json", json.dumps({"title": "T", "body": "\u0000\u0001\u0002"}))
    assert "control characters" in reason


def test_repairs_survive_the_trip_to_the_worker() -> None:
    (article,) = read("x.json", json.dumps({"title": "\u0000T", "body": BODY})).articles
    doc = build_document(article, source_path="x.json", revision=1)
    again = StageTask.from_wire(StageTask(document=doc).to_wire()).document
    assert again.provenance.repairs == [TextRepair(field="title", kind="control_character")]


# --- links -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(document.domain)", "data:text/html,x", "vbscript:x", "file:///etc/passwd",
     "/news/1", "https://exa\u0000mple.org"],
)  # fmt: skip
def test_json_links_other_than_web_links_are_dropped_and_noted(url: str) -> None:
    (article,) = read("x.json", json.dumps({"title": "T", "body": BODY, "url": url})).articles
    assert article.url is None
    assert TextRepair(field="url", kind="unsafe_url") in article.repairs


def test_json_web_link_is_kept() -> None:
    url = "https://www.dawn.com/news/1"
    (article,) = read("x.json", json.dumps({"title": "T", "body": BODY, "url": url})).articles
    assert article.url == url
    assert article.repairs == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "https://exa mple.org/x"])
def test_html_canonical_links_other_than_web_links_are_dropped(url: str) -> None:
    page = (FIXTURES / "news_page.html").read_text(encoding="utf-8")
    page = page.replace("https://frontierpost.example/news/torkham-reopens", url)
    (article,) = read("x.html", page).articles
    assert article.url is None
    # trafilatura itself keeps no javascript: or data: link; what it passes on, we check.
    assert article.repairs == ([TextRepair(field="url", kind="unsafe_url")] if " " in url else [])


def test_front_matter_javascript_link_is_dropped() -> None:
    md = f"---\ntitle: T\nurl: javascript:alert(1)\n---\n{BODY}\n"
    (article,) = read("x.md", md).articles
    assert article.url is None
    assert TextRepair(field="url", kind="unsafe_url") in article.repairs


# --- characters per article ----------------------------------------------------------------

SMALL = ReadLimits(max_article_chars=100)


@pytest.mark.parametrize(
    "name,data",
    [
        ("x.txt", f"Title\n\n{BODY} {BODY}"),
        ("x.md", f"# Title\n\n{BODY} {BODY}"),
        ("x.json", json.dumps({"title": "T", "body": f"{BODY} {BODY}"})),
    ],
)
def test_a_single_article_over_the_limit_fails_the_file(name: str, data: str) -> None:
    reason = refused(name, data, SMALL)
    assert "137 characters" in reason and "limit of 100" in reason
    assert "DATELINE_MAX_ARTICLE_CHARS" in reason


def test_a_markdown_file_far_past_the_limit_is_refused_before_conversion() -> None:
    reason = refused("x.md", "x\n" * 150, SMALL)
    assert "300 characters" in reason and "DATELINE_MAX_ARTICLE_CHARS" in reason
    # Markup around a body within the limit is fine.
    (article,) = read("x.md", "# T\n\n**The** council *met* on [Monday](https://x.org).", SMALL).articles
    assert article.body == "The council met on Monday."


def test_a_long_line_or_item_fails_alone() -> None:
    long, short = {"title": "L", "body": f"{BODY} {BODY}"}, {"title": "S", "body": BODY}
    result = read("x.jsonl", "\n".join(json.dumps(o) for o in (short, long, short)), SMALL)
    assert [a.title for a in result.articles] == ["S", "S"]
    assert [e.line for e in result.errors] == [2]
    assert "DATELINE_MAX_ARTICLE_CHARS" in result.errors[0].reason
    result = read("x.json", json.dumps([long, short]), SMALL)
    assert [a.title for a in result.articles] == ["S"]
    assert result.errors[0].reason.startswith("item 1 of 2: the article is 137 characters")


def test_limits_come_from_the_settings() -> None:
    cfg = Settings(max_article_chars=100, max_failure_lines=2, _env_file=None)  # type: ignore[call-arg]
    assert ReadLimits.from_settings(cfg).max_article_chars == 100
    assert ReadLimits.from_settings(cfg).max_failure_lines == 2
    assert ReadLimits() == ReadLimits.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


# --- articles per file ---------------------------------------------------------------------

FEW = ReadLimits(max_articles_per_file=3)


def test_a_json_list_over_the_limit_fails_as_a_whole() -> None:
    reason = refused("x.json", json.dumps([{"title": "T", "body": BODY}] * 4), FEW)
    assert "4 items" in reason and "limit of 3" in reason
    assert "DATELINE_MAX_ARTICLES_PER_FILE" in reason
    assert len(read("x.json", json.dumps([{"title": "T", "body": BODY}] * 3), FEW).articles) == 3


def test_json_lines_are_counted_before_any_is_read() -> None:
    # Four lines that are not even JSON: refused for their number, not read one by one.
    reason = refused("x.jsonl", "nope\n\nnope\nnope\nnope\n", FEW)
    assert "4 lines" in reason and "DATELINE_MAX_ARTICLES_PER_FILE" in reason


# --- nesting -------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_ten_megabytes_of_brackets_is_a_reason_not_a_crash() -> None:
    reason = refused("x.json", "[" * 10_000_000)
    assert "DATELINE_MAX_NESTING" in reason and "32 levels" in reason


def test_deep_but_valid_json_is_refused_before_it_is_built() -> None:
    deep = {"title": "T", "body": BODY, "extra": json.loads("[" * 40 + "]" * 40)}
    assert "DATELINE_MAX_NESTING" in refused("x.json", json.dumps(deep))


def test_nesting_up_to_the_limit_is_read_and_brackets_in_strings_do_not_count() -> None:
    limits = ReadLimits(max_nesting=3)
    body = "[[[[[ {{{{ " + BODY
    ok = {"title": "T", "body": body, "extra": [[1]]}  # object, list, list: 3 levels
    (article,) = read("x.json", json.dumps(ok), limits).articles
    assert article.body == body
    too_deep = {"title": "T", "body": BODY, "extra": [[[1]]]}
    assert "more than 3 levels" in refused("x.json", json.dumps(too_deep), limits)


def test_a_deep_json_line_fails_alone() -> None:
    good = json.dumps({"title": "T", "body": BODY})
    result = read("x.jsonl", f"{good}\n{'[' * 100_000}\n{good}\n")
    assert len(result.articles) == 2
    assert [e.line for e in result.errors] == [2]
    assert "DATELINE_MAX_NESTING" in result.errors[0].reason


def test_a_huge_number_is_a_reason() -> None:
    reason = refused("x.json", '{"title": "T", "body": "%s", "n": %s}' % (BODY, "9" * 5000))
    assert "digits" in reason


# --- YAML front matter ---------------------------------------------------------------------

# Nine lists of nine aliases of the list before: 9**9 "lol"s from a few hundred bytes.
LAUGHS = "\n".join(
    ['l0: &l0 ["lol", "lol"]'] + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
)


def test_billion_laughs_is_refused_naming_the_setting() -> None:
    md = f"---\ntitle: T\n{LAUGHS}\nauthor: [*l9]\n---\n{BODY}\n"
    with pytest.raises(ReadError) as err:
        read("x.md", md)
    assert "DATELINE_MAX_YAML_ALIASES" in err.value.reason
    assert err.value.line == 4  # the first alias, on the file's fourth line


def test_aliases_within_the_limit_are_read() -> None:
    md = f"---\nname: &who Ann Lee\nauthor: *who\ntitle: T\n---\n{BODY}\n"
    assert "DATELINE_MAX_YAML_ALIASES" in refused("x.md", md)
    (article,) = read("x.md", md, ReadLimits(max_yaml_aliases=1)).articles
    assert article.author == "Ann Lee"


def test_deep_front_matter_is_refused() -> None:
    md = f"---\ntitle: T\nx: {'[' * 200}{']' * 200}\n---\n{BODY}\n"
    assert "DATELINE_MAX_NESTING" in refused("x.md", md)


@pytest.mark.parametrize("value", ["2024-13-45", "9" * 5000])
def test_front_matter_values_that_cannot_be_built_are_a_reason(value: str) -> None:
    # PyYAML raises ValueError (not YAMLError) for both: it used to escape the reader.
    reason = refused("x.md", f"---\ntitle: T\ndate: {value}\n---\n{BODY}\n")
    assert "front matter" in reason and "cannot be read" in reason


# --- failure records per file --------------------------------------------------------------


def test_a_file_of_bad_lines_keeps_the_first_issues_and_counts_all() -> None:
    good = json.dumps({"title": "T", "body": BODY})
    lines = [good] + ["{bad"] * 999 + [good]
    result = read("x.jsonl", "\n".join(lines))
    assert len(result.articles) == 2
    assert len(result.errors) == 5  # DATELINE_MAX_FAILURE_LINES' default
    assert [e.line for e in result.errors] == [2, 3, 4, 5, 6]
    assert (result.bad_parts, result.parts) == (999, 1001)


def test_a_list_of_bad_items_is_capped_too() -> None:
    result = read("x.json", json.dumps([{"x": 1}] * 50), ReadLimits(max_failure_lines=2))
    assert [e.reason[:12] for e in result.errors] == ["item 1 of 50", "item 2 of 50"]
    assert result.bad_parts == 50


def test_a_result_built_from_issues_counts_them() -> None:
    assert ReadResult(errors=[ReadIssue(reason="a"), ReadIssue(reason="b")]).bad_parts == 2


# --- dates ---------------------------------------------------------------------------------


def test_a_long_date_field_is_ignored_and_noted() -> None:
    (article,) = read(
        "x.json", json.dumps({"title": "T", "body": BODY, "date": "2024-05-01 " + "x" * 1_000_000})
    ).articles
    assert article.published_at is None
    assert TextRepair(field="published_at", kind="long_date") in article.repairs


def test_a_date_within_the_limit_is_still_read() -> None:
    (article,) = read("x.json", json.dumps({"title": "T", "body": BODY, "date": "1 May 2024"})).articles
    assert article.published_at is not None and article.repairs == []


@pytest.mark.timeout(30)
def test_parse_date_never_hands_long_text_to_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    import dateparser

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("dateparser was called")

    monkeypatch.setattr(dateparser, "parse", refuse)
    assert parse_date("May 1, 2024 " * 1_000_000) is None
    assert parse_date("x" * 65) is None
    assert parse_date("1 May 2024 ", max_chars=5) is None


def test_an_epoch_too_large_for_a_float_is_no_date() -> None:
    assert parse_date(10**400) is None  # used to raise OverflowError before the guard

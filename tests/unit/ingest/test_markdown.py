"""Markdown through markdown-it-py, front matter through PyYAML."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.ingest.readers import ParsedArticle, ReadError, read_file
from services.ingest.readers.markdown import markdown_to_text


def read_md(text: str) -> ParsedArticle:
    (article,) = read_file(Path("x.md"), text.encode()).articles
    return article


def md_error(text: str) -> ReadError:
    with pytest.raises(ReadError) as err:
        read_file(Path("x.md"), text.encode())
    return err.value


# --- markup -------------------------------------------------------------------------------


def test_headings_are_paragraphs_and_soft_wrapped_lines_join() -> None:
    text = "# Rain in Lahore\nIt rained\nall day.\n\nSetext heading\n--------------\nRoads flooded."
    assert markdown_to_text(text) == (
        "Rain in Lahore\n\nIt rained all day.\n\nSetext heading\n\nRoads flooded."
    )


def test_list_items_stay_separate_lines() -> None:
    text = "Demands:\n\n- a *ceasefire*\n- talks\n  in Doha\n1. first\n2. second\n\nEnd."
    assert markdown_to_text(text) == ("Demands:\n\na ceasefire\ntalks in Doha\n\nfirst\nsecond\n\nEnd.")


def test_links_emphasis_images_code_and_html_are_stripped() -> None:
    text = (
        "The [port authority][kpt] said **record** cargo passed, per the `e-portal`"
        " ![Cranes](cranes.jpg) and <b>officials</b> at <https://kpt.example>.\n\n"
        "[kpt]: https://example.org/kpt\n\n"
        '<div class="note">Figures are <em>provisional</em>.</div>\n\n'
        "<script>track()</script>\n"
    )
    assert markdown_to_text(text) == (
        "The port authority said record cargo passed, per the e-portal and officials at "
        "https://kpt.example.\n\nFigures are provisional."
    )


def test_an_html_block_keeps_one_line_per_element() -> None:
    text = "<div><p>First <b>point</b>.</p><p>Second point.</p></div>\n\nAfter."
    assert markdown_to_text(text) == "First point.\nSecond point.\n\nAfter."


def test_quotes_hard_breaks_and_code_blocks_keep_their_text() -> None:
    text = '> "We will see," he said.\n\nLine one\\\nline two\n\n```\nraw figures 1 2 3\n```\n'
    assert markdown_to_text(text) == ('"We will see," he said.\n\nLine one\nline two\n\nraw figures 1 2 3')


def test_escapes_and_emphasis_inside_words() -> None:
    # The hand-written regexes kept the backslashes of escaped characters.
    assert markdown_to_text(r"Rates rose 5\*3 \[sic\] for **Karachi**-based snake_case firms.") == (
        "Rates rose 5*3 [sic] for Karachi-based snake_case firms."
    )


# --- front matter -------------------------------------------------------------------------


def test_front_matter_values_of_any_yaml_type() -> None:
    article = read_md(
        "---\n"
        "title: 2024 budget passes\n"
        "date: 2024-06-11 09:30:00+05:00\n"
        "author:\n  - Sana Mir\n  - name: Ali Raza\n"
        "source: Dawn\n"
        "lang: UR\n"
        "tags: [budget, economy]\n"
        "---\n\n"
        "ISLAMABAD: The National Assembly passed the budget on Tuesday.\n"
    )
    assert article.title == "2024 budget passes"
    assert article.published_at == datetime(2024, 6, 11, 4, 30, tzinfo=timezone.utc)
    assert article.author == "Sana Mir, Ali Raza"
    assert (article.source, article.language_hint, article.dateline) == ("Dawn", "ur", "Islamabad")
    assert article.body == "The National Assembly passed the budget on Tuesday."


def test_front_matter_that_is_not_valid_yaml() -> None:
    error = md_error("---\ntitle: Talks: day two\ndate: 2024-02-01\n---\n\nThe talks went on.\n")
    assert error.line == 2
    assert "front matter" in error.reason and "not valid YAML at line 2" in error.reason
    assert "quoting a value that holds a colon" in error.reason
    assert "remove the front matter" in error.reason


@pytest.mark.parametrize("block,kind", [("- a\n- b", "a list"), ("just words", "a string")])
def test_front_matter_that_is_not_a_mapping(block: str, kind: str) -> None:
    error = md_error(f"---\n{block}\n---\n\nThe talks went on.\n")
    assert f"front matter (the block between the --- lines at the top of the file) is {kind}" in (
        error.reason
    )
    assert "not a set of fields" in error.reason and "'key: value'" in error.reason


def test_empty_front_matter_is_no_front_matter() -> None:
    article = read_md("---\n---\n\n# Talks resume\n\nThe talks resumed on Monday.\n")
    assert (article.title, article.body) == ("Talks resume", "The talks resumed on Monday.")


def test_only_front_matter() -> None:
    error = md_error("---\ntitle: Talks resume\n---\n\n")
    assert "only front matter" in error.reason and "add the story" in error.reason


def test_markdown_gets_the_cleaning_of_text_files() -> None:
    article = read_md(
        "# Talks resume\n\ndate 2023-07-22\n\nKABUL – The talks *resumed*.\n\n"
        "![Photo](a.jpg)\n\nPhoto: AFP\n\nThey ended.\n\nForeign Policy\n"
    )
    assert article.title == "Talks resume"
    assert article.published_at == datetime(2023, 7, 22, tzinfo=timezone.utc)
    assert article.dateline == "Kabul"
    assert article.body == "The talks resumed.\n\nThey ended."

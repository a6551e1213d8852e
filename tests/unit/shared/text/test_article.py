"""The one cleaning of an article's text, on the five real seed files and on small cases."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.text.article import (
    TITLE_MAX_CHARS,
    CleanedText,
    clean_story,
    clean_text,
    make_title,
)
from shared.text.whitespace import normalize_whitespace

SEEDS = Path(__file__).parents[3] / "fixtures" / "seeds"


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


# Per seed: where the story ends in the original (None: at the end), the dateline prefix
# of the first story paragraph, and lines that are not story (title, caption).
SEED_STORY = {
    "000": (None, "ISLAMABAD – ", []),
    "001": ("Opinion", "ISLAMABAD: ", ["- File Photo"]),
    "002": (None, "", []),
    "003": (None, "date 2023-07-22 ISLAMABAD: ", []),
    "004": (
        "Foreign Policy",
        "ISLAMABAD - ",
        ["Pakistan US to move forward together by removing differences: sources"],
    ),
}


def story_paragraphs(prefix: str) -> list[str]:
    end, dateline, not_story = SEED_STORY[prefix]
    lines = [line for line in normalize_whitespace(seed(prefix)).split("\n") if line]
    if end is not None:
        lines = lines[: lines.index(end)]
    lines = [line for line in lines if line not in not_story]
    assert lines[0].startswith(dateline)
    lines[0] = lines[0][len(dateline) :]
    return lines


@pytest.mark.parametrize("prefix", sorted(SEED_STORY))
def test_every_story_paragraph_is_kept(prefix: str) -> None:
    body = clean_text(seed(prefix)).body
    paragraphs = body.split("\n")
    for paragraph in story_paragraphs(prefix):
        assert paragraph in paragraphs, f"dropped from {prefix}: {paragraph[:80]!r}"


@pytest.mark.parametrize("prefix", sorted(SEED_STORY))
def test_every_body_sentence_comes_from_the_original(prefix: str) -> None:
    original = normalize_whitespace(seed(prefix))
    body = clean_text(seed(prefix)).body
    for paragraph in filter(None, body.split("\n")):
        assert paragraph in original, f"invented in {prefix}: {paragraph[:80]!r}"
    # And nothing but the story: the body has exactly the story paragraphs.
    assert [p for p in body.split("\n") if p] == story_paragraphs(prefix)


def test_seed_000_paragraph_title_and_en_dash_dateline() -> None:
    cleaned = clean_text(seed("000"))
    assert cleaned.title == (
        "The Majority of Taliban backed off the Afghan-led reconciliation process due to "
        "its eligibility criteria, sources said on Tuesday"
    )
    assert cleaned.dateline == "Islamabad"
    assert cleaned.body.startswith("The Majority of Taliban backed off")
    assert "ISLAMABAD" not in cleaned.body[:50]
    assert cleaned.published_at is None
    # NBSP became a plain space, runs collapsed, typographic quotes untouched.
    assert "\u00a0" not in cleaned.body
    assert 'sources said: "Like in the past' in cleaned.body
    assert "they said ‘the process" in cleaned.body


def test_seed_001_caption_and_site_menu_removed() -> None:
    cleaned = clean_text(seed("001"))
    assert cleaned.dateline == "Islamabad"
    assert cleaned.title.startswith("Pakistan's Taliban movement, a major security threat")
    assert len(cleaned.title) <= TITLE_MAX_CHARS
    assert "File Photo" not in cleaned.body
    assert cleaned.body.startswith("Pakistan's Taliban movement")
    assert cleaned.body.endswith('but we are moving in the right direction."')
    for chrome in (
        "Tough talks",
        "Updated 16 Apr",
        "Opinion",
        "Editorial",
        "IMF",
        "On the margins",
    ):
        assert chrome not in cleaned.body


def test_seed_002_single_newline_paragraphs_long_first_sentence() -> None:
    cleaned = clean_text(seed("002"))
    assert cleaned.title.startswith("US Special Representative for Afghan Reconciliation")
    assert cleaned.title.endswith("…")
    assert len(cleaned.title) <= TITLE_MAX_CHARS
    assert cleaned.dateline is None
    # The title's paragraph stays whole in the body.
    assert cleaned.body.startswith("US Special Representative for Afghan Reconciliation")
    assert "According to Foreign Office Spokesperson" in cleaned.body.split("\n")[0]
    assert cleaned.body.endswith("the official said while responding to a question.")


def test_seed_003_leading_date_and_dateline_on_one_line() -> None:
    cleaned = clean_text(seed("003"))
    assert cleaned.published_at == datetime(2023, 7, 22, tzinfo=timezone.utc)
    assert cleaned.published_at.tzinfo is not None
    assert cleaned.dateline == "Islamabad"
    assert cleaned.title.startswith("The Afghan Taliban has asked the Pakistan government")
    assert cleaned.body.startswith("The Afghan Taliban has asked")
    assert "date 2023" not in cleaned.body
    assert "“path of peace”" in cleaned.body


def test_seed_004_repeated_title_and_section_label() -> None:
    cleaned = clean_text(seed("004"))
    assert cleaned.title == "Pakistan US to move forward together by removing differences: sources"
    assert cleaned.dateline == "Islamabad"
    assert "removing differences" not in cleaned.body
    assert cleaned.body.startswith(
        "Pakistan has once again told US that it will not accept any ‘do-more’ demands."
    )
    assert not cleaned.body.endswith("Foreign Policy")
    assert cleaned.body.endswith("progress is expected soon.")


def test_date_line_after_title() -> None:
    cleaned = clean_text("Talks resume\n\nPublished: 3 March 2022\n\nKABUL: The talks resumed on Monday.")
    assert cleaned.title == "Talks resume"
    assert cleaned.published_at == datetime(2022, 3, 3, tzinfo=timezone.utc)
    assert cleaned.dateline == "Kabul"
    assert cleaned.body == "The talks resumed on Monday."


def test_caption_lines_removed_anywhere() -> None:
    cleaned = clean_text("Talks resume\n\nThe talks resumed.\n\n(AFP)\n\nPhoto: AFP\n\nThey ended.")
    assert cleaned.body == "The talks resumed.\n\nThey ended."


def test_make_title_trims_at_word_boundary() -> None:
    title = make_title("word " * 60)
    assert len(title) <= TITLE_MAX_CHARS
    assert title.endswith("word…")
    assert make_title("Short sentence.") == "Short sentence"
    assert make_title("Is it over?") == "Is it over?"


def test_short_headline_first_line_is_the_title() -> None:
    cleaned = clean_text("Taliban agree to talks\n\nThe Taliban agreed to talks on Monday, officials said.")
    assert cleaned.title == "Taliban agree to talks"
    assert cleaned.body == "The Taliban agreed to talks on Monday, officials said."


def test_empty_text() -> None:
    assert clean_text("  \n\n\u00a0\n").title == ""


# --- a headline given by the file (JSON field, front matter, HTML title) ------------------


def test_given_title_makes_all_the_text_story() -> None:
    cleaned = clean_text("LAHORE: Rain fell.\n\n- File Photo\n\nRoads flooded.", title="Rain")
    assert cleaned == CleanedText(title="Rain", body="Rain fell.\n\nRoads flooded.", dateline="Lahore")


def test_given_title_drops_its_copy_and_takes_the_date_line() -> None:
    cleaned = clean_text(
        "date 2023-07-22\n\nTalks  resume\n\nKABUL: The talks resumed.\n\nForeign Policy",
        title="Talks resume ",
    )
    assert cleaned == CleanedText(
        title="Talks resume",
        body="The talks resumed.",
        published_at=datetime(2023, 7, 22, tzinfo=timezone.utc),
        dateline="Kabul",
    )


def test_given_title_keeps_a_short_first_line() -> None:
    # Without a given title this line would be the headline; with one it is the story.
    cleaned = clean_text("Schools reopen in Lahore", title="Schools")
    assert (cleaned.title, cleaned.body) == ("Schools", "Schools reopen in Lahore")


def test_given_title_is_one_line() -> None:
    cleaned = clean_text("The talks resumed.", title="Talks\u00a0 resume\nin Doha\u200b")
    assert cleaned.title == "Talks resume in Doha"


def test_given_title_is_cut_to_headline_length() -> None:
    cleaned = clean_text("The story.", title="word " * 60)
    assert len(cleaned.title) <= TITLE_MAX_CHARS and cleaned.title.endswith("…")


def test_first_line_of_several_sentences_is_story_not_headline() -> None:
    # A headline is one sentence: a short first line of two is the story's first paragraph.
    cleaned = clean_text("Rain lashed Karachi on Monday. Roads flooded.\n\nSchools closed.")
    assert cleaned.title == "Rain lashed Karachi on Monday"
    assert cleaned.body == "Rain lashed Karachi on Monday. Roads flooded.\n\nSchools closed."


def test_title_from_the_first_sentence_of_another_script() -> None:
    text = (
        "اسلام آباد: پاکستان اور افغانستان کے حکام نے اسلام آباد میں سرحدی سلامتی پر دو روزہ "
        "مذاکرات شروع کیے۔ وزارت خارجہ کے ترجمان نے کہا کہ بات چیت کا مقصد تعاون بڑھانا ہے۔"
    )
    cleaned = clean_text(text)
    assert cleaned.title == (
        "اسلام آباد: پاکستان اور افغانستان کے حکام نے اسلام آباد میں سرحدی سلامتی پر دو روزہ "
        "مذاکرات شروع کیے۔"
    )
    assert cleaned.body == text


# --- text a file declares to be the story (a JSON body field, an HTML page's text) -------


def test_a_lone_line_of_story_is_titled_by_its_first_sentence() -> None:
    assert clean_text("Schools reopen in Lahore").body == ""  # a text file: a headline
    cleaned = clean_story("Schools reopen in Lahore. Teachers returned on Monday.")
    assert cleaned.title == "Schools reopen in Lahore"
    assert cleaned.body == "Schools reopen in Lahore. Teachers returned on Monday."
    assert clean_story("Schools reopen in Lahore") == CleanedText(
        title="Schools reopen in Lahore", body="Schools reopen in Lahore"
    )


def test_story_of_several_lines_is_cleaned_like_a_text_file() -> None:
    text = "Talks resume\n\ndate 2022-03-03\n\nKABUL: The talks resumed.\n\nPhoto: AFP"
    assert clean_story(text) == clean_text(text)
    assert clean_story(text, title="Talks") == clean_text(text, title="Talks")

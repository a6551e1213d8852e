"""Cleaning plain-text articles, on the five real seed files and on small cases."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.ingest.cleaning import (
    TITLE_MAX_CHARS,
    clean_body,
    clean_text,
    content_sha256,
    extract_dateline,
    extract_leading_date,
    first_sentence,
    is_caption,
    make_title,
    normalize_whitespace,
    parse_date,
    trailing_chrome_start,
)

pytestmark = pytest.mark.unit

SEEDS = Path(__file__).parents[2] / "fixtures" / "seeds"


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


# --- datelines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "paragraph,place,rest",
    [
        ("ISLAMABAD – Talks resumed.", "Islamabad", "Talks resumed."),
        ("ISLAMABAD: Talks resumed.", "Islamabad", "Talks resumed."),
        ("ISLAMABAD - Talks resumed.", "Islamabad", "Talks resumed."),
        ("ISLAMABAD—Talks resumed.", "Islamabad", "Talks resumed."),
        ("KABUL, July 3 (Reuters) - Talks resumed.", "Kabul", "Talks resumed."),
        ("NEW YORK (AP) — Talks resumed.", "New York", "Talks resumed."),
        ("Kabul, July 3 (Reuters) - Talks resumed.", "Kabul", "Talks resumed."),
        ("DERA ISMAIL KHAN: Talks resumed.", "Dera Ismail Khan", "Talks resumed."),
    ],
)
def test_datelines(paragraph: str, place: str, rest: str) -> None:
    assert extract_dateline(paragraph) == (place, rest)


@pytest.mark.parametrize(
    "paragraph",
    [
        "US-led forces withdrew.",
        "Sources said: the talks failed.",
        "AFTER the customary Ramazan interlude, politics resumed.",
        "The US - Pakistan talks resumed.",
        "Pakistan: a country of contrasts.",
    ],
)
def test_not_datelines(paragraph: str) -> None:
    assert extract_dateline(paragraph) == (None, paragraph)


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line,when,rest",
    [
        (
            "date 2023-07-22 ISLAMABAD: x",
            datetime(2023, 7, 22, tzinfo=timezone.utc),
            "ISLAMABAD: x",
        ),
        ("Date: 2023-07-22", datetime(2023, 7, 22, tzinfo=timezone.utc), ""),
        ("Published: 22 July 2023 | Kabul", datetime(2023, 7, 22, tzinfo=timezone.utc), "Kabul"),
        ("July 22, 2023", datetime(2023, 7, 22, tzinfo=timezone.utc), ""),
        ("Updated 16 Apr, 2024", datetime(2024, 4, 16, tzinfo=timezone.utc), ""),
        ("2023-07-22T10:30:00+05:00", datetime(2023, 7, 22, 5, 30, tzinfo=timezone.utc), ""),
    ],
)
def test_leading_dates(line: str, when: datetime, rest: str) -> None:
    assert extract_leading_date(line) == (when, rest)


@pytest.mark.parametrize(
    "line", ["2023-07-22 was a hot day in Lahore.", "Dates of the talks were set."]
)
def test_not_leading_dates(line: str) -> None:
    assert extract_leading_date(line) == (None, line)


def test_date_line_after_title() -> None:
    cleaned = clean_text(
        "Talks resume\n\nPublished: 3 March 2022\n\nKABUL: The talks resumed on Monday."
    )
    assert cleaned.title == "Talks resume"
    assert cleaned.published_at == datetime(2022, 3, 3, tzinfo=timezone.utc)
    assert cleaned.dateline == "Kabul"
    assert cleaned.body == "The talks resumed on Monday."


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2023-07-22", datetime(2023, 7, 22, tzinfo=timezone.utc)),
        ("2023-07-22T10:00:00Z", datetime(2023, 7, 22, 10, tzinfo=timezone.utc)),
        ("2023-09-15T08:30:00+0500", datetime(2023, 9, 15, 3, 30, tzinfo=timezone.utc)),
        ("Sat, 22 Jul 2023 10:00:00 GMT", datetime(2023, 7, 22, 10, tzinfo=timezone.utc)),
        ("July 22nd, 2023", datetime(2023, 7, 22, tzinfo=timezone.utc)),
        (1690020000, datetime(2023, 7, 22, 10, 0, tzinfo=timezone.utc)),
        ("not a date", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_date(value: object, expected: datetime | None) -> None:
    assert parse_date(value) == expected


# --- captions, chrome, titles -------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "- File Photo",
        "File photo",
        "Photo: AFP",
        "Photo: Reuters/John Smith",
        "(AFP)",
        "AFP",
        "Taliban fighters in Kabul. - File Photo",
        "Picture by Ali Khan",
    ],
)
def test_captions(line: str) -> None:
    assert is_caption(line)


@pytest.mark.parametrize(
    "line",
    [
        "Photography exhibitions opened in Lahore on Monday.",
        "The AFP reported that talks resumed.",
        "He filed a photo request with the ministry.",
    ],
)
def test_not_captions(line: str) -> None:
    assert not is_caption(line)


def test_caption_lines_removed_anywhere() -> None:
    cleaned = clean_text("Talks resume\n\nThe talks resumed.\n\n(AFP)\n\nPhoto: AFP\n\nThey ended.")
    assert cleaned.body == "The talks resumed.\n\nThey ended."


def test_trailing_section_labels_go_sentences_stay() -> None:
    lines = ["Story sentence one.", "", "Story sentence two.", "", "Foreign Policy", "", "World"]
    assert trailing_chrome_start(lines) == 4


def test_final_quote_is_kept() -> None:
    lines = ["Story.", "", '"We will see," he said']
    assert trailing_chrome_start(lines) == 3


def test_teaser_sentences_are_kept_without_a_site_listing() -> None:
    # A "..." line alone is not proof of a site menu: it may be the story's last quote.
    lines = ["Story.", "", "He paused and said: we will wait and see..."]
    assert trailing_chrome_start(lines) == 3


def test_story_with_single_newlines_before_a_label() -> None:
    lines = ["First paragraph of the story.", "Last paragraph of the story.", "Foreign Policy"]
    assert trailing_chrome_start(lines) == 2


def test_first_sentence_skips_abbreviations() -> None:
    text = "Dr. Rasool met Lt. Gen. Janjua in the U.S. capital on Monday. Talks followed."
    assert first_sentence(text) == "Dr. Rasool met Lt. Gen. Janjua in the U.S. capital on Monday."


def test_make_title_trims_at_word_boundary() -> None:
    title = make_title("word " * 60)
    assert len(title) <= TITLE_MAX_CHARS
    assert title.endswith("word…")
    assert make_title("Short sentence.") == "Short sentence"
    assert make_title("Is it over?") == "Is it over?"


def test_short_headline_first_line_is_the_title() -> None:
    cleaned = clean_text(
        "Taliban agree to talks\n\nThe Taliban agreed to talks on Monday, officials said."
    )
    assert cleaned.title == "Taliban agree to talks"
    assert cleaned.body == "The Taliban agreed to talks on Monday, officials said."


def test_empty_text() -> None:
    assert clean_text("  \n\n\u00a0\n").title == ""


def test_normalize_whitespace() -> None:
    raw = "a\u00a0\u00a0b\t c \u200b\r\n\r\n\r\n\r\nd\u202fe  "
    assert normalize_whitespace(raw) == "a b c\n\nd e"


def test_clean_body_strips_dateline_and_captions() -> None:
    body, place = clean_body("LAHORE: Rain fell.\n\n- File Photo\n\nRoads flooded.")
    assert (body, place) == ("Rain fell.\n\nRoads flooded.", "Lahore")


def test_content_sha256_ignores_whitespace_only_differences() -> None:
    a = content_sha256("Title", "Body one.\n\nBody two.")
    assert a == content_sha256("Title ", "Body\u00a0one.\r\n\r\nBody two.  ")
    assert a != content_sha256("Title", "Body one.\n\nBody three.")
    assert re.fullmatch("[0-9a-f]{64}", a)

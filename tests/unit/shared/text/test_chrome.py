from __future__ import annotations

import pytest

from shared.text.chrome import is_caption, is_datestamp, is_label, trailing_chrome_start


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


def test_site_listing_with_teasers_and_stamps_goes() -> None:
    lines = [
        "The story ends here.",
        "",
        "Tough talks",
        "Updated 16 Apr, 2024",
        "The key lies in reforms...",
        "Going off track",
        "Updated 15 Apr, 2024",
    ]
    assert trailing_chrome_start(lines) == 2


@pytest.mark.parametrize(
    "line",
    [
        # Lines ending with the full stop of another script are story, not labels: the
        # cleaning's own sentence rule knew only . ! ? before the toolkit shared one.
        "وزیر خارجہ دارالحکومت پہنچے۔",
        "کیا مذاکرات کامیاب ہوں گے؟",
        "मंत्री राजधानी पहुंचे।",
        "外交部长周二抵达首都。",
        "双方希望达成一致！",
    ],
)
def test_sentences_of_other_scripts_are_not_labels(line: str) -> None:
    assert not is_label(line)
    assert trailing_chrome_start(["Story.", "", line]) == 3


def test_datestamps() -> None:
    assert is_datestamp("Updated 16 Apr, 2024")
    assert is_datestamp("Published: July 22, 2023, 10:30 am PKT")
    assert not is_datestamp("Updated rules take effect on 16 Apr, 2024.")

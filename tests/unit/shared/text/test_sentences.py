from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.text.sentences import ends_sentence, first_sentence, offsets, sentence_spans, split_sentences


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def test_offsets_point_into_the_original_text(seed) -> None:
    for prefix in ("000", "001", "002", "003", "004"):
        body = seed(prefix)
        spans = split_sentences(body)
        assert len(spans) > 5
        previous_end = 0
        for span in spans:
            assert body[span.start : span.end] == span.text
            assert span.text == span.text.strip() and span.text
            assert span.start >= previous_end
            previous_end = span.end


def test_abbreviations_do_not_end_sentences() -> None:
    text = "Dr. Faisal met the U.S. envoy on Monday. He left on Tuesday."
    assert texts(text) == ["Dr. Faisal met the U.S. envoy on Monday.", "He left on Tuesday."]


def test_line_breaks_end_headings_without_full_stops() -> None:
    text = "Tough talks\nUpdated 16 Apr, 2024\n\nThe key lies in reforms. It is late."
    assert texts(text) == ["Tough talks", "Updated 16 Apr, 2024", "The key lies in reforms.", "It is late."]


def test_quotes_stay_with_their_sentence() -> None:
    text = '"We never wanted to fight," said the commander. "Our aim was peace." He left.'
    assert texts(text) == [
        '"We never wanted to fight," said the commander.',
        '"Our aim was peace."',
        "He left.",
    ]


def test_urdu_and_arabic_terminators() -> None:
    text = "وزیر خارجہ دارالحکومت پہنچے۔ کیا مذاکرات کامیاب ہوں گے؟ حکام پر امید ہیں۔"
    spans = split_sentences(text)
    assert [s.text for s in spans] == [
        "وزیر خارجہ دارالحکومت پہنچے۔",
        "کیا مذاکرات کامیاب ہوں گے؟",
        "حکام پر امید ہیں۔",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_cjk_and_devanagari_terminators() -> None:
    assert texts("外交部长周二抵达首都。双方希望达成一致！") == [
        "外交部长周二抵达首都。",
        "双方希望达成一致！",
    ]
    assert texts("मंत्री राजधानी पहुंचे। बातचीत जारी है।") == ["मंत्री राजधानी पहुंचे।", "बातचीत जारी है।"]


def test_empty_and_whitespace() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t") == []


def test_titles_before_names_do_not_end_sentences() -> None:
    text = "Dr. Rasool met Lt. Gen. Janjua in the U.S. capital on Monday. Talks followed."
    assert texts(text) == [
        "Dr. Rasool met Lt. Gen. Janjua in the U.S. capital on Monday.",
        "Talks followed.",
    ]
    assert texts("Gov. Ali and Sen. Raza met. Maj. Khan left.") == [
        "Gov. Ali and Sen. Raza met.",
        "Maj. Khan left.",
    ]


def test_a_lower_case_word_continues_the_sentence() -> None:
    text = "Shares of Acme Inc. rose sharply. Ltd. firms were unaffected."
    assert texts(text)[0] == "Shares of Acme Inc. rose sharply."


def test_joined_sentences_keep_exact_offsets() -> None:
    text = "  Lt. Gen. Janjua spoke.\nMaj. Khan left.  "
    for span in split_sentences(text):
        assert text[span.start : span.end] == span.text


# --- the one "ends a sentence" rule -----------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Talks resumed.",
        "Is it over?",
        "We will see…",
        'He said: "We will see."',
        "(It was his last visit.)",
        "He called it “a path of peace”",
        "وزیر خارجہ دارالحکومت پہنچے۔",
        "کیا مذاکرات کامیاب ہوں گے؟",
        "मंत्री राजधानी पहुंचे।",
        "मंत्री राजधानी पहुंचे॥",
        "外交部长周二抵达首都。",
        "双方希望达成一致！",
        "会谈成功吗？",
        "“会谈成功。”",
        "  Talks resumed.  ",
    ],
)
def test_ends_sentence(line: str) -> None:
    assert ends_sentence(line)


@pytest.mark.parametrize(
    "line", ["Foreign Policy", "Updated 16 Apr, 2024", "the ministers'", "Talks: day two", ""]
)
def test_does_not_end_sentence(line: str) -> None:
    assert not ends_sentence(line)


def test_first_sentence_skips_abbreviations() -> None:
    text = "Dr. Rasool met Lt. Gen. Janjua in the U.S. capital on Monday. Talks followed."
    assert first_sentence(text) == "Dr. Rasool met Lt. Gen. Janjua in the U.S. capital on Monday."


def test_first_sentence_knows_other_scripts() -> None:
    # The cleaning's own splitter knew only . ! ? and took the whole paragraph.
    assert first_sentence("وزیر خارجہ دارالحکومت پہنچے۔ کیا مذاکرات کامیاب ہوں گے؟") == (
        "وزیر خارجہ دارالحکومت پہنچے۔"
    )
    assert first_sentence("外交部长周二抵达首都。双方希望达成一致！") == "外交部长周二抵达首都。"


def test_first_sentence_of_text_without_an_end() -> None:
    assert first_sentence("  A headline without a full stop ") == "A headline without a full stop"
    assert first_sentence("") == ""


# --- sentences split once, carried as offsets (sentence_spans) ---------------------------------


def test_known_offsets_are_taken_as_they_are() -> None:
    text = "One. Two. Three."
    assert [s.text for s in sentence_spans(text, [(0, 9), (10, 16)])] == ["One. Two.", "Three."]


@pytest.mark.parametrize(
    "known",
    [
        [],  # none carried (a document from before)
        [(0, 500)],  # past the end
        [(5, 9), (0, 4)],  # out of order
        [(0, 9), (5, 16)],  # overlapping
        [(4, 4)],  # empty
    ],
)
def test_offsets_that_do_not_fit_are_split_again(known: list[tuple[int, int]]) -> None:
    text = "One. Two. Three."
    assert sentence_spans(text, known) == split_sentences(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_offsets_round_trip(text: str) -> None:
    spans = split_sentences(text)
    assert sentence_spans(text, offsets(spans)) == spans

from __future__ import annotations

import pytest

from shared.text.sentences import split_sentences

pytestmark = pytest.mark.unit


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
    assert texts("外交部长周二抵达首都。双方希望达成一致！") == ["外交部长周二抵达首都。", "双方希望达成一致！"]
    assert texts("मंत्री राजधानी पहुंचे। बातचीत जारी है।") == ["मंत्री राजधानी पहुंचे।", "बातचीत जारी है।"]


def test_empty_and_whitespace() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t") == []

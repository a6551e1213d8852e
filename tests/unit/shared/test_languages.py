"""Language hints normalised once, at ingest, to ISO 639-1 (pycountry)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.documents import build_document
from services.ingest.readers.base import ParsedArticle
from shared.text.languages import iso_639_1


@pytest.mark.parametrize(
    ("hint", "code"),
    [
        ("en", "en"),
        ("EN", "en"),  # not "En", the name of another language (ISO 639-3 enc)
        ("en-US", "en"),
        ("en_GB", "en"),
        ("eng", "en"),
        ("English", "en"),
        ("eng_Latn", "en"),
        (" de-DE ", "de"),
        ("German", "de"),
        ("ger", "de"),  # the bibliographic code
        ("urd", "ur"),
        ("zh-Hans-CN", "zh"),
        ("fr-CA", "fr"),
    ],
)
def test_the_ways_files_state_a_language(hint: str, code: str) -> None:
    assert iso_639_1(hint) == code
    article = ParsedArticle(title="T", body="Body.", format="text", language_hint=hint)
    assert build_document(article, source_path="a.txt", revision=1).language_hint == code


@pytest.mark.parametrize("hint", [None, "", "  ", "xx", "Klingon", "fil", "x" * 200, "12"])
def test_what_names_no_two_letter_language_is_no_hint(hint: str | None) -> None:
    assert iso_639_1(hint) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_gives_a_two_letter_code_or_none(hint: str) -> None:
    code = iso_639_1(hint)
    assert code is None or (len(code) == 2 and code.isalpha() and code.islower())

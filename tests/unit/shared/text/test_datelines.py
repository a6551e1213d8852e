from __future__ import annotations

import pytest

from shared.text.datelines import extract_dateline


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

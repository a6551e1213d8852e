"""Wire attribution found in an article's text."""

from __future__ import annotations

from shared.stories.wire import carried_from
from tests.support.paths import SEEDS


def test_agencies_in_datelines_text_and_captions() -> None:
    assert carried_from("", "WASHINGTON (AP) - The Senate voted.") == ["AP"]
    assert carried_from("Talks begin - File Photo", "Officials met.") == ["Reuters"]
    assert carried_from("", "BERLIN (dpa) - Das ist alles, AFP reported.") == ["AFP", "dpa"]
    assert carried_from("", "The DPA said the apple harvest was late.") == []
    assert carried_from("", "Nobody was quoted.") == []


def test_the_seed_that_quotes_reuters_is_carried_from_reuters() -> None:
    text = (SEEDS / "001_1cac760c224c0b45.txt").read_text(encoding="utf-8")
    assert carried_from("", text) == ["Reuters"]

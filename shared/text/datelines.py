"""Datelines: the place (and often date and agency) that opens a news story.

``ISLAMABAD –``, ``NEW YORK:``, ``KABUL, July 3 (Reuters) -``, ``Kabul (AP) —``. The place
is kept as the article's ``dateline`` and taken off the story's first paragraph.
"""

from __future__ import annotations

import re

from shared.text.dates import MONTH

_CAPS_WORD = r"[A-Z][A-Z.'’\-]+"
_AGENCY = r"\((?:[A-Z][A-Za-z.&/ ]{0,30})\)"
_DAY = rf"{MONTH}\.?\s+\d{{1,2}}"
_SEPARATOR = r"(?:\s*:\s+|\s+[-–—]+\s+|\s*[–—]\s*)"
# ISLAMABAD –, NEW YORK:, KABUL, July 3 (Reuters) -, WASHINGTON, D.C. (AP) —
_CAPS_DATELINE = re.compile(
    rf"^(?P<place>{_CAPS_WORD}(?:\s+{_CAPS_WORD}){{0,3}})"
    rf"(?:,\s*(?:{_DAY}|[A-Z][A-Za-z.]+(?:\s+[A-Z][A-Za-z.]+)?))?"
    rf"(?:,?\s*{_DAY})?(?:\s*{_AGENCY})?{_SEPARATOR}(?=\S)"
)
# Kabul, July 3 (Reuters) -: a title-cased place needs a date or an agency to count.
_MIXED_DATELINE = re.compile(
    rf"^(?P<place>[A-Z][a-z]+(?:\s+[A-Z][a-z]+){{0,2}})"
    rf"(?:(?:,\s*{_DAY})(?:\s*{_AGENCY})?|\s*{_AGENCY}){_SEPARATOR}(?=\S)"
)
# "US -" or "UN:" open sentences too: a place has at least three letters.
_MIN_PLACE_LETTERS = 3


def extract_dateline(paragraph: str) -> tuple[str | None, str]:
    """``("Islamabad", rest)`` for a paragraph opening with a dateline, else ``(None, p)``."""
    for pattern in (_CAPS_DATELINE, _MIXED_DATELINE):
        match = pattern.match(paragraph)
        if match and sum(c.isalpha() for c in match.group("place")) >= _MIN_PLACE_LETTERS:
            place = match.group("place").strip(" .-")
            return place.title() if place.isupper() else place, paragraph[match.end() :]
    return None, paragraph

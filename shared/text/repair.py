"""Text that every system downstream can carry: the one repair at the boundary.

A Python ``str`` can hold what UTF-8 cannot encode: lone surrogates (a JSON ``"\\ud800"``
escape, or bytes kept with ``surrogateescape``), and characters no article has but that
break or poison what carries text on (NUL ends C strings and Redis/Celery payloads choke on
unencodable text; other control characters are invisible garbage in a page). ``repair``
makes any string safe and says what it changed, so the change is noted in the document's
provenance instead of happening silently.

``web_url`` is the one rule for links taken from files: only ``http(s)`` with a host, so a
``javascript:`` or ``data:`` link never reaches a page.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

RepairKind = Literal["lone_surrogate", "control_character", "unsafe_url", "long_date"]
REPLACEMENT = "\ufffd"

# C0 controls except tab, line feed and carriage return; DEL; C1 controls except NEL (U+0085,
# a line break that whitespace normalisation turns into \n).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x84\x86-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")
# Whitespace or a control character anywhere in a URL: not a URL a browser should follow.
_URL_BAD_CHARS = re.compile("[\x00-\x20\x7f-\x9f\ud800-\udfff]")
WEB_SCHEMES = ("http", "https")


class TextRepair(BaseModel):
    """One kind of change made to one field of an article, and how many times it was made."""

    field: str = Field(description="The article field: title, body, author, url...")
    kind: RepairKind = Field(
        description="lone_surrogate: replaced by U+FFFD; control_character: removed; "
        "unsafe_url: a link that is not http(s) with a host, dropped; long_date: a date value "
        "too long to be a date, ignored."
    )
    count: int = Field(1, ge=1)


class Repaired(BaseModel):
    """A repaired text and what was changed in it (empty ``counts``: nothing)."""

    text: str
    counts: dict[RepairKind, int] = Field(default_factory=dict)

    def notes(self, field: str) -> list[TextRepair]:
        return [TextRepair(field=field, kind=kind, count=n) for kind, n in self.counts.items()]


def repair(text: str) -> Repaired:
    """``text`` made encodable and free of control characters, and what was changed.

    A high and a low surrogate next to each other are one character written in two halves
    (UTF-16): they are joined, not replaced. A lone half becomes U+FFFD. Control characters
    other than tab and line breaks are removed.
    """
    counts: dict[RepairKind, int] = {}
    if _SURROGATES.search(text):
        # UTF-16 round trip: pairs become their character, lone halves U+FFFD.
        joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        counts["lone_surrogate"] = joined.count(REPLACEMENT) - text.count(REPLACEMENT)
        text = joined
    text, controls = _CONTROLS.subn("", text)
    if controls:
        counts["control_character"] = controls
    return Repaired(text=text, counts={k: n for k, n in counts.items() if n > 0})


def web_url(url: str) -> str | None:
    """``url`` if it is an absolute ``http``/``https`` URL with a host, else None.

    Leading and trailing spaces are tolerated (files carry them); whitespace or a control
    character inside, another scheme (``javascript:``, ``data:``, ``file:``), a relative
    link or a missing host are not.
    """
    url = url.strip()
    if not url or _URL_BAD_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not host:
        return None
    return url

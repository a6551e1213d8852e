"""Dates: parsing the forms articles and feeds use, and finding a date at the top of a text.

Parsing is dateparser's job (any language, zones such as ``PKT``, ordinals, RFC 2822 of
RSS feeds); it is told to refuse a date without a day, month and year rather than fill the
gaps from today, and to read no relative dates ("2 hours ago" means nothing once the
page is saved). Every result is a timezone-aware UTC datetime; a date without a zone is
taken as UTC: a guess, but a stable one.

Finding a date in running text is ours: the patterns below say where a date line or a
labelled date (``date 2023-07-22``, ``Published: 22 July 2023``) starts and ends, so the
rest of the line (often the story's first paragraph) can be kept.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import dateparser

MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_ISO = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?)?"
)
_DAY_MONTH_YEAR = rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\.?,?\s+\d{{4}}"
_MONTH_DAY_YEAR = rf"{MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
_SLASHED = r"\d{4}/\d{2}/\d{2}"
# A whole date (day, month and year) as English-language news pages write it.
DATE = rf"(?:{_ISO}|{_DAY_MONTH_YEAR}|{_MONTH_DAY_YEAR}|{_SLASHED})"
# An optional time after a date: ", 10:30 am PKT", " at 9:15 GMT".
TIME = r"(?:,?\s+(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?(?:\s*(?:UTC|GMT|PKT))?)"
DATE_LABEL = r"(?:date|dated|published(?:\s+on)?|posted(?:\s+on)?|updated(?:\s+on)?|last\s+updated)"

# "date 2023-07-22 ISLAMABAD: ..." -- a labelled date may share the line with the story.
_LABELLED_DATE = re.compile(
    rf"^{DATE_LABEL}\s*[:\-–]?\s*(?P<date>{DATE}){TIME}?(?:\s*[|,;–—-]\s*|\s+|$)", re.I
)
# An unlabelled date only counts when it is the whole line.
_DATE_ONLY_LINE = re.compile(rf"^(?:{DATE_LABEL}\s*[:\-–]?\s*)?(?P<date>{DATE}){TIME}?$", re.I)

_SETTINGS = {
    "RETURN_AS_TIMEZONE_AWARE": True,
    "TIMEZONE": "UTC",
    "TO_TIMEZONE": "UTC",
    "REQUIRE_PARTS": ["day", "month", "year"],
    # No "relative-time" (relative to what?) and no "no-spaces-time" (any number would do).
    "PARSERS": ["timestamp", "absolute-time"],
}
# JavaScript writes epochs in milliseconds; seconds this large would be after the year 5000.
_MILLISECONDS_FROM = 1e11
# No date form needs more characters (settings: DATELINE_MAX_DATE_CHARS); dateparser is slow
# on long text, so longer strings never reach it.
DATE_MAX_CHARS = 64


def parse_date(
    value: object, languages: list[str] | None = None, max_chars: int = DATE_MAX_CHARS
) -> datetime | None:
    """A timezone-aware UTC datetime from the date forms articles use, else None.

    ``value`` may be text, a ``datetime`` or ``date`` (YAML front matter gives those), or
    an epoch in seconds or milliseconds. ``languages`` narrows the languages dateparser
    tries (all of them by default). Text longer than ``max_chars`` is not a date: None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)):
        try:
            seconds = value / 1000 if value > _MILLISECONDS_FROM else value
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > max_chars:
            return None
        found = _parse_text(text, languages)
        if found is None:
            return None
        parsed = found
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _parse_text(text: str, languages: list[str] | None) -> datetime | None:
    if not text:
        return None
    try:
        # ISO 8601 is what most exporters write: the standard library reads it exactly.
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    parsed: datetime | None = dateparser.parse(text, languages=languages, settings=_SETTINGS)
    return parsed


def extract_leading_date(line: str) -> tuple[datetime | None, str]:
    """Split a leading ``date 2023-07-22`` (or a date-only line) off ``line``.

    Returns the date and the rest of the line, or ``(None, line)`` when the line does
    not start with a date.
    """
    match = _LABELLED_DATE.match(line) or _DATE_ONLY_LINE.match(line)
    if not match:
        return None, line
    with_time = re.sub(r"\s+", " ", match.group(0)[match.start("date") :].strip(" |,;–—-"))
    # The patterns find English month names only, so only English is worth trying.
    when = parse_date(with_time, ["en"]) or parse_date(match.group("date"), ["en"])
    if when is None:
        return None, line
    return when, line[match.end() :].strip()

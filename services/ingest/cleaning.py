"""Plain-text article cleaning: pure functions, no I/O.

Real inbox files are copies of web pages: a repeated headline, a leading ``date ...``
line, a dateline (``ISLAMABAD –``), photo captions, and a trailing menu of the site's
other headlines. These functions take them apart conservatively: anything that might be
a sentence of the story is kept, so when in doubt a line stays in the body.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone

TITLE_MAX_CHARS = 140
# How many leading non-empty lines may hold a standalone date line (after a title, say).
_DATE_LINE_WINDOW = 4

# --- whitespace ---------------------------------------------------------------------------

# Spaces that look like a space but are not one (NBSP, thin, narrow NBSP, ideographic...).
_SPACES = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_INVISIBLE = re.compile("[\u200b\u00ad\ufeff]")  # zero-width space, soft hyphen, stray BOM
_LINE_BREAKS = re.compile("[\u2028\u2029\x0b\x0c\x85]")
_RUNS = re.compile(" {2,}")
_BLANK_RUNS = re.compile("\n{3,}")


def normalize_whitespace(text: str) -> str:
    """One space between words, no trailing spaces, at most one blank line in a row.

    Typographic quotes and dashes are content and stay as they are.
    """
    text = _LINE_BREAKS.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", _SPACES.sub(" ", text))
    lines = [_RUNS.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def content_sha256(title: str, body: str) -> str:
    """Hash of what a reader sees, so the same article under two names shares it."""
    content = normalize_whitespace(title) + "\n\n" + normalize_whitespace(body)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


# --- dates --------------------------------------------------------------------------------

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_ISO = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?)?"
)
_DAY_MONTH_YEAR = rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+\d{{4}}"
_MONTH_DAY_YEAR = rf"{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
_SLASHED = r"\d{4}/\d{2}/\d{2}"
_DATE = rf"(?:{_ISO}|{_DAY_MONTH_YEAR}|{_MONTH_DAY_YEAR}|{_SLASHED})"
_TIME = r"(?:,?\s+(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?(?:\s*(?:UTC|GMT|PKT))?)"
_DATE_LABEL = (
    r"(?:date|dated|published(?:\s+on)?|posted(?:\s+on)?|updated(?:\s+on)?|last\s+updated)"
)

# "date 2023-07-22 ISLAMABAD: ..." -- a labelled date may share the line with the story.
_LABELLED_DATE = re.compile(
    rf"^{_DATE_LABEL}\s*[:\-–]?\s*(?P<date>{_DATE}){_TIME}?(?:\s*[|,;–—-]\s*|\s+|$)", re.I
)
# An unlabelled date only counts when it is the whole line.
_DATE_ONLY_LINE = re.compile(rf"^(?:{_DATE_LABEL}\s*[:\-–]?\s*)?(?P<date>{_DATE}){_TIME}?$", re.I)

_TEXT_DATE_FORMATS = (
    "%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y", "%Y/%m/%d",
    "%d %B %Y %H:%M", "%d %b %Y %H:%M", "%B %d %Y %H:%M", "%b %d %Y %H:%M",
)  # fmt: skip


def parse_date(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from the date forms articles use, else None.

    Dates without a zone are taken as UTC: a guess, but a stable one.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value  # milliseconds in JavaScript
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        found = _parse_date_text(value.strip())
        if found is None:
            return None
        parsed = found
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _parse_date_text(text: str) -> datetime | None:
    if not text:
        return None
    iso = re.sub(r"\s?(UTC|GMT)$", "+00:00", text)
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)  # RFC 2822, as in RSS feeds
    except (TypeError, ValueError, IndexError):
        pass
    # "16 Apr, 2024", "July 22nd, 2023", "Sept. 3 2021 10:30"
    simple = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    simple = re.sub(r"\bSept\b", "Sep", simple.replace(",", " ").replace(".", " "))
    simple = re.sub(r"\s+", " ", simple).strip()
    for fmt in _TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(simple, fmt)
        except ValueError:
            continue
    return None


def extract_leading_date(line: str) -> tuple[datetime | None, str]:
    """Split a leading ``date 2023-07-22`` (or a date-only line) off ``line``."""
    match = _LABELLED_DATE.match(line) or _DATE_ONLY_LINE.match(line)
    if not match:
        return None, line
    when = parse_date(re.sub(r"\s+", " ", match.group(0)[match.start("date") :].strip(" |,;–—-")))
    if when is None:
        when = parse_date(match.group("date"))
    if when is None:
        return None, line
    return when, line[match.end() :].strip()


# --- datelines ----------------------------------------------------------------------------

_CAPS_WORD = r"[A-Z][A-Z.'’\-]+"
_AGENCY = r"\((?:[A-Z][A-Za-z.&/ ]{0,30})\)"
_DAY = rf"{_MONTH}\.?\s+\d{{1,2}}"
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


def extract_dateline(paragraph: str) -> tuple[str | None, str]:
    """``("Islamabad", rest)`` for a paragraph opening with a dateline, else ``(None, p)``."""
    for pattern in (_CAPS_DATELINE, _MIXED_DATELINE):
        match = pattern.match(paragraph)
        if match and sum(c.isalpha() for c in match.group("place")) >= 3:
            place = match.group("place").strip(" .-")
            return place.title() if place.isupper() else place, paragraph[match.end() :]
    return None, paragraph


# --- captions -----------------------------------------------------------------------------

_CAPTIONS = [
    re.compile(r"^[\s\-–—•*]*(?:file\s+(?:photo|image|picture)|photo\s+file)[\s.)]*$", re.I),
    re.compile(
        r"^[\s\-–—]*(?:photo|picture|image|pic)s?\s*(?::|\bby\b|\bcredit\b|\bcourtesy\b)", re.I
    ),
    re.compile(
        r"^\(?\s*(?:AFP|AP|Reuters|EPA|Getty Images|AFP/Getty Images|APP|PPI|Xinhua|file)"
        r"(?:\s+photo)?\s*\)?\.?$",
        re.I,
    ),
    re.compile(r"[-–—|]\s*(?:file\s+photo|(?:AFP|AP|Reuters|EPA)\s+photo|photo\s*:\s*\S.*)$", re.I),
]
_CAPTION_MAX_CHARS = 200


def is_caption(line: str) -> bool:
    """A photo caption or credit line (``- File Photo``, ``Photo: AFP``, ``(AFP)``)."""
    line = line.strip()
    return bool(line) and len(line) <= _CAPTION_MAX_CHARS and any(p.search(line) for p in _CAPTIONS)


# --- sentences and trailing site chrome ---------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…][\"”’')\]]*$|[\"”’)\]]$")
_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…)$")
_DATESTAMP = re.compile(
    rf"^(?:(?:updated|published|posted|last\s+updated)\s*:?\s*)?{_DATE}{_TIME}?$", re.I
)
_LABEL_MAX_WORDS = 12
_LABEL_MAX_CHARS = 100


def is_sentence(line: str) -> bool:
    """Ends like a sentence (or a quote, or a bracket): treat it as story text."""
    return bool(_SENTENCE_END.search(line.strip()))


def is_datestamp(line: str) -> bool:
    return bool(_DATESTAMP.match(line.strip()))


def is_label(line: str) -> bool:
    """A short line that is not a sentence: a section name or a teaser headline.

    Lines quoting someone (double quotes) are reported speech, so story, not labels.
    """
    line = line.strip()
    return (
        bool(line)
        and not is_sentence(line)
        and not any(q in line for q in '"“”')
        and len(line) <= _LABEL_MAX_CHARS
        and len(line.split()) <= _LABEL_MAX_WORDS
    )


def trailing_chrome_start(lines: list[str]) -> int:
    """Index where the trailing site chrome starts (``len(lines)`` if there is none).

    Two readings of the tail: the cautious one removes only short non-sentence lines
    (``Foreign Policy``); the listing one also removes teasers (a sentence or ``...`` line
    directly above a headline and its ``Updated 16 Apr, 2024`` stamp). The listing reading
    is used only when the tail has such a stamp, the mark of a site's headline list.
    """
    n = len(lines)
    cautious = n
    for i in range(n - 1, -1, -1):
        if not lines[i]:
            continue
        if is_label(lines[i]) or is_datestamp(lines[i]):
            cautious = i
            continue
        break

    listing, stamped = n, False
    for i in range(n - 1, -1, -1):
        line = lines[i]
        if not line:
            continue
        if is_datestamp(line):
            stamped, listing = True, i
        elif is_label(line):
            listing = i
        elif _ELLIPSIS_END.search(line) or _is_teaser(lines, i):
            listing = i
        else:
            break
    return listing if stamped else cautious


def _is_teaser(lines: list[str], i: int) -> bool:
    """A sentence directly followed (same block) by a headline and its date stamp."""
    return (
        i + 2 < len(lines)
        and is_label(lines[i + 1])
        and not is_datestamp(lines[i + 1])
        and is_datestamp(lines[i + 2])
    )


_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "maj", "capt", "sgt", "sen", "rep",
    "gov", "st", "jr", "sr", "no", "vs", "etc", "inc", "ltd", "co", "corp", "u.s", "u.k",
    "u.n", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "retd", "approx",
}  # fmt: skip
_BOUNDARY = re.compile(r"[.!?…]+[\"”’')\]]*\s+(?=[\"“‘(]?[A-Z0-9])")


def first_sentence(paragraph: str) -> str:
    for match in _BOUNDARY.finditer(paragraph):
        before = paragraph[: match.start()].split()
        word = before[-1].lower().strip('"“‘(') if before else ""
        if paragraph[match.start()] == "." and (word in _ABBREVIATIONS or len(word) == 1):
            continue  # "Dr. Rasool", "J. Smith": not the end of a sentence
        return paragraph[: match.end()].strip()
    return paragraph.strip()


def make_title(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """A headline-length title: no final full stop, cut at a word boundary with "…"."""
    title = text.strip()
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1].rstrip()
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-–—") + "…"


def is_paragraph(line: str) -> bool:
    """A whole paragraph rather than a headline: long and ending like a sentence."""
    words = len(line.split())
    return (is_sentence(line) and (len(line) >= 100 or words >= 18)) or len(line) > 200


def _same_line(a: str, b: str) -> bool:
    def key(s: str) -> str:
        return re.sub(r"\W+", " ", s.casefold()).strip()

    return key(a) == key(b)


# --- the whole article --------------------------------------------------------------------


@dataclass
class CleanedText:
    title: str
    body: str
    published_at: datetime | None = None
    dateline: str | None = None


def clean_lines(text: str) -> list[str]:
    """Whitespace-normalised lines without caption lines."""
    return ["" if is_caption(line) else line for line in normalize_whitespace(text).split("\n")]


def _take_date(lines: list[str]) -> datetime | None:
    """Remove and return the first explicit date near the top of the article."""
    seen = 0
    for i, line in enumerate(lines):
        if not line:
            continue
        when, rest = extract_leading_date(line)
        if when is not None and (seen == 0 or not rest):
            lines[i] = rest
            return when
        seen += 1
        if seen >= _DATE_LINE_WINDOW:
            break
    return None


def _first_index(lines: list[str], start: int = 0) -> int | None:
    return next((i for i in range(start, len(lines)) if lines[i]), None)


def _join(lines: list[str]) -> str:
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def clean_text(text: str) -> CleanedText:
    """Title, body, date and dateline of a plain-text article (empty title/body if none)."""
    lines = clean_lines(text)
    published_at = _take_date(lines)
    first = _first_index(lines)
    if first is None:
        return CleanedText(title="", body="", published_at=published_at)
    # The first line is the title or the story: never site chrome.
    lines = lines[: max(trailing_chrome_start(lines), first + 1)]

    place, rest = extract_dateline(lines[first])
    if place is not None or is_paragraph(lines[first]):
        # The file has no headline: the story starts at once. Title its first sentence
        # and keep the whole paragraph in the body.
        lines[first] = rest
        return CleanedText(
            title=make_title(first_sentence(rest)),
            body=_join(lines[first:]),
            published_at=published_at,
            dateline=place,
        )

    title = lines[first].lstrip("#").strip()
    body_lines = lines[first + 1 :]
    # Pages copied with their headline twice (page title and article heading).
    while (i := _first_index(body_lines)) is not None and _same_line(body_lines[i], title):
        body_lines = body_lines[i + 1 :]
    if (i := _first_index(body_lines)) is not None:
        place, body_lines[i] = extract_dateline(body_lines[i])
    return CleanedText(
        title=make_title(title) if len(title) > TITLE_MAX_CHARS else title,
        body=_join(body_lines),
        published_at=published_at,
        dateline=place,
    )


def clean_body(body: str) -> tuple[str, str | None]:
    """Light cleaning for bodies that came with their own title (JSON, HTML).

    Returns the body without captions, with normalised whitespace and its dateline split
    off, and the dateline place.
    """
    lines = clean_lines(body)
    place = None
    if (i := _first_index(lines)) is not None:
        place, lines[i] = extract_dateline(lines[i])
    return _join(lines), place

"""The one cleaning of an article's text, whatever file format it came in.

Real inbox files are copies of web pages: a repeated headline, a leading ``date ...``
line, a dateline (``ISLAMABAD –``), photo captions, and a trailing menu of the site's
other headlines. ``clean_text`` takes them apart; text files, Markdown, JSON and JSON
Lines records and HTML pages all go through it, so the same text gives the same title,
body, date and dateline in every format.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel

from shared.text.chrome import is_caption, trailing_chrome_start
from shared.text.datelines import extract_dateline
from shared.text.dates import extract_leading_date
from shared.text.sentences import ends_sentence, first_sentence, split_sentences
from shared.text.whitespace import join_lines, normalize_whitespace

TITLE_MAX_CHARS = 140
# How many leading non-empty lines may hold a standalone date line (after a title, say).
_DATE_LINE_WINDOW = 4
# A first line this long, ending like a sentence, is the story's first paragraph.
_PARAGRAPH_MIN_CHARS = 100
_PARAGRAPH_MIN_WORDS = 18
_PARAGRAPH_ANY_END_CHARS = 200


class CleanedText(BaseModel):
    """What the text of an article says about itself; readers add what the file says."""

    title: str
    body: str
    published_at: datetime | None = None
    dateline: str | None = None


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
    long_enough = len(line) >= _PARAGRAPH_MIN_CHARS or words >= _PARAGRAPH_MIN_WORDS
    return (ends_sentence(line) and long_enough) or len(line) > _PARAGRAPH_ANY_END_CHARS


def opens_story(line: str) -> bool:
    """The first line is the story itself, not a headline: a paragraph, or more than one
    sentence (a headline is one)."""
    return is_paragraph(line) or len(split_sentences(line)) > 1


def clean_lines(text: str) -> list[str]:
    """Whitespace-normalised lines, caption lines blanked (blank lines separate paragraphs)."""
    return ["" if is_caption(line) else line for line in normalize_whitespace(text).split("\n")]


def clean_text(text: str, title: str | None = None) -> CleanedText:
    """Title, body, date and dateline of an article's text (empty title/body if none).

    ``title`` is the headline when the file gives one (a JSON field, front matter, an
    HTML ``<title>``): then all of ``text`` is story, and a copy of the headline at its top
    is dropped. Without it the first line is the headline, unless the story starts at once
    (a dateline, a whole paragraph, more than one sentence), when the first sentence
    becomes the title.
    """
    return _clean(text, title, lone_line_is_story=False)


def clean_story(text: str, title: str | None = None) -> CleanedText:
    """``clean_text`` for text a file declares to be the story (a JSON body field, the main
    text of an HTML page).

    The one difference: a single line without a given headline is the story, titled by
    its first sentence, where a text file would read it as a headline without a story.
    """
    return _clean(text, title, lone_line_is_story=True)


def _clean(text: str, title: str | None, lone_line_is_story: bool) -> CleanedText:
    lines = clean_lines(text)
    published_at = _take_date(lines)
    given = " ".join(normalize_whitespace(title or "").split())  # a headline is one line
    first = _first_index(lines)
    if first is None:
        return CleanedText(title=_headline(given), body="", published_at=published_at)
    # The first line is the title or the story: never site chrome.
    lines = lines[: max(trailing_chrome_start(lines), first + 1)]

    if given:
        headline, body_lines = given, lines[first:]
    else:
        place, rest = extract_dateline(lines[first])
        alone = _first_index(lines, first + 1) is None
        if place is not None or opens_story(lines[first]) or (alone and lone_line_is_story):
            # The text has no headline: title its first sentence, keep the whole paragraph.
            lines[first] = rest
            return CleanedText(
                title=make_title(first_sentence(rest)),
                body=join_lines(lines[first:]),
                published_at=published_at,
                dateline=place,
            )
        headline, body_lines = lines[first].lstrip("#").strip(), lines[first + 1 :]

    # Pages copied with their headline twice (page title and article heading).
    while (i := _first_index(body_lines)) is not None and _same_line(body_lines[i], headline):
        body_lines = body_lines[i + 1 :]
    place = None
    if (i := _first_index(body_lines)) is not None:
        place, body_lines[i] = extract_dateline(body_lines[i])
    return CleanedText(
        title=_headline(headline),
        body=join_lines(body_lines),
        published_at=published_at,
        dateline=place,
    )


def _headline(title: str) -> str:
    return make_title(title) if len(title) > TITLE_MAX_CHARS else title


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


def _same_line(a: str, b: str) -> bool:
    def key(s: str) -> str:
        return re.sub(r"\W+", " ", s.casefold()).strip()

    return key(a) == key(b)

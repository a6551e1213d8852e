"""Site chrome: the lines of a saved web page that are not the story.

Photo captions and credits (``- File Photo``, ``Photo: AFP``), date stamps
(``Updated 16 Apr, 2024``), section labels (``Foreign Policy``) and the trailing menu of
the site's other headlines. The rules are conservative: anything that might be a sentence
of the story is kept, so when in doubt a line stays in the body.
"""

from __future__ import annotations

import re

from shared.text.dates import DATE, TIME
from shared.text.sentences import ends_sentence

_CAPTIONS = [
    re.compile(r"^[\s\-–—•*]*(?:file\s+(?:photo|image|picture)|photo\s+file)[\s.)]*$", re.I),
    re.compile(r"^[\s\-–—]*(?:photo|picture|image|pic)s?\s*(?::|\bby\b|\bcredit\b|\bcourtesy\b)", re.I),
    re.compile(
        r"^\(?\s*(?:AFP|AP|Reuters|EPA|Getty Images|AFP/Getty Images|APP|PPI|Xinhua|file)"
        r"(?:\s+photo)?\s*\)?\.?$",
        re.I,
    ),
    re.compile(r"[-–—|]\s*(?:file\s+photo|(?:AFP|AP|Reuters|EPA)\s+photo|photo\s*:\s*\S.*)$", re.I),
]
# Longer than this, a line that mentions a photo is a paragraph of the story.
_CAPTION_MAX_CHARS = 200

_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…)$")
_DATESTAMP = re.compile(rf"^(?:(?:updated|published|posted|last\s+updated)\s*:?\s*)?{DATE}{TIME}?$", re.I)
_LABEL_MAX_WORDS = 12
_LABEL_MAX_CHARS = 100


def is_caption(line: str) -> bool:
    """A photo caption or credit line (``- File Photo``, ``Photo: AFP``, ``(AFP)``)."""
    line = line.strip()
    return bool(line) and len(line) <= _CAPTION_MAX_CHARS and any(p.search(line) for p in _CAPTIONS)


def is_datestamp(line: str) -> bool:
    """A line that is only a date, maybe labelled: ``Updated 16 Apr, 2024``."""
    return bool(_DATESTAMP.match(line.strip()))


def is_label(line: str) -> bool:
    """A short line that is not a sentence: a section name or a teaser headline.

    Lines quoting someone (double quotes) are reported speech, so story, not labels.
    """
    line = line.strip()
    return (
        bool(line)
        and not ends_sentence(line)
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

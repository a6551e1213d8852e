"""Sentence splitting that keeps character offsets into the original text.

Entity mentions and summary sentences both point back into ``document.body``, so every
sentence is a ``(start, end)`` slice of the text it came from: ``text[start:end]`` is the
sentence, exactly, with surrounding whitespace trimmed.

Rules, in order:
1. A line break ends a sentence: news bodies put paragraphs (and headings, captions,
   bylines) on their own lines, and a heading has no full stop to split on.
2. Inside a line, segtok's rule-based splitter finds sentence ends (it knows about
   abbreviations such as "Dr." or "U.S." and about quotes after the full stop).
3. Scripts segtok does not know get their own terminators: Urdu/Arabic/Persian
   the Urdu full stop ``۔`` and Arabic question mark ``؟``, Devanagari ``।``, and CJK
   ``。！？``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from segtok.segmenter import split_single

# Terminators segtok ignores; a closing quote or bracket right after stays with the sentence.
_EXTRA_TERMINATORS = re.compile(r"[۔؟।॥。！？]+[\"'”’»)\]]*")
_LINE = re.compile(r"[^\r\n\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class Span:
    """One sentence: ``text == source[start:end]``."""

    start: int
    end: int
    text: str


def _split_extra(piece: str) -> list[str]:
    """Split ``piece`` after non-Latin sentence terminators, keeping the terminator."""
    parts: list[str] = []
    last = 0
    for match in _EXTRA_TERMINATORS.finditer(piece):
        parts.append(piece[last : match.end()])
        last = match.end()
    parts.append(piece[last:])
    return [p for p in parts if p.strip()]


def split_sentences(text: str) -> list[Span]:
    """Sentences of ``text`` in order, each with its exact character offsets."""
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        if not line.group().strip():
            continue
        cursor = line.start()
        line_end = line.end()
        for rough in split_single(line.group()):
            for piece in _split_extra(rough):
                piece = piece.strip()
                if not piece:
                    continue
                # segtok returns substrings (it only trims whitespace), so searching forward
                # from the cursor recovers the exact offsets.
                start = text.find(piece, cursor, line_end)
                if start < 0:  # defensive: never lose text if a splitter ever rewrites it
                    start = cursor + (len(text[cursor:line_end]) - len(text[cursor:line_end].lstrip()))
                    piece = text[start:line_end].strip()
                    if not piece:
                        break
                end = start + len(piece)
                spans.append(Span(start, end, text[start:end]))
                cursor = end
    return spans

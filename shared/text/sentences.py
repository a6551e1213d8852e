"""Sentences: where they end, and splitting text into them with character offsets.

Entity mentions and summary sentences both point back into ``document.body``, so every
sentence is a ``(start, end)`` slice of the text it came from: ``text[start:end]`` is the
sentence, exactly, with surrounding whitespace trimmed.

Rules, in order:
1. A line break ends a sentence: news bodies put paragraphs (and headings, captions,
   bylines) on their own lines, and a heading has no full stop to split on.
2. Inside a line, segtok's rule-based splitter finds sentence ends (it knows about
   abbreviations such as "Dr." or "U.S." and about quotes after the full stop). A piece
   that starts with a lower-case word continues the sentence before it ("Acme Inc. in
   May"), and a military or civil title never ends one ("Lt. Gen. Janjua").
3. Scripts segtok does not know get their own terminators: the Urdu full stop ``۔`` and
   Arabic question mark ``؟`` (Urdu, Arabic, Persian), Devanagari ``।`` and ``॥``, and
   CJK ``。！？``.

``ends_sentence`` is the one rule for "this line ends like a sentence", used by the
cleaning of articles (story text or site chrome?) and by the summariser (prose or label?).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from segtok.segmenter import split_single

_LATIN_TERMINATORS = ".!?…"
_OTHER_TERMINATORS = "۔؟।॥。！？"
# What may follow a terminator and still belong to the sentence: quotes and brackets.
_CLOSERS = "\"'”’»)\\]」』）"

# Terminators segtok ignores; a closing quote or bracket right after stays with the sentence.
_EXTRA_TERMINATORS = re.compile(f"[{_OTHER_TERMINATORS}]+[{_CLOSERS}]*")
# A terminator (then closers), or a closing quotation mark or bracket on its own: a line
# that ends a quotation ends a sentence even without a full stop (the style of some
# papers). A bare apostrophe is not enough: "the ministers'" ends with one.
_SENTENCE_END = re.compile(f'[{_LATIN_TERMINATORS}{_OTHER_TERMINATORS}][{_CLOSERS}]*$|["”’»)\\]」』）]$')
# Titles that always stand before a name, so a full stop after them never ends a sentence.
# segtok knows Dr, Gen, Col, Capt, Sgt, Mr, Mrs; these are the ones news adds.
_NAME_TITLE = re.compile(
    r"(?:^|[\s(\"“‘'])(?:Lt|Maj|Brig|Adm|Cdr|Cmdr|Gov|Sen|Rep|Amb|Pres|Supt|Insp|Hon|Rev|Ms)\.$"
)
_LINE = re.compile(r"[^\r\n\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class Span:
    """One sentence: ``text == source[start:end]``."""

    start: int
    end: int
    text: str


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends like a sentence: a terminator of any script (``. ! ? …``,
    ``۔ ؟ । ॥ 。 ！ ？``), optionally followed by closing quotes or brackets, or a
    closing quotation mark."""
    return bool(_SENTENCE_END.search(text.strip()))


def first_sentence(paragraph: str) -> str:
    """The first sentence of ``paragraph`` (all of it when it has no sentence end)."""
    spans = split_sentences(paragraph)
    return spans[0].text if spans else paragraph.strip()


def _split_extra(piece: str) -> list[str]:
    """Split ``piece`` after non-Latin sentence terminators, keeping the terminator."""
    parts: list[str] = []
    last = 0
    for match in _EXTRA_TERMINATORS.finditer(piece):
        parts.append(piece[last : match.end()])
        last = match.end()
    parts.append(piece[last:])
    return [p for p in parts if p.strip()]


def _line_spans(text: str, line_start: int, line_end: int) -> list[Span]:
    """Sentences of the line ``text[line_start:line_end]``, as found by the splitters."""
    spans: list[Span] = []
    cursor = line_start
    for rough in split_single(text[line_start:line_end], join_on_lowercase=True):
        for piece in _split_extra(rough):
            piece = piece.strip()
            if not piece:
                continue
            # segtok returns substrings (it only trims whitespace), so searching forward
            # from the cursor recovers the exact offsets.
            start = text.find(piece, cursor, line_end)
            if start < 0:  # defensive: never lose text if a splitter ever rewrites it
                rest = text[cursor:line_end]
                start = cursor + (len(rest) - len(rest.lstrip()))
                piece = text[start:line_end].strip()
                if not piece:
                    break
            end = start + len(piece)
            spans.append(Span(start, end, text[start:end]))
            cursor = end
    return spans


def _join_after_titles(text: str, spans: list[Span]) -> list[Span]:
    """Rejoin sentences that segtok ended after a title such as "Lt." or "Gov."."""
    joined: list[Span] = []
    for span in spans:
        if joined and _NAME_TITLE.search(joined[-1].text):
            start = joined[-1].start
            joined[-1] = Span(start, span.end, text[start : span.end])
        else:
            joined.append(span)
    return joined


def split_sentences(text: str) -> list[Span]:
    """Sentences of ``text`` in order, each with its exact character offsets."""
    spans: list[Span] = []
    for line in _LINE.finditer(text):
        if line.group().strip():
            spans.extend(_join_after_titles(text, _line_spans(text, line.start(), line.end())))
    return spans


def offsets(spans: Sequence[Span]) -> list[tuple[int, int]]:
    """What a document carries of its sentences: their offsets (the text is in the body)."""
    return [(span.start, span.end) for span in spans]


def sentence_spans(text: str, known: Sequence[tuple[int, int]]) -> list[Span]:
    """The sentences of ``text`` from the offsets split once at ingest (``known``).

    Offsets that do not fit ``text`` (out of bounds, overlapping, or none for a text with
    words: a document from before they were carried, or a body changed since) are not
    trusted: the text is split again, so a caller never gets a sentence that is not there.
    """
    spans: list[Span] = []
    previous_end = 0
    for start, end in known:
        if not previous_end <= start < end <= len(text):
            return split_sentences(text)
        spans.append(Span(start, end, text[start:end]))
        previous_end = end
    if not spans and text.strip():
        return split_sentences(text)
    return spans

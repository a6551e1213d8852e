"""What a search's query text may ask of Elasticsearch, checked before Elasticsearch sees it.

The query text uses Lucene's query-string syntax (``strike AND title:harbour``). That syntax
reaches far: a few thousand ``(`` overflow the parser's stack and the node exits
(measured on 8.19.7: 3000 unbalanced ``(`` in ``query_string``, 10000 nested ones in
``simple_query_string``); a leading wildcard or a short prefix scans the whole term
dictionary; ``field:`` names any field, internal ones included. ``check_query`` refuses
such text with a sentence that says what to change; ``query_string_text`` prepares what is
allowed for ``query_string``.

The scanner follows the lexical rules of Lucene's classic query parser (escapes, quoted
phrases, ranges, ``AND``/``OR``/``NOT``/``&&``/``||``/``!``/``+``/``-``, ``:``, ``~``, ``^``)
closely enough to count nesting, terms and expansions and to find field names. It does not
have to accept exactly what Lucene accepts: text Lucene cannot parse falls back to the
forgiving simple syntax (``shared/search/query.py``), which the same limits keep safe.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from shared.schemas import ENTITY_TYPES
from shared.search.errors import SearchInputError
from shared.search.template import SUBFIELD_ANALYZERS, TEXT_FIELDS

# A search box, not a document: long enough for any query a person writes.
MAX_QUERY_CHARS = 1000
# People nest two or three levels; the parsers overflow in the thousands.
MAX_DEPTH = 10
# Words a query may hold (phrases count each word): every word becomes one clause per
# searched field and language, and Elasticsearch refuses more than ~1000 clauses on a
# small node.
MAX_TERMS = 32
# Wildcard, fuzzy and range terms each expand to many index terms.
MAX_EXPANDING_TERMS = 8
# Characters before the first wildcard: ``a*`` enumerates a large part of the dictionary.
MIN_WILDCARD_PREFIX = 2
MAX_FUZZY_EDITS = 2  # Lucene's own limit
MAX_PHRASE_SLOP = 50
MAX_BOOST = 100.0
# Per query: how many index terms one fuzzy term may expand to, and how large the
# automaton of a wildcard term may grow (Elasticsearch's defaults are 50 and 10000).
FUZZY_MAX_EXPANSIONS = 20
MAX_DETERMINIZED_STATES = 2000

# The documented fields a query may name (``title:harbour``): the text fields and their
# per-language sub-fields, and the keyword fields people filter on.
KEYWORD_FIELDS = (
    "source",
    "language",
    "dateline",
    "author",
    "format",
    *(f"entities.{kind}" for kind in ENTITY_TYPES),
)
DATE_FIELDS = ("published_at",)
SEARCHABLE_FIELDS = frozenset(
    (
        *TEXT_FIELDS,
        *(f"{name}.{sub}" for name in TEXT_FIELDS for sub in SUBFIELD_ANALYZERS),
        *KEYWORD_FIELDS,
        *DATE_FIELDS,
    )
)
DOCUMENTED_FIELDS = (*TEXT_FIELDS, *KEYWORD_FIELDS, *DATE_FIELDS)

_WHITESPACE = " \t\n\r\u3000"
# Characters that end a bare term (Lucene's classic parser); ``+`` and ``-`` end one only
# at its start, where they are operators. ``/`` is not here: it is searched as text.
_TERM_END = set(_WHITESPACE) | set('!():^[]"{}~')
_OPERATOR_WORDS = {"AND", "OR", "NOT"}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_HINT = 'write plain words, "quoted phrases", AND / OR / NOT, and field:value'


@dataclass
class QueryShape:
    """What the scanner found in a query."""

    depth: int = 0
    terms: int = 0
    expanding: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)


def check_query(text: str) -> QueryShape:
    """Refuse query text that could hurt the cluster or that names an unknown field;
    returns what was found. Raises ``SearchInputError`` saying what to change."""
    _check_characters(text)
    if len(text) > MAX_QUERY_CHARS:
        raise SearchInputError(
            f"the query is {len(text)} characters long; at most {MAX_QUERY_CHARS} are allowed. "
            "Shorten it, or narrow the search with filters (language, source, entity, dates)"
        )
    shape = _Scanner(text).scan()
    if shape.depth > MAX_DEPTH:
        raise SearchInputError(
            f"the query nests parentheses {shape.depth} deep; at most {MAX_DEPTH} levels are allowed"
        )
    if shape.terms > MAX_TERMS:
        raise SearchInputError(
            f"the query has {shape.terms} search terms; at most {MAX_TERMS} are allowed. Keep the "
            "words that matter, or narrow the search with filters"
        )
    if len(shape.expanding) > MAX_EXPANDING_TERMS:
        raise SearchInputError(
            f"the query has {len(shape.expanding)} wildcard, fuzzy or range terms "
            f"({', '.join(_shown(term) for term in shape.expanding[:3])}, ...); at most {MAX_EXPANDING_TERMS} "
            "are allowed"
        )
    return shape


def query_string_text(text: str) -> str:
    """``text`` as ``query_string`` should read it: ``/`` is searched as text (``24/7``,
    ``9/11``) instead of starting a regular expression, which Dateline does not offer."""
    out = []
    escaped = quoted = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "/" and not quoted:
            out.append("\\")
        out.append(char)
    return "".join(out)


def _shown(text: str, limit: int = 40) -> str:
    """A piece of the query, quoted for a message, never long enough to repeat the input."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _check_characters(text: str) -> None:
    for position, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raise SearchInputError(
                f"the query is not valid text (undecodable bytes at character {position + 1}); "
                "type it again or check the terminal's encoding (UTF-8)"
            )
        if unicodedata.category(char) == "Cc" and char not in _WHITESPACE:
            raise SearchInputError(
                f"the query contains the control character U+{ord(char):04X} at character "
                f"{position + 1}; remove it"
            )


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.shape = QueryShape()
        self.depth = 0

    def scan(self) -> QueryShape:
        text = self.text
        while self.i < len(text):
            char = text[self.i]
            if char in _WHITESPACE:
                self.i += 1
            elif char == "(":
                self.depth += 1
                self.shape.depth = max(self.shape.depth, self.depth)
                self.i += 1
            elif char == ")":
                self.depth = max(0, self.depth - 1)
                self.i += 1
            elif char == '"':
                self._phrase()
            elif char in "[{":
                self._range()
            elif text.startswith(("&&", "||"), self.i):
                self.i += 2
            elif char in "+-!:":
                # Operators; a ':' without a field before it is a syntax error Lucene reports.
                self.i += 1
            elif char in "~^":
                self._modifiers(None)
            else:
                self._term()
        return self.shape

    def _phrase(self) -> None:
        """``"..."`` (escapes inside), then ``~slop`` and ``^boost``."""
        end = self.i + 1
        while end < len(self.text) and self.text[end] != '"':
            end += 2 if self.text[end] == "\\" else 1
        words = len(self.text[self.i + 1 : end].split())
        self.shape.terms += max(1, words)
        self.i = min(end + 1, len(self.text))
        self._modifiers("phrase")

    def _range(self) -> None:
        """``[a TO b]`` / ``{a TO b}``: read to the closing bracket (Lucene's range state)."""
        start = self.i
        end = self.i + 1
        while end < len(self.text) and self.text[end] not in "]}":
            if self.text[end] == '"':
                end = self.text.find('"', end + 1)
                if end < 0:
                    end = len(self.text)
            end += 1
        self.i = min(end + 1, len(self.text))
        self.shape.terms += 1
        self.shape.expanding.append(self.text[start : self.i][:40])
        self._modifiers(None)

    def _term(self) -> None:
        start = self.i
        if self.text[start] in _TERM_END:  # a stray ']' or '}': Lucene reports it, we skip it
            self.i += 1
            return
        chars: list[str] = []  # the term as written, escapes resolved; None marks a wildcard
        wildcards: list[int] = []
        while self.i < len(self.text):
            char = self.text[self.i]
            if char == "\\":
                if self.i + 1 < len(self.text):
                    chars.append(self.text[self.i + 1])
                self.i += 2
                continue
            if char in _TERM_END:
                break
            if char in "*?":
                wildcards.append(len(chars))
            chars.append(char)
            self.i += 1
        written = self.text[start : self.i]
        after = self.i
        while after < len(self.text) and self.text[after] in _WHITESPACE:
            after += 1
        if after < len(self.text) and self.text[after] == ":":
            self._field(written)
            self.i = after + 1
            return
        if written in _OPERATOR_WORDS:
            return
        self.shape.terms += 1
        if wildcards and written != "*":
            if wildcards[0] < MIN_WILDCARD_PREFIX:
                raise SearchInputError(
                    f"the wildcard term {_shown(written)} needs at least {MIN_WILDCARD_PREFIX} letters "
                    "before its first * or ? (a leading wildcard scans every word in the archive)"
                )
            self.shape.expanding.append(written)
        self._modifiers(written)

    def _field(self, name: str) -> None:
        if name not in SEARCHABLE_FIELDS:
            raise SearchInputError(
                f"{_shown(name)} is not a field you can search; the fields are "
                f"{', '.join(DOCUMENTED_FIELDS)} (field:value). To search for a colon as text, "
                "put the words in quotes or write \\:"
            )
        self.shape.fields.append(name)

    def _modifiers(self, term: str | None) -> None:
        """``~N`` (fuzzy edits on a term, slop on a phrase) and ``^N`` (boost) after a term."""
        while self.i < len(self.text) and self.text[self.i] in "~^":
            kind = self.text[self.i]
            found = _NUMBER.match(self.text, self.i + 1)
            number = found.group(0) if found else ""
            self.i = found.end() if found else self.i + 1
            if (
                self.i < len(self.text)
                and self.text[self.i] not in _TERM_END
                and self.text[self.i] not in "+-"
            ):
                # Lucene reads the rest of the word as the modifier's value: flood~rhine, flood^2x.
                raise SearchInputError(
                    f'{kind} takes a number: flood~1 (one letter off), "flood warning"~3 (words apart), '
                    f"title:flood^2 (weight); to search for {kind} as text, write \\{kind}"
                )
            if kind == "^":
                if not number or float(number) > MAX_BOOST:
                    raise SearchInputError(
                        f"a boost (^) must be a number up to {MAX_BOOST:g}, e.g. title:harbour^2; {_HINT}"
                    )
            elif term == "phrase":
                if number and float(number) > MAX_PHRASE_SLOP:
                    raise SearchInputError(
                        f"a phrase's ~ allows at most {MAX_PHRASE_SLOP} words between its words; "
                        f"got ~{number}"
                    )
            elif term is not None:
                if number and float(number) > MAX_FUZZY_EDITS:
                    raise SearchInputError(
                        f"a fuzzy term allows at most {MAX_FUZZY_EDITS} edits (harbour~1, harbour~2); "
                        f"got {_shown(term + '~' + number)}"
                    )
                self.shape.expanding.append(f"{term}~{number}")

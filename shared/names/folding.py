"""Folding names that differ only in case, diacritics, hyphens or quotes into one key, and
the one way such a key is written as a facet value.

The facet value of a name must not depend on which documents were processed first, so it
is a function of the key alone (the alias table may name it instead, see ``aliases``):

- the key: Latin diacritics dropped (``Zürich`` = ``Zurich``), typographic quotes made
  ASCII (``O’Brien`` = ``O'Brien``), full stops dropped (``U.S.`` = ``US``), hyphens and
  dashes read as spaces (``al-Qaeda`` = ``al Qaeda``), and the case of each word's first
  letter ignored (``al-Qaeda`` = ``Al-Qaeda``). A word's other letters keep their case:
  ``BlackRock``, ``McCain`` and initialisms such as ``TTP`` or ``PTI`` are written so on
  purpose, and ``NATO`` / ``Nato`` are joined by the alias table, not by case;
- the facet value of a key: each word starts with a capital; the particles of Arabic,
  Persian and Urdu names (``al``, ``e``, ``ul`` ...) stay lower case and are joined to the
  next word by a hyphen (``Tehrik-e-Taliban Pakistan``, ``Abu Bakr al-Baghdadi``); other
  particles (``bin``, ``of``, ``de``, ``van`` ...) stay lower case inside a name.

Scripts without case (Arabic, Urdu, CJK) fold only quotes, hyphens and spaces: their
combining marks are part of the spelling.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

APOSTROPHES = "'\u2019\u2018\u02bc`\u00b4"
_DASHES = re.compile(r"[\-\u2010-\u2015\u2212\s]+")
# Lower case and hyphenated: the Arabic article joins the next word ("Abu Bakr al-Baghdadi"),
# the Persian/Urdu ezafe joins both ("Tehrik-e-Taliban Pakistan", "Jamaat-ul-Ahrar").
ARTICLE_PARTICLES = frozenset({"al", "el", "ash", "az"})
EZAFE_PARTICLES = frozenset({"e", "i", "ul", "ud", "ur"})
# Lower case inside a name, written apart: "Osama bin Laden", "Bank of England".
SPACED_PARTICLES = frozenset(
    {
        "bin",
        "ibn",
        "bint",
        "of",
        "and",
        "the",
        "for",
        "on",
        "in",
        "de",
        "del",
        "della",
        "der",
        "den",
        "di",
        "da",
        "do",
        "dos",
        "du",
        "la",
        "le",
        "van",
        "von",
        "y",
        "zu",
    }
)


def _strip_latin_marks(text: str) -> str:
    """``Zürich`` -> ``Zurich``; marks on letters of caseless scripts are kept."""
    out: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char) and out and out[-1].isascii():
            continue
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


def _fold_word(word: str) -> str:
    return word[:1].lower() + word[1:]


@lru_cache(maxsize=65536)
def fold_key(name: str) -> str:
    """The key under which spellings of one name are the same (see the module docstring)."""
    text = _strip_latin_marks(name)
    text = re.sub(f"[{APOSTROPHES[1:]}]", "'", text).replace(".", "")
    words = [_fold_word(w) for w in _DASHES.split(text.strip(" '\"")) if w]
    # "O'Brien" / "O'brien": the letter after an elided particle is a word start too.
    return " ".join(re.sub(r"(?<=\b[a-zA-Z]')(\w)", lambda m: m.group(1).lower(), w) for w in words)


def _capitalise(word: str) -> str:
    word = word[:1].upper() + word[1:]
    return re.sub(r"(?<=\b[A-Z]')(\w)", lambda m: m.group(1).upper(), word)  # O'Brien, D'Souza


@lru_cache(maxsize=65536)
def present(key: str) -> str:
    """How the folded ``key`` is written as a facet value (a function of the key alone)."""
    words = key.split()
    out = ""
    joined = False  # the previous word was a particle that takes a hyphen after it
    for index, word in enumerate(words):
        inside = 0 < index < len(words) - 1
        lowered = word.lower()
        if lowered in EZAFE_PARTICLES and inside:
            out += "-" + lowered
            joined = True
            continue
        if lowered in ARTICLE_PARTICLES and index < len(words) - 1:
            text, after = (lowered if out else _capitalise(lowered)), True
        elif lowered in SPACED_PARTICLES and inside:
            text, after = lowered, False
        else:
            text, after = _capitalise(word), False
        out += ("-" if joined else " " if out else "") + text
        joined = after
    return out


def facet_form(name: str) -> str:
    """``name`` written as its key's facet value: ``al Qaeda`` -> ``Al-Qaeda``."""
    return present(fold_key(name))

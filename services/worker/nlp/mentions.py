"""A tagger's mentions, cleaned: what the span says once quotes, possessives, stray
punctuation and titles are gone, and whether it is a name at all or only a fragment of one.

Pure functions, no models. ``canonical`` groups what survives into entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.names.folding import APOSTROPHES as _FOLDED_APOSTROPHES
from shared.names.folding import ARTICLE_PARTICLES, EZAFE_PARTICLES, fold_key
from shared.schemas import EntityType

# --- labels --------------------------------------------------------------------------------

_LABEL_TYPES: dict[str, EntityType] = {
    "PER": "person",
    "PERSON": "person",
    "ORG": "organization",
    "ORGANIZATION": "organization",
    "ORGANISATION": "organization",
    "LOC": "location",
    "LOCATION": "location",
    "GPE": "location",
    "FAC": "location",
}


def label_type(label: str) -> EntityType:
    """Map a tagger label (CoNLL, OntoNotes, with or without a B-/I-/S-/E- prefix) to a type.

    NORP (nationalities, religious and political groups: "Afghan", "Pakistani") goes to
    ``misc`` like CoNLL's MISC does for nationalities; groups that act as organisations
    ("Taliban") are tagged ORG by CoNLL-style models anyway.
    """
    bare = re.sub(r"^[BIESLU]-", "", label.strip().upper())
    return _LABEL_TYPES.get(bare, "misc")


@dataclass(frozen=True, slots=True)
class RawMention:
    """A tagger's span before canonicalisation (offsets into the body)."""

    text: str
    label: str
    score: float
    start: int
    end: int

    @property
    def type(self) -> EntityType:
        return label_type(self.label)


# --- cleaning ------------------------------------------------------------------------------

_QUOTES = "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a"
_APOSTROPHES = "'\u2019\u02bc`"
STRIP_CHARS = _QUOTES + " \t\r\n,;:!?()[]{}<>*_|/\\\u2013\u2014-\u00a0"
_POSSESSIVE = re.compile(rf"(?:[{_APOSTROPHES}]s|(?<=s)[{_APOSTROPHES}])$", re.IGNORECASE)
_INITIALISM = re.compile(r"(?:\b[A-Za-z]\.){2,}$")
assert set(_APOSTROPHES) <= set(_FOLDED_APOSTROPHES)  # names folding agrees on apostrophes


def clean_mention(text: str) -> str:
    """The mention without quotes, possessive, stray punctuation and repeated whitespace."""
    value = " ".join(text.split())
    for _ in range(4):  # peel layers such as: "Pakistan's",
        before = value
        value = value.strip(STRIP_CHARS)
        value = _POSSESSIVE.sub("", value)
        # A trailing full stop ends a sentence, unless it belongs to "U.S." or "Jr.".
        if value.endswith(".") and not _INITIALISM.search(value) and not _is_abbreviation(value):
            value = value[:-1]
        if value == before:
            break
    # A bracket left open or closed on one side only is noise: "(TTP" / "Pakistan)".
    if value.count("(") != value.count(")"):
        value = value.replace("(", "").replace(")", "").strip()
    return " ".join(value.split())


def _is_abbreviation(value: str) -> bool:
    last = value.rsplit(" ", 1)[-1]
    return last.lower() in {"jr.", "sr.", "inc.", "co.", "ltd.", "corp.", "st."}


def uncapitalised(value: str) -> bool:
    """ "compressive", "abroad", "and": cased letters but no capital - not a name in a cased
    script (this is what drops lowercase function words). Scripts without case (Arabic,
    Urdu, Devanagari, CJK) have no cased letters and pass."""
    cased = [c for c in value if c.isalpha() and c.lower() != c.upper()]
    return bool(cased) and not any(c.isupper() for c in cased)


_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+(?=\S)")
_HYPHENS = "-\u2010\u2011"
# "US-backed", "Taliban-led", "Abu Dhabi-based": a name made into an adjective.
_ADJECTIVE_SUFFIX = re.compile(f"[{_HYPHENS}][a-z]+$")
# "pro-Taliban", "anti-US", "ex-Senator": a prefix the tagger took along.
_PREFIX = re.compile(f"^(?:pro|anti|ex|non|post|pre|neo|mid)[{_HYPHENS}](?=[A-Z])")
# "Hilary Clinton,during": a word glued on after a comma without a space.
_GLUED_WORD = re.compile(r"[,;][a-z]+$")


def trim_compound(name: str) -> str:
    """The name inside a compound the tagger took whole: ``US-backed`` -> ``US``,
    ``pro-Taliban`` -> ``Taliban``, ``Clinton,during`` -> ``Clinton``."""
    value = _GLUED_WORD.sub("", name)
    value = _PREFIX.sub("", value)
    return _ADJECTIVE_SUFFIX.sub("", value) or name


def drop_leading_article(name: str) -> str:
    """``the U.S.`` -> ``U.S.``: an article the tagger took into the span is not the name."""
    return _LEADING_ARTICLE.sub("", name)


# --- titles --------------------------------------------------------------------------------

# Checked longest first, repeatedly, so "Acting Prime Minister Maulvi Abdul Kabir" -> "Abdul Kabir".
# Words that are usually part of how a person is named (King, Prince, Mullah, Hafiz) stay.
_TITLES = sorted(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "professor",
        "sir",
        "ambassador",
        "president",
        "vice president",
        "prime minister",
        "minister",
        "foreign minister",
        "interior minister",
        "defence minister",
        "defense minister",
        "finance minister",
        "information minister",
        "chief minister",
        "deputy prime minister",
        "acting prime minister",
        "acting minister",
        "acting",
        "deputy",
        "former",
        "late",
        "secretary",
        "foreign secretary",
        "secretary of state",
        "secretary of states",
        "us secretary of state",
        "special representative",
        "special envoy",
        "envoy",
        "spokesperson",
        "spokesman",
        "spokeswoman",
        "senator",
        "sen",
        "rep",
        "congressman",
        "governor",
        "mayor",
        "chairman",
        "chairperson",
        "chief",
        "emir",
        "sheikh",
        "shaikh",
        "maulvi",
        "maulana",
        "mawlawi",
        "mawlvi",
        "imam",
        "ayatollah",
        "general",
        "gen",
        "lt",
        "lt gen",
        "lieutenant general",
        "maj",
        "major",
        "maj gen",
        "major general",
        "brig",
        "brigadier",
        "col",
        "colonel",
        "capt",
        "captain",
        "admiral",
        "marshal",
        "field marshal",
        "commander",
        "justice",
        "chief justice",
        "judge",
        "retd",
        "(retd)",
        "army chief",
        "coas",
        "premier",
        "chancellor",
        "ex",
        "mp",
        "mna",
        "mpa",
    },
    key=lambda t: -len(t),
)
# Words that name an office or a kind of body, not one: on their own they are a piece the
# tagger cut from a longer name ("Foreign" from "Foreign Office", "Council", "Office").
_GENERIC_WORDS = frozenset(
    {
        "foreign",
        "office",
        "council",
        "ministry",
        "government",
        "department",
        "committee",
        "commission",
        "agency",
        "authority",
        "court",
        "embassy",
        "assembly",
        "cabinet",
        "secretariat",
        "interior",
        "defence",
        "defense",
        "finance",
        "federal",
        "national",
        "central",
        "provincial",
        "security",
        "affairs",
        "state",
        "house",
    }
)


def strip_titles(name: str) -> str:
    """``name`` without leading honorifics/titles; unchanged if nothing would be left."""
    value = name
    while True:
        lowered = value.lower()
        for title in _TITLES:
            match = re.match(rf"{re.escape(title)}\.?(?:\s+|$)", lowered)
            if match and match.end() < len(value):
                value = value[match.end() :].lstrip(" ,")
                break
        else:
            return value or name


def is_title_only(name: str) -> bool:
    """True for "Ambassador", "Foreign Minister": titles with no name left to them."""
    value = name.lower().strip()
    while value:
        for title in _TITLES:
            match = re.match(rf"{re.escape(title)}\.?(?:\s+|$)", value)
            if match:
                value = value[match.end() :].lstrip(" ,")
                break
        else:
            return False
    return True


def is_lone_title_word(name: str) -> bool:
    """One word that is a title or names a kind of body: "Minister", "Foreign", "Office"."""
    words = name.split()
    return len(words) == 1 and (is_title_only(name) or fold_key(name).lower() in _GENERIC_WORDS)


# --- fragments -----------------------------------------------------------------------------


_NAME_GOES_ON = re.compile(f"^[{_HYPHENS}]([A-Za-z]+)([{_HYPHENS}])?")


def is_cut_at_hyphen(mention: RawMention, body: str) -> bool:
    """``Tehreek-`` or ``Tehreek`` out of ``Tehreek-e-Taliban``: the span ends on a hyphen, or
    the name goes on after it - a hyphen and a capital (``Al`` of ``Al-Qaeda``) or a
    particle and another hyphen (``-e-``). ``US`` of ``US-backed`` is a whole name."""
    if mention.text.rstrip().endswith(tuple(_HYPHENS)):
        return True
    match = _NAME_GOES_ON.match(body[mention.end : mention.end + 12]) if body else None
    if match is None:
        return False
    word = match.group(1)
    return word[0].isupper() or (word in EZAFE_PARTICLES | ARTICLE_PARTICLES and match.group(2) is not None)


def inside_longer_name(mention: RawMention, longer: list[RawMention], body: str) -> bool:
    """The mention's span lies inside a place where the body spells out one of the
    ``longer`` mentions' names: "Council" cut from "National Security Council"."""
    for other in longer:
        size = len(other.text)
        if size <= len(mention.text) or mention.text not in other.text:
            continue
        low = max(0, mention.end - size)
        position = body.find(other.text, low, mention.start + size)
        while position >= 0:
            if position <= mention.start and mention.end <= position + size:
                return True
            position = body.find(other.text, position + 1, mention.start + size)
    return False

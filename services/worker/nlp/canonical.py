"""Canonical entity names within one document (pure functions, no models).

The tagger finds surface mentions: ``Ambassador Khalilzad``, ``Khalilzad``, ``Pakistan's``,
``TTP``. Search and facets need one name per real-world entity, so within a document:

1. every mention is cleaned: quotes, possessives (``Pakistan's`` -> ``Pakistan``), stray
   punctuation and extra whitespace go; a mention with cased letters but no capital
   ("compressive") is dropped - in cased scripts names are capitalised, and small or
   foreign-domain taggers do tag such words;
2. person names lose honorifics and titles (``Ambassador``, ``Dr``, ``Foreign Minister``),
   because the same person is written with and without them;
3. a short person name folds into the one full name it is part of (``Khalilzad`` ->
   ``Zalmay Khalilzad``) - only when exactly one full name in the document fits;
4. an acronym joins its expansion when the document gives both: initials of the
   capitalised words (hyphenated parts count: ``Tehreek-e-Taliban Pakistan`` -> ``TTP``)
   or the pattern ``Long Name (ACR)`` in the body;
5. linked names form one entity whose canonical name is its longest form;
6. one entity has one type: the type most of its mentions got (a tagger that calls
   "Taliban" ORG ten times and MISC once is outvoted; "one sense per document").

Output ordering (documented contract): ``Entities.<type>`` and ``entity_list`` list the most
mentioned entity first, ties by name; ``mentions`` stay in body order.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

from shared.schemas import ENTITY_TYPES, Entities, Entity, EntityType, Mention

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


# --- cleaning ------------------------------------------------------------------------------

_QUOTES = "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a"
_APOSTROPHES = "'\u2019\u02bc`"
_STRIP_CHARS = _QUOTES + " \t\r\n,;:!?()[]{}<>*_|/\\\u2013\u2014-\u00a0"
_POSSESSIVE = re.compile(rf"(?:[{_APOSTROPHES}]s|(?<=s)[{_APOSTROPHES}])$", re.IGNORECASE)
_INITIALISM = re.compile(r"(?:\b[A-Za-z]\.){2,}$")


def clean_mention(text: str) -> str:
    """The mention without quotes, possessive, stray punctuation and repeated whitespace."""
    value = " ".join(text.split())
    for _ in range(4):  # peel layers such as: "Pakistan's",
        before = value
        value = value.strip(_STRIP_CHARS)
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


def _uncapitalised(value: str) -> bool:
    """"compressive", "abroad": cased letters but no capital - not a name in a cased script.

    Scripts without case (Arabic, Urdu, Devanagari, CJK) have no cased letters and pass."""
    cased = [c for c in value if c.isalpha() and c.lower() != c.upper()]
    return bool(cased) and not any(c.isupper() for c in cased)


def _is_abbreviation(value: str) -> bool:
    last = value.rsplit(" ", 1)[-1]
    return last.lower() in {"jr.", "sr.", "inc.", "co.", "ltd.", "corp.", "st."}


# --- titles --------------------------------------------------------------------------------

# Checked longest first, repeatedly, so "Acting Prime Minister Maulvi Abdul Kabir" -> "Abdul Kabir".
# Words that are usually part of how a person is named (King, Prince, Mullah, Hafiz) stay.
_TITLES = sorted(
    {
        "mr", "mrs", "ms", "miss", "dr", "prof", "professor", "sir",
        "ambassador", "president", "vice president", "prime minister", "minister",
        "foreign minister", "interior minister", "defence minister", "defense minister",
        "finance minister", "information minister", "chief minister", "deputy prime minister",
        "acting prime minister", "acting minister", "acting", "deputy", "former", "late",
        "secretary", "foreign secretary", "secretary of state", "secretary of states",
        "us secretary of state", "special representative", "special envoy", "envoy",
        "spokesperson", "spokesman", "spokeswoman", "senator", "sen", "rep", "congressman",
        "governor", "mayor", "chairman", "chairperson", "chief", "emir", "sheikh", "shaikh",
        "maulvi", "maulana", "mawlawi", "mawlvi", "imam", "ayatollah", "general",
        "gen", "lt", "lt gen", "lieutenant general", "maj", "major", "maj gen", "major general",
        "brig", "brigadier", "col", "colonel", "capt", "captain", "admiral", "marshal",
        "field marshal", "commander", "justice", "chief justice", "judge", "retd", "(retd)",
        "army chief", "coas", "premier", "chancellor", "ex", "mp", "mna", "mpa",
    },
    key=lambda t: -len(t),
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


# --- matching helpers ----------------------------------------------------------------------


def match_key(name: str) -> str:
    """Case-, accent-, hyphen- and apostrophe-insensitive key: equal keys are one name."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = re.sub(rf"[{_APOSTROPHES}.]", "", folded.casefold())
    folded = re.sub(r"[\-\u2010-\u2015\s]+", " ", folded)
    return folded.strip()


def _tokens(name: str) -> list[str]:
    return match_key(name).split()


def is_acronym(name: str) -> bool:
    """``TTP``, ``U.S.``, ``NATO``: 2-8 capital letters, dots allowed, nothing else."""
    letters = name.replace(".", "")
    return 2 <= len(letters) <= 8 and letters.isalpha() and letters.isupper()


def initials(name: str) -> str:
    """Initials of the capitalised words, hyphenated parts included (``Tehreek-e-Taliban
    Pakistan`` -> ``TTP``; lower-case joiners such as ``e``, ``of``, ``and`` are skipped)."""
    parts = re.split(r"[\s\-\u2010-\u2015]+", name)
    return "".join(p[0] for p in parts if p and p[0].isupper())


def _is_part_of(short: list[str], full: list[str]) -> bool:
    """``short``'s tokens appear in ``full`` in order and both end in the same token."""
    if not short or len(short) >= len(full) or short[-1] != full[-1]:
        return False
    it = iter(full)
    return all(tok in it for tok in short)


# --- the canonicaliser ---------------------------------------------------------------------


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


@dataclass
class Canonicalised:
    entities: Entities
    entity_list: list[Entity]
    mentions: list[Mention]


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[root_b] = root_a


def _expansion_in_body(acronym: str, body: str) -> str | None:
    """``Tehrik-e-Taliban Pakistan`` for ``TTP`` when the body says ``... Pakistan (TTP)``."""
    target = acronym.replace(".", "")
    for match in re.finditer(rf"\(\s*{re.escape(acronym)}\s*\)", body):
        words = body[max(0, match.start() - 200) : match.start()].split()[-10:]
        words = [w.strip(_STRIP_CHARS) for w in words]
        for size in range(1, len(words) + 1):
            candidate = " ".join(words[-size:])
            if initials(candidate) == target and candidate[:1].isupper():
                return candidate
    return None


def canonicalise(mentions: list[RawMention], body: str = "") -> Canonicalised:
    """Group ``mentions`` of one document into canonical entities (see module docstring)."""
    cleaned: list[tuple[RawMention, str, str]] = []  # (mention, surface, name used to match)
    for mention in mentions:
        surface = clean_mention(mention.text)
        if not surface or not any(c.isalnum() for c in surface) or _uncapitalised(surface):
            continue
        name = strip_titles(surface) if mention.type == "person" else surface
        if mention.type == "person" and is_title_only(name):
            continue  # "Maulvi", "President": a title the tagger cut off its name
        cleaned.append((mention, surface, name))

    # Nodes: one per match key; remember spellings, types and counts.
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    types: dict[str, Counter[EntityType]] = defaultdict(Counter)
    first_seen: dict[str, int] = {}
    for index, (mention, _surface, name) in enumerate(cleaned):
        key = match_key(name)
        spellings[key][name] += 1
        types[key][mention.type] += 1
        first_seen.setdefault(key, index)

    def node_type(key: str) -> EntityType:
        return _majority(types[key])

    def display(key: str) -> str:
        # The most frequent spelling; ties go to the one with more capitals ("TTP" > "Ttp").
        return max(spellings[key].items(), key=lambda kv: (kv[1], sum(c.isupper() for c in kv[0])))[0]

    uf = _UnionFind()
    for key in spellings:
        uf.find(key)
    extra_names: dict[str, str] = {}  # expansions found only in the body text

    # Acronyms <-> expansions (same or compatible entity; acronyms are often tagged differently).
    for key in spellings:
        name = display(key)
        if not is_acronym(name):
            continue
        target = name.replace(".", "")
        for other in spellings:
            other_name = display(other)
            if (
                other != key
                and not is_acronym(other_name)
                and node_type(other) != "person"  # "US" is not "Ustad Salim"
                and initials(other_name) == target
            ):
                uf.union(key, other)
        if body:
            expansion = _expansion_in_body(name, body)
            if expansion:
                exp_key = match_key(expansion)
                if exp_key not in spellings:
                    extra_names[exp_key] = expansion
                uf.union(key, exp_key)

    # Short person names -> the single full name they are part of.
    person_keys = [k for k in spellings if node_type(k) == "person" and not is_acronym(display(k))]
    # Longest first, so "Asad Durrani" joins "Mohammad Asad Durrani" before "Durrani" looks.
    person_keys.sort(key=lambda k: (-len(_tokens(display(k))), first_seen[k]))
    for key in person_keys:
        short = _tokens(display(key))
        fulls = {uf.find(k) for k in person_keys if _is_part_of(short, _tokens(display(k)))}
        # Maximal names only: "Zalmay Khalilzad" and "Zalmay M. Khalilzad" may already be one group.
        if len(fulls) == 1:
            uf.union(next(iter(fulls)), key)

    # Groups: canonical name = longest form (ties: more mentions, then earlier).
    groups: dict[str, list[str]] = defaultdict(list)
    for key in list(spellings) + list(extra_names):
        groups[uf.find(key)].append(key)

    def name_of(key: str) -> str:
        return extra_names[key] if key in extra_names else display(key)

    canonical_of: dict[str, str] = {}
    type_of: dict[str, EntityType] = {}
    for root, keys in groups.items():
        best = max(
            keys,
            key=lambda k: (
                len(name_of(k)),
                sum(spellings[k].values()) if k in spellings else 0,
                -first_seen.get(k, len(cleaned)),
            ),
        )
        group_types: Counter[EntityType] = Counter()
        for k in keys:
            group_types.update(types.get(k, Counter()))
        for k in keys:
            canonical_of[k] = name_of(best)
        type_of[root] = _majority(group_types)

    result_mentions: list[Mention] = []
    counts: Counter[tuple[str, EntityType]] = Counter()
    for mention, _surface, name in cleaned:
        key = match_key(name)
        canonical = canonical_of[key]
        entity_type = type_of[uf.find(key)]
        counts[(canonical, entity_type)] += 1
        result_mentions.append(
            Mention(
                text=mention.text,
                label=mention.label,
                type=entity_type,
                canonical=canonical,
                score=round(float(mention.score), 4),
                start=mention.start,
                end=mention.end,
            )
        )
    result_mentions.sort(key=lambda m: (m.start, m.end))

    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0].casefold(), kv[0][1]))
    entity_list = [Entity(name=name, type=etype, count=count) for (name, etype), count in ranked]
    by_type: dict[str, list[str]] = {t: [] for t in ENTITY_TYPES}
    for entity in entity_list:
        by_type[entity.type].append(entity.name)
    return Canonicalised(Entities(**by_type), entity_list, result_mentions)


_TYPE_PRIORITY: dict[EntityType, int] = {"person": 0, "organization": 1, "location": 2, "misc": 3}


def _majority(counter: Counter[EntityType]) -> EntityType:
    if not counter:
        return "misc"
    # Most votes; a tie goes to the more specific type (misc is the catch-all).
    return min(counter, key=lambda t: (-counter[t], _TYPE_PRIORITY[t]))

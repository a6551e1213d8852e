"""Canonical entity names of one document (pure functions, no models).

The tagger finds surface mentions: ``Ambassador Khalilzad``, ``Khalilzad``, ``Pakistan's``,
``TTP``. Search and facets need one name per real-world entity. ``canonicalise`` runs these
phases, each a function below:

1. ``clean``: every mention is cleaned (``mentions.clean_mention``, and a compound is cut to
   its name: ``US-backed`` -> ``US``); noise and fragments go:
   no letters or digits, uncapitalised words in a cased script (function words, "abroad"),
   a span cut at a hyphen (``Tehreek-``), a lone title or office word (``Foreign``,
   ``Council``), a piece of a longer name the body spells out around it. Person names lose
   honorifics and titles (``Ambassador``, ``Dr``, ``Foreign Minister``);
2. ``collect``: one node per match key (case-, accent-, hyphen- and apostrophe-insensitive)
   with its spellings, types and first position;
3. ``link_acronyms``: an acronym joins its expansion when the document gives both -
   initials of the capitalised words (hyphenated parts count: ``Tehreek-e-Taliban
   Pakistan`` -> ``TTP``) or the pattern ``Long Name (ACR)`` in the body;
4. ``link_short_names``: a short person name joins the one full name it is part of
   (``Khalilzad`` -> ``Zalmay Khalilzad``) - only when exactly one full name fits;
5. ``name_groups``: linked names form one entity named by its longest form, typed by the
   majority of its mentions ("one sense per document": ORG ten times and MISC once is ORG;
   a tie goes to the type the tagger was surer of);
6. ``archive_names`` (when the stage passes an alias table): the entity's name across the
   archive - the alias table's canonical name (``US`` -> ``United States``), otherwise the
   name's facet form, a function of its folded key alone (``shared.names``), so two
   documents that write ``al-Qaeda`` and ``Al-Qaeda`` get the same facet value whatever
   order they are processed in.

Output ordering (documented contract): ``Entities.<type>`` and ``entity_list`` list the most
mentioned entity first, ties by name; ``mentions`` stay in body order.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from services.worker.nlp.mentions import (
    STRIP_CHARS,
    RawMention,
    clean_mention,
    drop_leading_article,
    inside_longer_name,
    is_cut_at_hyphen,
    is_lone_title_word,
    is_title_only,
    strip_titles,
    trim_compound,
    uncapitalised,
)
from shared.names.aliases import AliasTable
from shared.schemas import ENTITY_TYPES, Entities, Entity, EntityType, Mention

# --- matching helpers ----------------------------------------------------------------------


def match_key(name: str) -> str:
    """Case-, accent-, hyphen- and apostrophe-insensitive key: within one document, equal
    keys are one name (more lenient than the archive's ``fold_key``: a document that writes
    ``TTP`` and ``Ttp`` means one thing)."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = re.sub(r"['\u2019\u02bc`.]", "", folded.casefold())
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


def _expansion_in_body(acronym: str, body: str) -> str | None:
    """``Tehrik-e-Taliban Pakistan`` for ``TTP`` when the body says ``... Pakistan (TTP)``."""
    target = acronym.replace(".", "")
    for match in re.finditer(rf"\(\s*{re.escape(acronym)}\s*\)", body):
        words = body[max(0, match.start() - 200) : match.start()].split()[-10:]
        words = [w.strip(STRIP_CHARS) for w in words]
        for size in range(1, len(words) + 1):
            candidate = " ".join(words[-size:])
            if initials(candidate) == target and candidate[:1].isupper():
                return candidate
    return None


_TYPE_PRIORITY: dict[EntityType, int] = {"person": 0, "organization": 1, "location": 2, "misc": 3}


def _majority(counter: Counter[EntityType], confidence: dict[EntityType, float] | None = None) -> EntityType:
    if not counter:
        return "misc"
    sure = confidence or {}
    # Most votes; a tie goes to a specific type over misc (the catch-all), then to the type
    # the tagger was surer of (its scores summed), then to the more specific type.
    return min(counter, key=lambda t: (-counter[t], t == "misc", -sure.get(t, 0.0), _TYPE_PRIORITY[t]))


# --- the phases' data ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cleaned:
    mention: RawMention
    name: str  # what the mention is matched by: cleaned, titles stripped for persons


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


@dataclass
class Nodes:
    """Phase 2's result: one node per match key, and the links phases 3-4 add."""

    spellings: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    types: dict[str, Counter[EntityType]] = field(default_factory=lambda: defaultdict(Counter))
    confidence: dict[str, dict[EntityType, float]] = field(default_factory=lambda: defaultdict(dict))
    first_seen: dict[str, int] = field(default_factory=dict)
    extra_names: dict[str, str] = field(default_factory=dict)  # expansions found only in the body
    links: _UnionFind = field(default_factory=_UnionFind)

    def type_of(self, key: str) -> EntityType:
        return _majority(self.types[key], self.confidence[key])

    def display(self, key: str) -> str:
        """The most frequent spelling; ties go to the one with more capitals ("TTP" > "Ttp")."""
        if key in self.extra_names:
            return self.extra_names[key]
        return max(self.spellings[key].items(), key=lambda kv: (kv[1], sum(c.isupper() for c in kv[0])))[0]

    def count(self, key: str) -> int:
        return sum(self.spellings[key].values()) if key in self.spellings else 0


# --- phases --------------------------------------------------------------------------------


def _is_noise(surface: str) -> bool:
    return not surface or not any(c.isalnum() for c in surface) or uncapitalised(surface)


def clean(mentions: list[RawMention], body: str = "") -> list[Cleaned]:
    """Phase 1: cleaned names of the mentions that are names (not noise, not fragments)."""
    kept: list[Cleaned] = []
    for mention in mentions:
        surface = trim_compound(drop_leading_article(clean_mention(mention.text)))
        if _is_noise(surface) or is_lone_title_word(surface) or is_cut_at_hyphen(mention, body):
            continue
        name = strip_titles(surface) if mention.type == "person" else surface
        if mention.type == "person" and is_title_only(name):
            continue  # "Maulvi", "President": a title the tagger cut off its name
        kept.append(Cleaned(mention, name))
    if body:  # "Council" where the body says "National Security Council", also tagged
        # (A short person name inside a full one is the same person: phase 4 folds it.)
        longer = sorted({c.mention.text: c.mention for c in kept}.values(), key=lambda m: -len(m.text))
        kept = [
            c for c in kept if c.mention.type == "person" or not inside_longer_name(c.mention, longer, body)
        ]
    return kept


def collect(cleaned: list[Cleaned]) -> Nodes:
    """Phase 2: one node per match key, with its spellings, types and first position."""
    nodes = Nodes()
    for index, item in enumerate(cleaned):
        key = match_key(item.name)
        nodes.spellings[key][item.name] += 1
        nodes.types[key][item.mention.type] += 1
        sure = nodes.confidence[key]
        sure[item.mention.type] = sure.get(item.mention.type, 0.0) + float(item.mention.score)
        nodes.first_seen.setdefault(key, index)
        nodes.links.find(key)
    return nodes


def link_acronyms(nodes: Nodes, body: str) -> None:
    """Phase 3: acronyms join their expansions (acronyms are often tagged differently)."""
    for key in list(nodes.spellings):
        name = nodes.display(key)
        if not is_acronym(name):
            continue
        target = name.replace(".", "")
        for other in nodes.spellings:
            other_name = nodes.display(other)
            if (
                other != key
                and not is_acronym(other_name)
                and nodes.type_of(other) != "person"  # "US" is not "Ustad Salim"
                and initials(other_name) == target
            ):
                nodes.links.union(key, other)
        expansion = _expansion_in_body(name, body) if body else None
        if expansion:
            exp_key = match_key(expansion)
            if exp_key not in nodes.spellings:
                nodes.extra_names[exp_key] = expansion
            nodes.links.union(key, exp_key)


def link_short_names(nodes: Nodes) -> None:
    """Phase 4: a short person name joins the single full name it is part of."""
    persons = [
        k for k in nodes.spellings if nodes.type_of(k) == "person" and not is_acronym(nodes.display(k))
    ]
    # Longest first, so "Asad Durrani" joins "Mohammad Asad Durrani" before "Durrani" looks.
    persons.sort(key=lambda k: (-len(_tokens(nodes.display(k))), nodes.first_seen[k]))
    for key in persons:
        short = _tokens(nodes.display(key))
        fulls = {nodes.links.find(k) for k in persons if _is_part_of(short, _tokens(nodes.display(k)))}
        # Maximal names only: "Zalmay Khalilzad" and "Zalmay M. Khalilzad" may already be one group.
        if len(fulls) == 1:
            nodes.links.union(next(iter(fulls)), key)


def name_groups(nodes: Nodes, cleaned_count: int) -> tuple[dict[str, str], dict[str, EntityType]]:
    """Phase 5: (key -> canonical name, group root -> type). The canonical name is the
    group's longest form (ties: more mentions, then earlier); its type the majority's."""
    groups: dict[str, list[str]] = defaultdict(list)
    for key in list(nodes.spellings) + list(nodes.extra_names):
        groups[nodes.links.find(key)].append(key)
    canonical_of: dict[str, str] = {}
    type_of: dict[str, EntityType] = {}
    for root, keys in groups.items():
        best = max(
            keys,
            key=lambda k: (len(nodes.display(k)), nodes.count(k), -nodes.first_seen.get(k, cleaned_count)),
        )
        group_types: Counter[EntityType] = Counter()
        group_confidence: dict[EntityType, float] = defaultdict(float)
        for k in keys:
            group_types.update(nodes.types.get(k, Counter()))
            for entity_type, score in nodes.confidence.get(k, {}).items():
                group_confidence[entity_type] += score
        for k in keys:
            canonical_of[k] = nodes.display(best)
        type_of[root] = _majority(group_types, group_confidence)
    return canonical_of, type_of


def archive_names(nodes: Nodes, canonical_of: dict[str, str], aliases: AliasTable) -> dict[str, str]:
    """Phase 6: each group's name across the archive. The alias table names a group when
    one of its spellings is listed (the most mentioned listed spelling decides); otherwise
    the canonical name's facet form (a function of its folded key alone)."""
    by_group: dict[str, list[str]] = defaultdict(list)
    for key in canonical_of:
        by_group[nodes.links.find(key)].append(key)
    final: dict[str, str] = {}
    for keys in by_group.values():
        listed = Counter[str]()
        for key in keys:
            spellings = nodes.spellings.get(key) or Counter({nodes.display(key): 0})
            for spelling, count in spellings.items():
                name = aliases.canonical(spelling)
                if name:
                    listed[name] += count + 1  # a listed spelling counts even if never seen
        if listed:
            name = min(listed, key=lambda n: (-listed[n], n))
        else:
            name = aliases.facet_value(canonical_of[keys[0]])
        for key in keys:
            final[key] = name
    return final


def _result(
    cleaned: list[Cleaned], nodes: Nodes, canonical_of: dict[str, str], type_of: dict[str, EntityType]
) -> Canonicalised:
    """Mentions in body order; entities most mentioned first, ties by name."""
    result_mentions: list[Mention] = []
    counts: Counter[tuple[str, EntityType]] = Counter()
    for item in cleaned:
        key = match_key(item.name)
        canonical = canonical_of[key]
        entity_type = type_of[nodes.links.find(key)]
        counts[(canonical, entity_type)] += 1
        mention = item.mention
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


def canonicalise(
    mentions: list[RawMention], body: str = "", aliases: AliasTable | None = None
) -> Canonicalised:
    """Group ``mentions`` of one document into canonical entities (see the module docstring).

    Without ``aliases`` the names are the document's own (phases 1-5); the entity stage
    passes the archive's alias table so that names are also one across documents."""
    cleaned = clean(mentions, body)
    nodes = collect(cleaned)
    link_acronyms(nodes, body)
    link_short_names(nodes)
    canonical_of, type_of = name_groups(nodes, len(cleaned))
    if aliases is not None:
        canonical_of = archive_names(nodes, canonical_of, aliases)
    return _result(cleaned, nodes, canonical_of, type_of)

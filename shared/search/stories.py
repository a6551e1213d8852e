"""A story as the story page and ``GET /stories/{story_id}`` show it: every version in order
of first publication, the earliest marked first seen, what each version adds to or drops
from the earliest (a diff of sentences), and the story's entities.

The versions are the documents with that ``story_id`` (shared/stories decides it). The diff
is difflib's over sentences (``shared/text`` splits them, as summary and NER do), compared
with whitespace collapsed: a sentence only moved (paragraphs reordered) is neither added nor
dropped, since it is still in both texts.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from pydantic import BaseModel, Field

from shared.schemas import ArticleDocument, ArticleRef, Entity, EntityType
from shared.text.sentences import sentence_spans

# A story_id is 24 hex digits (shared/stories/index.py) or ``text-`` and a content hash
# (shared/schemas.text_story_id); anything else cannot be one.
STORY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Versions shown on one page; a story carried more often says how many more there are.
MAX_VERSIONS = 200
ENTITIES_SHOWN = 40
FIRST_PUBLISHED: list[dict[str, Any]] = [
    {"published_at": {"order": "asc", "missing": "_last", "unmapped_type": "date"}},
    {"ingested_at": {"order": "asc", "unmapped_type": "date"}},
    {"source_path": "asc"},
]
_SPACE = re.compile(r"\s+")


class StoryVersion(ArticleRef):
    carried_from: list[str] = Field(default_factory=list)
    first_seen: bool = Field(False, description="The earliest published version of the story.")
    new_headline: bool = Field(False, description="Its title differs from the earliest version's.")
    added: list[str] = Field(
        default_factory=list, description="Sentences the earliest version does not have."
    )
    dropped: list[str] = Field(
        default_factory=list, description="Sentences of the earliest version it lacks."
    )


class Story(BaseModel):
    story_id: str
    versions: int = Field(description="Documents in the story (all of them, also beyond those listed).")
    sources: list[str] = Field(description="Distinct sources among the listed versions, first seen first.")
    carried_from: list[str] = Field(description="Wire agencies any version attributes itself to.")
    entities: list[Entity] = Field(
        description="The story's entities: count = the number of versions that mention it, most first."
    )
    members: list[StoryVersion] = Field(description="The versions, in order of first publication.")


def _sentences(text: str, known: Sequence[tuple[int, int]]) -> list[str]:
    spans = sentence_spans(text, known)
    return [_SPACE.sub(" ", span.text).strip() for span in spans if span.text.strip()]


def sentence_diff(
    earliest: str,
    version: str,
    earliest_sentences: Sequence[tuple[int, int]] = (),
    version_sentences: Sequence[tuple[int, int]] = (),
) -> tuple[list[str], list[str]]:
    """(added, dropped): sentences of ``version`` not in ``earliest`` and the reverse, in
    text order; a sentence that is in both, wherever, is neither. The sentences are the
    documents' own (split at ingest) when given."""
    old, new = _sentences(earliest, earliest_sentences), _sentences(version, version_sentences)
    old_set, new_set = set(old), set(new)
    added: list[str] = []
    dropped: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            dropped.extend(s for s in old[i1:i2] if s not in new_set and s not in dropped)
        if tag in ("replace", "insert"):
            added.extend(s for s in new[j1:j2] if s not in old_set and s not in added)
    return added, dropped


def build_story(story_id: str, documents: list[ArticleDocument], total: int) -> Story:
    """``documents``: the story's versions in order of first publication."""
    earliest = documents[0]
    members = []
    for n, doc in enumerate(documents):
        added, dropped = (
            sentence_diff(earliest.body, doc.body, earliest.sentences, doc.sentences) if n else ([], [])
        )
        members.append(
            StoryVersion(
                id=doc.id,
                title=doc.title,
                source=doc.source,
                source_path=doc.source_path,
                published_at=doc.published_at,
                dateline=doc.dateline,
                carried_from=doc.carried_from,
                first_seen=n == 0,
                new_headline=bool(n) and doc.title.strip() != earliest.title.strip(),
                added=added,
                dropped=dropped,
            )
        )
    mentioned: Counter[tuple[str, EntityType]] = Counter()
    for doc in documents:
        mentioned.update({(e.name, e.type) for e in doc.entity_list})
    entities = [
        Entity(name=name, type=kind, count=count)
        for (name, kind), count in sorted(mentioned.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    sources = list(dict.fromkeys(doc.source for doc in documents if doc.source))
    carried = list(dict.fromkeys(agency for doc in documents for agency in doc.carried_from))
    return Story(
        story_id=story_id,
        versions=total,
        sources=sources,
        carried_from=carried,
        entities=entities[:ENTITIES_SHOWN],
        members=members,
    )


def get_story(es: Elasticsearch, alias: str, story_id: str) -> Story | None:
    """The story ``story_id`` behind ``alias``, or None when no document has it."""
    try:
        found: Any = es.search(
            index=alias,
            query={"term": {"story_id": story_id}},
            size=MAX_VERSIONS,
            sort=FIRST_PUBLISHED,
            source={"excludes": ["mentions", "vector"]},
            track_total_hits=True,
        )
    except NotFoundError:
        return None
    hits = found["hits"]["hits"]
    if not hits:
        return None
    documents = [ArticleDocument.model_validate(hit["_source"]) for hit in hits]
    return build_story(story_id, documents, int(found["hits"]["total"]["value"]))

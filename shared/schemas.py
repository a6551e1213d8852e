"""Typed messages and documents: everything that crosses a queue is one of these.

Senders call ``.to_wire()`` (``model_dump(mode="json")``); receivers call
``Model.from_wire(payload)``, which validates again and recognises messages written by an
older or newer release through ``schema_version``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.text.repair import TextRepair

SCHEMA_VERSION = 1
# all-MiniLM-L6-v2's sentence vectors (services/worker/nlp/embeddings.py).
ARTICLE_VECTOR_DIMS = 384

ENTITY_TYPES = ("person", "organization", "location", "misc")
EntityType = Literal["person", "organization", "location", "misc"]
StageName = Literal["language", "summary", "entities"]
# Summary never reads entities, so it runs before them: a worker serving the light stages
# does language and summary in one task, and the article makes one hop to NER.
STAGES: tuple[StageName, ...] = ("language", "summary", "entities")
# The formats ingest reads (one reader each under services/ingest/readers).
DocumentFormat = Literal["text", "markdown", "html", "json", "jsonl"]
# Why a stage failed or was skipped, for programs (status counts, filters); the record's
# ``error`` says it for people and may be reworded freely.
StageCode = Literal[
    "no_model_for_language", "model_unavailable", "time_limit", "worker_died", "no_text", "error"
]
STAGE_CODES: tuple[StageCode, ...] = get_args(StageCode)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


TEXT_STORY_PREFIX = "text-"


def text_story_id(content_sha256: str) -> str:
    """The story of a document that the story index has not grouped (too short a text to
    compare, or stored before stories existed): the story of its exact text, so identical
    texts still collapse into one hit as they did before near-duplicates were grouped."""
    return f"{TEXT_STORY_PREFIX}{content_sha256[:32]}"


def document_id(source_path: str, record: int = 0) -> str:
    """Stable id for the ``record``-th article of a source, so replays overwrite."""
    return hashlib.sha256(f"{source_path}#{record}".encode()).hexdigest()[:32]


class SchemaVersionError(ValueError):
    """A message from a release whose schema this one cannot read."""


class WireModel(BaseModel):
    """Base of every queue message: strict about fields, versioned."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_wire(cls, payload: Any) -> Self:
        if isinstance(payload, dict):
            version = payload.get("schema_version", SCHEMA_VERSION)
            if version != SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{cls.__name__} has schema_version {version!r}; this release reads "
                    f"{SCHEMA_VERSION}. Drain the queue with the release that wrote it, "
                    "or re-ingest the files."
                )
        return cls.model_validate(payload)


class Mention(BaseModel):
    text: str
    label: str = Field(description="The model's own label, e.g. PER or B-ORG's type.")
    type: EntityType
    canonical: str
    score: float
    start: int = Field(description="Character offset in body.")
    end: int


class Entity(BaseModel):
    """One canonical entity of a document and how often it is mentioned (salience)."""

    name: str
    type: EntityType
    count: int


class Entities(BaseModel):
    person: list[str] = Field(default_factory=list)
    organization: list[str] = Field(default_factory=list)
    location: list[str] = Field(default_factory=list)
    misc: list[str] = Field(default_factory=list)


class StageRecord(BaseModel):
    model: str | None = None
    version: str | None = None
    status: Literal["ok", "failed", "skipped"]
    seconds: float = 0.0
    code: StageCode | None = Field(
        None, description="Why the stage failed or was skipped (None when ok): what status counts by."
    )
    error: str | None = Field(None, description="The same for people: what happened and how to fix it.")
    covered_chars: int | None = Field(
        None,
        ge=0,
        description="When the stage read only the body's first this many characters (the entity "
        "stage's DATELINE_NER_MAX_CHARS); None: all of it.",
    )
    at: datetime = Field(default_factory=utcnow)


class Provenance(BaseModel):
    language: StageRecord | None = None
    summary: StageRecord | None = None
    entities: StageRecord | None = None
    repairs: list[TextRepair] = Field(
        default_factory=list,
        description="What ingest changed in the file's text to make it safe to carry and show: "
        "lone surrogates replaced, control characters removed, a non-web link dropped, an "
        "over-long date ignored (shared/text/repair.py).",
    )


class ArticleRef(BaseModel):
    """What names an article wherever another record points at it (a search hit's other
    versions, a story's versions, related articles, an alert): declared once, here, and
    extended by ``ArticleDocument`` and by each of those records."""

    id: str
    source_path: str = Field(description="Path relative to the inbox, or absolute outside it.")
    title: str
    source: str | None = None
    published_at: datetime | None = None
    dateline: str | None = None


class ArticleDocument(ArticleRef):
    """An article as parsed by ingest and enriched, stage by stage, by the workers."""

    record: int = Field(0, description="Position of the article within its file (JSON Lines).")
    revision: int = Field(1, description="Registry revision of the file; newer wins.")
    format: DocumentFormat
    body: str
    content_sha256: str
    author: str | None = None
    url: str | None = None
    language_hint: str | None = Field(None, description="Language stated by the file itself.")
    ingested_at: datetime = Field(default_factory=utcnow)
    sentences: list[tuple[int, int]] = Field(
        default_factory=list,
        description="The body's sentences as [start, end) character offsets, split once at ingest "
        "(shared/text/sentences.py): every stage and the article page read them instead of splitting again.",
    )

    # Filled in by the workers.
    language: str | None = None
    language_confidence: float | None = None
    entities: Entities = Field(default_factory=Entities)
    entity_list: list[Entity] = Field(default_factory=list)
    mentions: list[Mention] = Field(default_factory=list)
    summary: str | None = None
    summary_spans: list[tuple[int, int]] = Field(
        default_factory=list,
        description="The summary's sentences as [start, end) character offsets into body, in order.",
    )
    vector: list[float] | None = Field(
        None,
        description="The article as one unit vector (ARTICLE_VECTOR_DIMS): the mean of the summary "
        "stage's MiniLM sentence vectors; related articles are its nearest neighbours. None when the "
        "summary stage did not encode the article (another language, no encoder).",
    )
    provenance: Provenance = Field(default_factory=Provenance)
    enriched_at: datetime | None = None
    # Set by the indexer (shared/stories): near-duplicates share a story.
    story_id: str | None = Field(None, description="The story this article is a version of.")
    story_joined: bool | None = Field(
        None,
        description="True when it joined a story an earlier document started; False when it started one.",
    )
    carried_from: list[str] = Field(
        default_factory=list,
        description="Wire agencies the text attributes itself to (AP, Reuters, AFP, dpa).",
    )
    indexed_at: datetime | None = Field(
        None, description="Set by the indexer on every write (lets a migration catch up)."
    )

    @model_validator(mode="after")
    def _story_of_its_text(self) -> Self:
        # Search collapses on story_id, and Elasticsearch collapses every document without
        # one into a single hit: so there is always one (the indexer replaces it).
        if self.story_id is None:
            self.story_id = text_story_id(self.content_sha256)
        return self


class StageTask(WireModel):
    """Work for one enrichment stage; the document carries the results so far."""

    document: ArticleDocument
    stages: list[StageName] = Field(
        default_factory=lambda: list(STAGES),
        description="Stages still to run, in order; the first is this task's.",
    )
    ticket: int | None = Field(
        None,
        description="Order of queueing (a Redis counter, set when queued): the reconciler "
        "tells a task still waiting in its FIFO queue from a lost one by it (shared/progress.py).",
    )


class IndexRequest(WireModel):
    """What the indexer applies to Elasticsearch."""

    action: Literal["upsert", "delete"]
    source_path: str
    revision: int
    document: ArticleDocument | None = Field(None, description="The document to upsert.")
    doc_ids: list[str] | None = Field(
        None, description="For delete: just these documents; None removes all of the file's."
    )

"""What a search asks for and what it returns: shared by ``dateline search`` and the HTTP API."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.schemas import ENTITY_TYPES, ArticleDocument, ArticleRef, Entity, Mention
from shared.search.errors import SearchInputError
from shared.search.syntax import check_query

# Elasticsearch's default index.max_result_window: from + size may not exceed it.
MAX_RESULT_WINDOW = 10_000
# Filter values: a handful per search. Keywords are stored up to 256 characters
# (``ignore_above``), so a longer value can never match.
MAX_FILTER_VALUES = 50
MAX_FILTER_CHARS = 256
FACET_FIELDS = (
    "language",
    "source",
    "entities.person",
    "entities.organization",
    "entities.location",
    "entities.misc",
    "dateline",
    "format",
)


def input_errors(exc: ValidationError) -> str:
    """Pydantic's errors as one line a person can act on (CLI and API say the same)."""
    return describe_errors(exc.errors())


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """Validation errors (pydantic's, or FastAPI's for a request) as one line: ``field:
    what is wrong`` per error. The input itself is never repeated back."""
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        if loc and loc[0] in _REQUEST_PARTS:
            loc = loc[1:]  # FastAPI says where in the request: the field name is enough
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return "; ".join(parts)


_REQUEST_PARTS = {"query", "path", "body", "header", "cookie"}


def parse_entity(value: str) -> tuple[str | None, str]:
    """``"person=Angela Merkel"`` -> ``("person", "Angela Merkel")``; a bare name matches any
    type: ``"United States"`` -> ``(None, "United States")``."""
    kind, sep, name = value.partition("=")
    if not sep:
        name = value.strip()
        if not name or name.lower() in ENTITY_TYPES:
            raise SearchInputError(
                f"entity filter {value!r} must look like TYPE=NAME or NAME, e.g. person=Angela Merkel"
            )
        return None, name
    kind, name = kind.strip().lower(), name.strip()
    if not name:
        raise SearchInputError(f"entity filter {value!r} must look like TYPE=NAME, e.g. person=Angela Merkel")
    if kind not in ENTITY_TYPES:
        raise SearchInputError(f"entity type {kind!r} in {value!r} is not one of {', '.join(ENTITY_TYPES)}")
    return kind, name


_YEAR_MONTH = re.compile(r"^\d{4}(-\d{2})?$")


def parse_when(value: str, *, end: bool) -> str:
    """A date bound for Elasticsearch: ``2024``, ``2024-03``, ``2024-03-05`` or an ISO time.

    Dates without a time cover their whole day (month, year) on the ``until`` side.
    """
    text = value.strip()
    if _YEAR_MONTH.match(text):
        unit = "M" if "-" in text else "y"
        start = text + ("-01" if unit == "M" else "-01-01")
        # ``lte`` with rounding covers the whole month or year.
        return f"{start}||/{unit}" if end else start
    try:
        day = date.fromisoformat(text)
        return f"{day.isoformat()}||/d" if end else day.isoformat()
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchInputError(
            f"date {value!r} is not understood; use YYYY, YYYY-MM, YYYY-MM-DD or an ISO "
            "time like 2024-03-05T14:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat()


class SearchParams(BaseModel):
    """Every search parameter, declared once: the API reads them as query parameters
    (``q``, ``lang`` ...) and ``dateline search`` builds its options from them."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    query: str = Field("*", alias="q", description="Query-string syntax over title, body and summary.")
    lang: list[str] = Field(default_factory=list, description="Language codes (any of).")
    source: list[str] = Field(default_factory=list, description="Sources (any of).")
    entity: list[str] = Field(
        default_factory=list,
        description="TYPE=NAME (person, organization, location, misc) or NAME (any type); repeat: "
        "all must match. Names match as the archive names them: 'US' finds 'United States'.",
    )
    since: str | None = Field(None, description="Published at or after (YYYY[-MM[-DD]] or ISO).")
    until: str | None = Field(None, description="Published at or before (inclusive).")
    size: int = Field(10, ge=0, le=100, description="Hits per page (at most 100).")
    page: int = Field(1, ge=1, description="Page number, from 1.")
    collapse: bool = Field(
        True,
        description="Show one hit per story (near-duplicates and wire copies of one "
        "article); --no-collapse / collapse=false shows every document.",
    )
    facet_size: int = Field(10, ge=1, le=100, description="Values shown per facet (at most 100).")
    dateline: list[str] = Field(default_factory=list, description="Datelines, e.g. ISLAMABAD (any of).")
    sort: str = Field(
        "relevance",
        pattern="^(relevance|date)$",
        description="relevance (best match first) or date (newest first).",
    )

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        check_query(value)
        return value

    @field_validator("lang", "source", "entity")
    @classmethod
    def _filter_values(cls, value: list[str]) -> list[str]:
        """Empty values (``?lang=``, ``--source ""``) mean no filter, not "match nothing"."""
        kept = [item for item in value if item.strip()]
        if len(kept) > MAX_FILTER_VALUES:
            raise SearchInputError(f"{len(kept)} values given; at most {MAX_FILTER_VALUES} are allowed")
        for item in kept:
            if len(item) > MAX_FILTER_CHARS:
                raise SearchInputError(
                    f"a value of {len(item)} characters cannot match anything (at most {MAX_FILTER_CHARS})"
                )
        return kept

    @field_validator("entity")
    @classmethod
    def _entities(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_entity(item)
        return value

    @field_validator("since", "until")
    @classmethod
    def _dates(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            parse_when(value, end=False)
            return value
        return None

    @model_validator(mode="after")
    def _window(self) -> SearchParams:
        if self.page * self.size > MAX_RESULT_WINDOW:
            raise SearchInputError(
                f"page {self.page} of size {self.size} is past the first {MAX_RESULT_WINDOW} "
                "results; narrow the search with filters instead"
            )
        return self

    @property
    def entity_filters(self) -> list[tuple[str | None, str]]:
        return [parse_entity(item) for item in self.entity]


class Copy(ArticleRef):
    """Another version of a hit's story (a near-duplicate or wire copy)."""


class SearchHit(ArticleDocument):
    """A stored document as search returns it: the document (without the fields search
    leaves out of ``_source``), its score and highlighted fragments."""

    score: float | None = None
    highlight: dict[str, list[str]] = Field(default_factory=dict)
    versions: int = Field(
        1,
        description="Documents in this hit's story (story_id), in the whole archive: "
        "the hit and its near-duplicates and wire copies.",
    )
    sources: int = Field(0, description="Distinct sources among those versions.")
    first_seen: bool = Field(False, description="This hit is the story's earliest published version.")
    other_versions: list[Copy] = Field(
        default_factory=list, description="The story's first other versions, in order of first publication."
    )
    # Left out of ``_source`` by search (see ``query.SOURCE_EXCLUDES``): not in a hit at all.
    mentions: list[Mention] = Field(default_factory=list, exclude=True)
    entity_list: list[Entity] = Field(default_factory=list, exclude=True)
    sentences: list[tuple[int, int]] = Field(default_factory=list, exclude=True)
    summary_spans: list[tuple[int, int]] = Field(default_factory=list, exclude=True)
    vector: list[float] | None = Field(None, exclude=True)


class Related(ArticleRef):
    """An article near another by meaning (its vector), from another story."""

    story_id: str | None = None
    score: float = Field(description="Elasticsearch's kNN score: (1 + cosine similarity) / 2.")


class SearchResult(BaseModel):
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]] = Field(
        description="Counts per value; with collapse, a story counts once (however many versions), as the "
        "total does. "
        "published_at counts per day, month or year (YYYY-MM-DD, YYYY-MM or YYYY, oldest first; "
        "each a valid since/until)."
    )
    page: int
    size: int
    partial: bool = Field(
        False,
        description="Part of the archive did not answer (a node of the cluster is down or "
        "recovering): hits and counts may be incomplete.",
    )
    matches: int = Field(0, description="Documents matching the search (every version of a story).")
    sampled: float | None = Field(
        None,
        description="Set when the search matched more documents than DATELINE_SEARCH_EXACT_MAX: the "
        "fraction of the stories that the total and the facets were counted on, scaled up "
        "(estimates). None: every match was counted.",
    )

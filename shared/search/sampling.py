"""Counting a huge result set on a sample of its stories.

Facets and the total count every match, so their cost grows with the matches: at a million
matching documents they took 200 of a search's 260 ms. Past ``search_exact_max`` matches a
search counts a sample of its stories instead and scales the counts up.

The sample is of stories, not documents. A facet counts a story once however many versions it
has; sampling documents would see a story of ten copies far more often than a story of one
and count it up to ten times once scaled. Sampling whole stories keeps "distinct stories / the
fraction" an unbiased estimate. A story's part is the first two hex digits of its id (its
ids are hex digests, `shared.stories.index.story_id_for` and `shared.schemas.text_story_id`),
so parts ``[0, n)`` are two ``range`` filters on the keyword ``story_id`` -- cheap term
ranges, cached by Elasticsearch like any filter -- and hold ``n / 256`` of the stories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shared.schemas import TEXT_STORY_PREFIX
from shared.settings import Settings

PARTS = 256
ID_PREFIXES = ("", TEXT_STORY_PREFIX)  # a story of the story index; a story of an exact text


@dataclass(frozen=True)
class StorySample:
    """The stories whose id starts with a part below ``parts`` (of 256)."""

    parts: int

    @property
    def fraction(self) -> float:
        return self.parts / PARTS

    def filter(self, field: str) -> dict[str, Any]:
        upper = f"{self.parts:02x}"
        return {
            "bool": {
                "should": [{"range": {field: {"gte": f"{p}00", "lt": f"{p}{upper}"}}} for p in ID_PREFIXES],
                "minimum_should_match": 1,
            }
        }

    def holds(self, story_id: str) -> bool:
        """Whether ``story_id`` is in the sample, as the filter decides it."""
        upper = f"{self.parts:02x}"
        return any(f"{p}00" <= story_id < f"{p}{upper}" for p in ID_PREFIXES)

    def scale(self, count: float) -> int:
        return round(count / self.fraction)


def story_sample(matches: int, exact_max: int, documents: int) -> StorySample | None:
    """The sample for a search of ``matches`` documents: None (count them all) up to
    ``exact_max``, else the fewest parts expected to hold ``documents`` of the matches."""
    if matches <= exact_max:
        return None
    parts = math.ceil(PARTS * documents / matches)
    return StorySample(parts) if parts < PARTS else None


def configured_sample(matches: int, settings: Settings) -> StorySample | None:
    """``story_sample`` with the limits ``settings`` set (DATELINE_SEARCH_EXACT_MAX,
    DATELINE_SEARCH_SAMPLE_DOCUMENTS): what a search and the status views count on."""
    return story_sample(matches, settings.search_exact_max, settings.search_sample_documents)

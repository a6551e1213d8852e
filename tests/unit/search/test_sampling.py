"""Which stories a sampled search counts (shared/search/sampling.py)."""

from __future__ import annotations

import hashlib
import random

from hypothesis import given
from hypothesis import strategies as st

from shared.schemas import text_story_id
from shared.search.sampling import PARTS, StorySample, story_sample
from shared.stories.index import story_id_for


def test_every_match_is_counted_up_to_the_threshold():
    assert story_sample(100_000, exact_max=100_000, documents=20_000) is None
    assert story_sample(0, exact_max=100_000, documents=20_000) is None
    sample = story_sample(1_000_000, exact_max=100_000, documents=20_000)
    assert sample == StorySample(6) and sample.fraction == 6 / 256


@given(
    matches=st.integers(min_value=1, max_value=10**9),
    exact_max=st.integers(min_value=1, max_value=10**6),
    documents=st.integers(min_value=100, max_value=10**6),
)
def test_a_sample_is_expected_to_hold_the_documents_asked_for_and_not_many_more(
    matches, exact_max, documents
):
    sample = story_sample(matches, exact_max, documents)
    if sample is None:
        # Counted whole: few enough matches, or a sample would have to be all of them.
        assert matches <= exact_max or PARTS * documents >= PARTS * matches - matches
        return
    assert 1 <= sample.parts < PARTS
    assert matches * sample.fraction >= documents
    assert matches * (sample.parts - 1) / PARTS < documents


def _ids(n: int) -> list[str]:
    rng = random.Random(7)
    both = []
    for i in range(n):
        doc = f"doc-{rng.random()}"
        both.append(story_id_for(doc, f"text {i}"))
        both.append(text_story_id(hashlib.sha256(doc.encode()).hexdigest()))
    return both


def test_both_kinds_of_story_id_fall_evenly_into_the_parts():
    ids = _ids(20_000)
    for parts in (1, 6, 64, 200):
        held = sum(StorySample(parts).holds(i) for i in ids) / len(ids)
        expected = parts / PARTS
        spread = 4 * (expected * (1 - expected) / len(ids)) ** 0.5  # four standard deviations
        assert abs(held - expected) <= spread, (parts, held)


@given(st.integers(min_value=1, max_value=PARTS - 2), st.sampled_from(_ids(200)))
def test_a_larger_sample_holds_every_story_of_a_smaller_one(parts, story_id):
    if StorySample(parts).holds(story_id):
        assert StorySample(parts + 1).holds(story_id)


def test_the_filter_is_the_range_holds_checks():
    sample = StorySample(6)
    should = sample.filter("story_id")["bool"]["should"]
    assert should == [
        {"range": {"story_id": {"gte": "00", "lt": "06"}}},
        {"range": {"story_id": {"gte": "text-00", "lt": "text-06"}}},
    ]
    assert sample.holds("05ffffffffffffffffffffff") and not sample.holds("06000000000000000000000")
    assert sample.holds("text-00aa") and not sample.holds("text-a0")
    assert StorySample(10).filter("story_id")["bool"]["should"][0]["range"]["story_id"]["lt"] == "0a"


def test_scaled_counts_are_whole_numbers():
    assert StorySample(128).scale(7) == 14
    assert StorySample(6).scale(0) == 0

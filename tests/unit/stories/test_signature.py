"""Signatures: what story grouping sees of a text."""

from __future__ import annotations

import numpy as np

from shared.stories.index import bands_for, story_id_for
from shared.stories.signature import NUM_PERM, from_bytes, shingles, signature, similarity, to_bytes
from tests.support.paths import SEEDS

BODY = (SEEDS / "000_22d70851a12d5b22.txt").read_text(encoding="utf-8")


def test_shingles_ignore_case_punctuation_and_spacing() -> None:
    assert shingles('The  Minister said: "Peace now."') == shingles("the minister said peace now")
    assert shingles("the minister said") == {"the minister said"}


def test_signature_is_the_same_in_every_process_and_round_trips_through_bytes() -> None:
    values = signature(BODY)
    assert values is not None and values.dtype == np.uint32 and values.size == NUM_PERM
    again = signature(BODY)
    assert again is not None and np.array_equal(values, again)
    assert np.array_equal(from_bytes(to_bytes(values)), values)


def test_similarity_estimates_the_share_of_shingles_kept() -> None:
    values = signature(BODY)
    half = signature(BODY[: len(BODY) // 2])
    assert values is not None and half is not None
    assert similarity(values, values) == 1.0
    assert 0.35 < similarity(values, half) < 0.75  # about half of the shingles are shared


def test_a_different_seed_story_on_the_same_subject_is_far() -> None:
    other = (SEEDS / "001_1cac760c224c0b45.txt").read_text(encoding="utf-8")
    a, b = signature(BODY), signature(other)
    assert a is not None and b is not None
    assert similarity(a, b) < 0.1


def test_too_short_a_text_has_no_signature() -> None:
    assert signature("Reuters - File Photo") is None


def test_lsh_bands_cover_the_signature_and_story_ids_depend_on_content() -> None:
    bands, rows = bands_for(0.3)
    assert bands * rows <= NUM_PERM and bands > 1
    assert story_id_for("a", "x") != story_id_for("a", "y") != story_id_for("b", "x")

"""The story evaluation's labelled set and scoring (the grouping itself runs in `make eval`)."""

from __future__ import annotations

from services.worker.story_evaluation import (
    EDITS,
    ORIGINAL,
    Doc,
    Score,
    choose,
    labelled_set,
    passes,
    score,
)


def test_every_edit_kind_makes_a_different_body_of_every_base() -> None:
    docs = labelled_set()
    originals = {d.base: d.body for d in docs if d.kind == ORIGINAL}
    assert len(originals) == 10
    for doc in docs:
        # Ingest's cleaning takes a headline line, a byline and an agency dateline off the body
        # (that is part of what makes those versions one story); every other edit stays.
        if doc.kind in EDITS and doc.kind not in ("new headline", "byline/agency prefix"):
            assert doc.body != originals[doc.base], doc.id
    assert {d.kind for d in docs} == {ORIGINAL, "negative", *EDITS}
    assert labelled_set() == docs  # the same set on every run


def test_scores_count_pairs_and_name_false_joins() -> None:
    docs = [
        Doc("a/original", "a", ORIGINAL, ""),
        Doc("a/trimmed tail", "a", "trimmed tail", ""),
        Doc("b/original", "b", ORIGINAL, ""),
        Doc("c/negative", "c", "negative", ""),
    ]
    stories = {"a/original": "s1", "a/trimmed tail": "s2", "b/original": "s3", "c/negative": "s3"}
    result = score(docs, stories, 0.5, 1.0)
    assert result.recall == 0.0 and result.precision == 0.0
    assert result.recall_by_kind == {"trimmed tail": 0.0}
    assert result.false_joins == [("b/original", "c/negative")]
    assert not passes(result)


def test_the_chosen_threshold_is_the_middle_of_the_best() -> None:
    def s(t: float, p: float, r: float) -> Score:
        return Score(t, p, r, {}, [], [], 0.0)

    scores = [s(0.1, 0.9, 1.0), s(0.2, 1.0, 1.0), s(0.3, 1.0, 1.0), s(0.4, 1.0, 1.0), s(0.5, 1.0, 0.8)]
    chosen = choose(scores)
    assert chosen is not None and chosen.threshold == 0.3
    assert choose([s(0.1, 0.5, 1.0)]) is None

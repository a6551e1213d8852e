"""The story as the story page shows it: versions in order, the first seen, sentence diffs
against it, and the story's entities (shared/search/stories.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from shared.schemas import ArticleDocument, Entity
from shared.search.stories import build_story, sentence_diff

FIRST = "The dam burst on Monday. Officials said 40 homes were flooded. Rain is due again on Friday."


def test_an_added_paragraph_and_a_trimmed_tail_are_what_they_are():
    added, dropped = sentence_diff(FIRST, FIRST + "\n\nThe mayor visited the site.")
    assert (added, dropped) == (["The mayor visited the site."], [])
    added, dropped = sentence_diff(FIRST, "The dam burst on Monday. Officials said 40 homes were flooded.")
    assert (added, dropped) == ([], ["Rain is due again on Friday."])


def test_reordered_or_respaced_sentences_are_neither_added_nor_dropped():
    moved = "Rain is due again on Friday.\n\nThe dam burst   on Monday. Officials said 40 homes were flooded."
    assert sentence_diff(FIRST, moved) == ([], [])


def test_a_rewritten_sentence_is_one_added_and_one_dropped():
    rewritten = FIRST.replace("40 homes were flooded", "about forty houses stood under water")
    added, dropped = sentence_diff(FIRST, rewritten)
    assert added == ["Officials said about forty houses stood under water."]
    assert dropped == ["Officials said 40 homes were flooded."]


def doc(
    n: int, title: str, body: str, source: str | None, entities: list[tuple[str, str]]
) -> ArticleDocument:
    return ArticleDocument(
        id=f"{n:032x}",
        source_path=f"{n}.txt",
        format="text",
        title=title,
        body=body,
        content_sha256=str(n),
        source=source,
        story_id="s1",
        published_at=datetime(2024, 6, n, tzinfo=timezone.utc),
        entity_list=[Entity(name=name, type=kind, count=3) for name, kind in entities],  # type: ignore[arg-type]
    )


def test_a_story_marks_its_first_seen_and_counts_entities_per_version():
    documents = [
        doc(1, "Dam bursts", FIRST, "AP", [("Monday Dam", "location"), ("Jane Roe", "person")]),
        doc(2, "Dam bursts", FIRST + " The mayor visited.", "Daily", [("Monday Dam", "location")]),
        doc(3, "Homes flooded as dam bursts", FIRST, "AP", [("Monday Dam", "location")]),
    ]
    story = build_story("s1", documents, total=5)
    assert story.versions == 5 and story.sources == ["AP", "Daily"]
    assert [(m.id, m.first_seen, m.new_headline) for m in story.members] == [
        (documents[0].id, True, False),
        (documents[1].id, False, False),
        (documents[2].id, False, True),
    ]
    assert story.members[0].added == [] and story.members[1].added == ["The mayor visited."]
    assert [(e.name, e.count) for e in story.entities] == [("Monday Dam", 3), ("Jane Roe", 1)]

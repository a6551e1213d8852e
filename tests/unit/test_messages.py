"""Typed queue messages: what goes over the wire comes back equal, and what is not ours
is refused with a message that says what to do."""

import pytest
from pydantic import ValidationError

from shared.schemas import (
    SCHEMA_VERSION,
    ArticleDocument,
    IndexRequest,
    SchemaVersionError,
    StageTask,
    document_id,
)


def _document(**overrides) -> ArticleDocument:
    fields = dict(
        id=document_id("Reuters/a.txt"),
        source_path="Reuters/a.txt",
        format="text",
        title="Title",
        body="Body text.",
        content_sha256="0" * 64,
    )
    return ArticleDocument(**(fields | overrides))


def test_document_id_is_stable_per_source_and_record():
    assert document_id("a.txt") == document_id("a.txt")
    assert document_id("a.txt", 0) != document_id("a.txt", 1)
    assert document_id("a.txt") != document_id("b.txt")
    assert len(document_id("a.txt")) == 32


def test_stage_task_round_trips_through_json():
    task = StageTask(document=_document(published_at="2023-07-22T00:00:00Z"), stages=["entities", "summary"])
    wire = task.to_wire()
    assert wire["schema_version"] == SCHEMA_VERSION
    assert isinstance(wire["document"]["published_at"], str)
    assert StageTask.from_wire(wire) == task


def test_default_stages_are_all_three_in_order():
    # Summary does not need entities: it runs first, so the light stages are one task.
    assert StageTask(document=_document()).stages == ["language", "summary", "entities"]


def test_message_from_another_schema_version_is_refused_with_advice():
    wire = StageTask(document=_document()).to_wire() | {"schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(SchemaVersionError, match="re-ingest"):
        StageTask.from_wire(wire)


def test_unknown_fields_and_wrong_types_are_refused():
    wire = StageTask(document=_document()).to_wire()
    with pytest.raises(ValidationError):
        StageTask.from_wire(wire | {"surprise": 1})
    with pytest.raises(ValidationError):
        StageTask.from_wire(wire | {"stages": ["translate"]})


def test_index_request_delete_may_name_documents():
    request = IndexRequest(action="delete", source_path="a.jsonl", revision=3, doc_ids=["x"])
    assert IndexRequest.from_wire(request.to_wire()).doc_ids == ["x"]
    assert IndexRequest(action="delete", source_path="a.jsonl", revision=3).doc_ids is None

"""Queue messages are checked before they are sent: text that cannot be encoded and
messages over DATELINE_MAX_MESSAGE_MB raise an UnsendableMessage that names the field or
the size, the setting and the fix (the sender fails the file with it)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.pipeline import (
    MB,
    MessageTooLarge,
    UnencodableText,
    UnsendableMessage,
    encode_message,
    unencodable_field,
)
from shared.schemas import ArticleDocument, IndexRequest, StageTask, document_id


def _document(**overrides: object) -> ArticleDocument:
    fields: dict[str, object] = dict(
        id=document_id("Reuters/a.json"),
        source_path="Reuters/a.json",
        format="json",
        title="Title",
        body="Body text.",
        content_sha256="0" * 64,
    )
    return ArticleDocument(**(fields | overrides))


def test_a_lone_surrogate_names_its_field() -> None:
    task = StageTask(document=_document(author="Ann \udc80 Lee"))
    with pytest.raises(UnencodableText) as caught:
        encode_message(task, 10 * MB)
    assert caught.value.field == "document.author"
    assert "document.author" in str(caught.value) and "UTF-8" in str(caught.value)
    assert isinstance(caught.value, UnsendableMessage) and isinstance(caught.value, ValueError)


def test_a_surrogate_deep_in_the_enrichment_is_found() -> None:
    document = _document()
    document.summary_spans = [(0, 1)]
    document.entity_list = []
    document.provenance.language = None
    request = IndexRequest(action="upsert", source_path="a", revision=1, document=document)
    payload = request.model_dump(mode="json")
    payload["document"]["mentions"] = [{"text": "ok"}, {"text": "bad \ud800"}]
    assert unencodable_field(payload)[0] == "document.mentions[1].text"  # type: ignore[index]


def test_a_message_over_the_cap_says_how_big_and_what_to_do() -> None:
    task = StageTask(document=_document(body="x" * (2 * MB)))
    with pytest.raises(MessageTooLarge) as caught:
        encode_message(task, 1 * MB)
    error = caught.value
    assert error.limit == 1 * MB and error.size > 2 * MB
    assert str(error).startswith("the article is 2.0 MB as a queue message, over DATELINE_MAX_MESSAGE_MB=1;")
    assert "=0.05;" in str(MessageTooLarge(MB, int(0.05 * MB)))
    assert "split the file or raise the limit" in str(error)


def test_the_cap_defaults_to_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import get_settings

    monkeypatch.setenv("DATELINE_MAX_MESSAGE_MB", "0.5")
    get_settings.cache_clear()
    try:
        with pytest.raises(MessageTooLarge, match="DATELINE_MAX_MESSAGE_MB=0.5"):
            encode_message(StageTask(document=_document(body="y" * MB)))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_size_is_that_of_the_json_sent() -> None:
    task = StageTask(document=_document(body="é" * 1000))
    data = encode_message(task, MB)
    assert StageTask.from_wire(json.loads(data)) == task


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=40))
def test_any_text_is_sent_or_refused_naming_its_field(text: str) -> None:
    # Any string a reader could produce: either it encodes, or the error names the field.
    task = StageTask(document=_document(title=text))
    try:
        data = encode_message(task, MB)
    except UnencodableText as exc:
        assert exc.field == "document.title"
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    else:
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        assert StageTask.from_wire(json.loads(data)).document.title == text

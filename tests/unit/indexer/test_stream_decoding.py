"""Index stream entries in, typed requests out; anything else says what is wrong with it."""

from __future__ import annotations

import json

from services.indexer.consumer import Entry, Malformed, Refused, decode
from shared.schemas import ArticleDocument, IndexRequest, document_id


def _document() -> ArticleDocument:
    return ArticleDocument(
        id=document_id("Dawn/x.txt"),
        source_path="Dawn/x.txt",
        format="text",
        title="T",
        body="B.",
        content_sha256="0" * 64,
    )


def test_an_upsert_round_trips() -> None:
    request = IndexRequest(action="upsert", source_path="Dawn/x.txt", revision=3, document=_document())
    assert decode(Entry("1-0", {"request": request.model_dump_json()})) == request


def test_an_entry_without_a_request_field() -> None:
    found = decode(Entry("1-0", {"other": "x"}))
    assert isinstance(found, Malformed) and "no 'request' field" in found.reason
    assert found.path == "stream entry 1-0"


def test_not_json_names_the_entry() -> None:
    found = decode(Entry("2-0", {"request": "{not json"}))
    assert isinstance(found, Malformed) and "not JSON" in found.reason


def test_an_invalid_request_keeps_the_file_it_names() -> None:
    payload = {"schema_version": 1, "action": "upsert", "source_path": "AP/y.txt", "revision": "many"}
    found = decode(Entry("3-0", {"request": json.dumps(payload)}))
    assert isinstance(found, Malformed) and found.path == "AP/y.txt" and "invalid" in found.reason


def test_an_upsert_must_carry_its_document() -> None:
    payload = IndexRequest(action="upsert", source_path="AP/z.txt", revision=1).model_dump_json()
    found = decode(Entry("4-0", {"request": payload}))
    assert isinstance(found, Malformed) and "without a document" in found.reason


def test_another_releases_schema_is_refused_with_advice() -> None:
    payload = json.loads(IndexRequest(action="delete", source_path="a", revision=1).model_dump_json())
    payload["schema_version"] = 99
    found = decode(Entry("5-0", {"request": json.dumps(payload)}))
    assert isinstance(found, Malformed) and "re-ingest" in found.reason


def test_a_document_with_unencodable_text_is_refused_naming_the_field() -> None:
    # Another sender's JSON escape of half a surrogate pair decodes to a lone surrogate,
    # which Elasticsearch's client cannot encode: it would fail the whole bulk request.
    payload = json.loads(
        IndexRequest(
            action="upsert", source_path="AP/s.json", revision=2, document=_document()
        ).model_dump_json()
    )
    payload["document"]["author"] = "Jane \ud800 Doe"
    found = decode(Entry("6-0", {"request": json.dumps(payload)}))
    assert isinstance(found, Refused)
    assert found.request.source_path == "AP/s.json" and found.request.revision == 2
    assert "document.author" in found.reason and "UTF-8" in found.reason


def test_a_request_over_the_message_cap_is_refused_with_its_size_and_setting() -> None:
    document = _document().model_copy(update={"body": "word " * 50_000})
    request = IndexRequest(action="upsert", source_path="AP/big.txt", revision=1, document=document)
    raw = request.model_dump_json()
    found = decode(Entry("7-0", {"request": raw}), max_bytes=100_000)
    assert isinstance(found, Refused)
    assert "DATELINE_MAX_MESSAGE_MB" in found.reason and "split the file or raise the limit" in found.reason
    # Under the cap it is an ordinary request.
    assert decode(Entry("7-0", {"request": raw}), max_bytes=len(raw.encode())) == request

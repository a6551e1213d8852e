"""How the indexer sorts a bulk response: applied, rejected for good, or to be retried."""

from __future__ import annotations

from typing import Any

from services.indexer.writer import _Op, classify_items
from shared.schemas import IndexRequest


def _op(entry: str, doc: str, kind: str = "index") -> _Op:
    request = IndexRequest(action="delete" if kind == "delete" else "upsert", source_path="a.txt", revision=2)
    return _Op(entry, request, doc, {kind: {"_id": doc}})


def _item(kind: str, status: int, error: dict[str, Any] | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"status": status}
    if error is not None:
        detail["error"] = error
    return {kind: detail}


def test_success_conflict_and_gone_deletes_count_as_applied() -> None:
    ops = [_op("1-0", "a"), _op("2-0", "b"), _op("3-0", "c", "delete")]
    outcome = classify_items(ops, [_item("index", 201), _item("index", 409), _item("delete", 404)])
    assert outcome.done == {"1-0", "2-0", "3-0"}
    assert (outcome.rejected, outcome.retry, outcome.index_missing) == ([], [], False)


def test_a_delete_404_with_an_error_is_not_success() -> None:
    missing = {"type": "index_not_found_exception", "reason": "no such index [articles]"}
    outcome = classify_items([_op("1-0", "a", "delete")], [_item("delete", 404, missing)])
    assert outcome.done == set() and outcome.index_missing
    assert outcome.retry and "index_not_found_exception" in outcome.retry[0]


def test_overload_and_server_errors_are_retried() -> None:
    ops = [_op("1-0", "a"), _op("2-0", "b")]
    busy = {"type": "es_rejected_execution_exception", "reason": "queue full"}
    outcome = classify_items(ops, [_item("index", 429, busy), _item("index", 503, {"type": "unavailable"})])
    assert outcome.done == set() and len(outcome.retry) == 2 and not outcome.rejected


def test_mapping_errors_are_rejected_with_the_reason_and_cause() -> None:
    error = {
        "type": "document_parsing_exception",
        "reason": "failed to parse field [published_at]",
        "caused_by": {"type": "illegal_argument_exception", "reason": "bad date"},
    }
    outcome = classify_items(
        [_op("1-0", "a"), _op("2-0", "b")], [_item("index", 400, error), _item("index", 201)]
    )
    assert outcome.done == {"2-0"}
    (rejection,) = outcome.rejected
    assert (rejection.entry_id, rejection.doc_id) == ("1-0", "a")
    assert "failed to parse field [published_at]" in rejection.reason and "bad date" in rejection.reason


def test_an_entry_is_done_only_when_all_its_operations_are() -> None:
    # One delete request of a file touches several documents: one refused spoils the entry.
    ops = [_op("1-0", "a", "delete"), _op("1-0", "b", "delete")]
    refused = {"type": "version_conflict_engine_exception", "reason": "odd"}
    outcome = classify_items(ops, [_item("delete", 200), _item("delete", 400, refused)])
    assert outcome.done == set() and len(outcome.rejected) == 1

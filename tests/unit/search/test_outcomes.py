"""Failed and skipped stages as read from one Elasticsearch response (no cluster needed)."""

from __future__ import annotations

from shared.search.outcomes import build_outcomes_request, to_outcomes


def test_hits_are_only_failed_documents_but_counts_cover_every_document():
    request = build_outcomes_request()
    assert request["query"] == {"match_all": {}}
    should = request["post_filter"]["bool"]["should"]
    assert {"term": {"provenance.entities.status": "failed"}} in should
    assert request["aggs"]["skipped_entities"]["aggs"]["reasons"]["terms"]["field"] == "provenance.entities.error.keyword"


def test_each_failed_stage_of_a_document_is_listed_with_its_error_and_fix():
    response = {
        "hits": {"total": {"value": 1}, "hits": [{"_id": "d1", "_source": {
            "source_path": "a.txt", "title": "A", "provenance": {
                "language": {"status": "ok"},
                "entities": {"status": "failed", "error": "OSError: no model", "model": "x.pt"}}}}]},
        "aggregations": {
            "documents": {"doc_count": 7}, "failed_any": {"doc_count": 1},
            "failed_entities": {"doc_count": 1}, "failed_language": {"doc_count": 0},
            "skipped_entities": {"doc_count": 3, "reasons": {"buckets": [
                {"key": "no NER model for language 'ur'", "doc_count": 3}]}},
        },
    }
    outcomes = to_outcomes(response)
    assert outcomes.documents == 7 and outcomes.failed_documents == 1
    assert outcomes.failed_by_stage == {"entities": 1}
    (doc,) = outcomes.failed
    assert (doc.source_path, doc.stage, doc.error, doc.model) == ("a.txt", "entities", "OSError: no model", "x.pt")
    assert "dateline reprocess --stage entities --failed-only" in doc.fix
    (skip,) = outcomes.skipped
    assert (skip.stage, skip.documents) == ("entities", 3)

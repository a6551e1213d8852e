"""Failed and skipped stages as read from Elasticsearch's answers (no cluster needed)."""

from __future__ import annotations

from shared.search.migrate import upgrade_source
from shared.search.outcomes import build_outcomes_request, to_outcomes
from shared.search.sampling import story_sample

NO_FAILED = {"hits": {"total": {"value": 0}, "hits": []}}


def test_hits_are_only_failed_documents_but_counts_cover_every_document():
    request = build_outcomes_request()
    should = request.failed["query"]["bool"]["should"]
    assert {"term": {"provenance.entities.status": "failed"}} in should
    assert request.counts["query"] == {"match_all": {}} and request.counts["size"] == 0
    assert request.stories["query"] == {"match_all": {}}
    assert [part for part in request.searches() if part] == [request.failed, request.counts, request.stories]
    codes = request.counts["aggs"]["skipped_entities"]["aggs"]["codes"]
    assert codes["terms"]["field"] == "provenance.entities.code"
    assert codes["aggs"]["example"]["terms"]["field"] == "provenance.entities.error.keyword"


def test_the_stories_are_counted_on_the_sample_alone():
    sample = story_sample(1_000_000, 100_000, 20_000)
    assert sample is not None
    request = build_outcomes_request(sample=sample)
    assert request.stories["query"] == sample.filter("story_id")
    assert request.counts["query"] == {"match_all": {}}  # every other count is exact
    counts = {"hits": {"total": {"value": 1_000_000}}, "aggregations": {"story_joined": {"doc_count": 9}}}
    stories = {"aggregations": {"stories": {"value": 3_000}}}
    found = to_outcomes(NO_FAILED, counts, stories, sample).stories
    assert found.sampled == sample.fraction and found.joined == 9
    assert found.stories == sample.scale(3_000)


def test_each_failed_stage_of_a_document_is_listed_with_its_error_and_fix():
    failed = {
        "hits": {
            "total": {"value": 1},
            "hits": [
                {
                    "_id": "d1",
                    "_source": {
                        "source_path": "a.txt",
                        "title": "A",
                        "provenance": {
                            "language": {"status": "ok"},
                            "entities": {"status": "failed", "error": "OSError: no model", "model": "x.pt"},
                        },
                    },
                }
            ],
        },
    }
    counts = {
        "hits": {"total": {"value": 7}},
        "aggregations": {
            "failed_entities": {"doc_count": 1},
            "failed_language": {"doc_count": 0},
            "skipped_entities": {
                "doc_count": 3,
                "codes": {
                    "buckets": [
                        {
                            "key": "no_model_for_language",
                            "doc_count": 3,
                            "example": {
                                "buckets": [{"key": "no NER model for language 'ur'", "doc_count": 2}]
                            },
                        }
                    ]
                },
            },
        },
    }
    outcomes = to_outcomes(failed, counts, {"aggregations": {"stories": {"value": 5}}})
    assert outcomes.stories.stories == 5 and outcomes.stories.sampled is None
    assert outcomes.documents == 7 and outcomes.failed_documents == 1
    assert outcomes.failed_by_stage == {"entities": 1}
    (doc,) = outcomes.failed
    assert (doc.source_path, doc.stage, doc.error, doc.model) == (
        "a.txt",
        "entities",
        "OSError: no model",
        "x.pt",
    )
    assert "dateline reprocess --stage entities --failed-only" in doc.fix
    (skip,) = outcomes.skipped
    assert (skip.stage, skip.code, skip.documents) == ("entities", "no_model_for_language", 3)
    assert skip.reason == "no NER model for language 'ur'"


def test_documents_no_model_covers_are_counted_per_language_most_first():
    untagged = build_outcomes_request().counts["aggs"]["untagged"]
    assert {"term": {"provenance.entities.code": "no_model_for_language"}} in untagged["filter"]["bool"][
        "filter"
    ]
    assert "error" not in str(untagged["filter"])  # never the sentence's wording
    counts = {
        "hits": {"total": {"value": 4}},
        "aggregations": {
            "untagged": {
                "doc_count": 4,
                "languages": {
                    "buckets": [
                        {"key": "de", "doc_count": 1},
                        {"key": "ar", "doc_count": 1},
                        {"key": "ur", "doc_count": 2},
                    ]
                },
            }
        },
    }
    assert list(to_outcomes(NO_FAILED, counts, {}).untagged_languages.items()) == [
        ("ur", 2),
        ("ar", 1),
        ("de", 1),
    ]

    # Documents tagged from the start of a long body only: by the field provenance records.
    in_part = build_outcomes_request().counts["aggs"]["entities_in_part"]
    assert in_part == {"filter": {"exists": {"field": "provenance.entities.covered_chars"}}}
    counts["aggregations"]["entities_in_part"] = {"doc_count": 2}
    assert to_outcomes(NO_FAILED, counts, {}).entities_in_part == 2
    assert to_outcomes(NO_FAILED, {"hits": {"total": {"value": 0}}}, {}).entities_in_part == 0


def test_a_record_from_before_codes_is_upgraded_by_stage_and_status_only():
    source = {
        "provenance": {
            "language": {"status": "ok"},
            "summary": {"status": "skipped", "error": "any words"},
            "entities": {"status": "skipped", "error": "reworded: nothing covers Urdu"},
        }
    }
    upgraded = upgrade_source(source)["provenance"]
    assert (
        upgraded["entities"]["code"] == "no_model_for_language" and upgraded["summary"]["code"] == "no_text"
    )
    assert "code" not in upgraded["language"]
    failed = upgrade_source({"provenance": {"entities": {"status": "failed", "error": "x"}}})
    assert failed["provenance"]["entities"]["code"] == "error"
    kept = upgrade_source({"provenance": {"entities": {"status": "failed", "code": "time_limit"}}})
    assert kept["provenance"]["entities"]["code"] == "time_limit"

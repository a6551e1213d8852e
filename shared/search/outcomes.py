"""What the enrichment stages did to the indexed documents, read from Elasticsearch: the
documents a stage failed on (with the error, newest first) and the stages skipped, counted
by their code. Read by the status views: three searches in one request, aggregations over
keyword fields.
Every count is by a record's ``code`` (shared.schemas.StageCode), never by the wording of
its ``error`` sentence, which is only carried along as an example for people.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from pydantic import BaseModel, Field, computed_field

from shared.schemas import STAGES, StageCode, StageName
from shared.search.sampling import StorySample, configured_sample
from shared.settings import get_settings

FAILED_SHOWN = 50
SKIP_REASONS_SHOWN = 20
LANGUAGES_SHOWN = 50
NO_REASON = "no reason recorded"
# A record written before stage records had a code (index template 1) and not migrated.
UNRECORDED_CODE: StageCode = "error"
UNDETERMINED_LANGUAGE = "und"
# What to do about documents tagged for entities from the start of a long body only: said
# by `dateline status`, the pipeline page and the article page alike.
TAG_THE_REST = (
    "raise DATELINE_NER_MAX_CHARS, then `dateline reprocess --stage entities --partial-only` tags the rest"
)
STORIES_EXACT = 40_000  # the most a cardinality counts exactly (near-exactly) in Elasticsearch


class FailedDocument(BaseModel):
    """A document indexed without one stage's results."""

    id: str
    source_path: str
    record: int = 0
    title: str = ""
    stage: StageName
    code: StageCode = UNRECORDED_CODE
    error: str = NO_REASON
    model: str | None = None
    at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fix(self) -> str:
        return (
            f"Fix the cause above, then `dateline reprocess --stage {self.stage} --failed-only` "
            "runs the stage again on the stored text."
        )


class SkippedStage(BaseModel):
    stage: StageName
    code: StageCode
    reason: str = Field(description="One of the records' sentences, as an example for people.")
    documents: int


class StoryCounts(BaseModel):
    """Story grouping over the searchable documents. Counted from the documents themselves
    (each carries ``story_joined``, rewritten with every write of it) rather than from counters
    kept beside the story index: a retried or replayed batch, a reprocessed or changed file, a
    deleted one and a rebuilt index all leave exactly the documents that are there, where
    counters would count events (a document re-grouped after a change, or deleted, would still
    be counted as it first arrived)."""

    joined: int = Field(0, description="Documents that joined a story an earlier document had started.")
    stories: int = Field(
        0, description=f"Distinct stories (Elasticsearch's cardinality: exact up to {STORIES_EXACT:,})."
    )
    sampled: float | None = Field(
        None,
        description="Set when the archive holds more documents than DATELINE_SEARCH_EXACT_MAX: the "
        "fraction of the stories counted, scaled up (an estimate), as a search counts them.",
    )


class StageOutcomes(BaseModel):
    documents: int = Field(description="Documents in the index.")
    failed_documents: int = Field(description="Documents with at least one failed stage.")
    failed_by_stage: dict[str, int]
    failed: list[FailedDocument] = Field(description=f"Up to {FAILED_SHOWN}, most recently enriched first.")
    skipped: list[SkippedStage] = Field(description="Stages skipped on purpose, by reason (most first).")
    untagged_languages: dict[str, int] = Field(
        default_factory=dict,
        description="Documents indexed without entities because no NER model covers their language, "
        "per language, most first (not failures: DATELINE_NER_MODELS fixes them).",
    )
    entities_in_part: int = Field(
        0,
        description="Documents whose entities come from the start of the body only (a body longer "
        "than DATELINE_NER_MAX_CHARS; provenance.entities.covered_chars): not failures.",
    )
    stories: StoryCounts = Field(default_factory=StoryCounts)

    @classmethod
    def empty(cls) -> StageOutcomes:
        """Before the first document: no index yet."""
        return cls(documents=0, failed_documents=0, failed_by_stage={}, failed=[], skipped=[])


def _status_is(stage: StageName, status: str) -> dict[str, Any]:
    return {"term": {f"provenance.{stage}.status": status}}


class OutcomesRequest(BaseModel):
    """The three searches behind ``stage_outcomes``, sent together (one ``msearch``).

    Apart because each is cheapest alone: the failed documents are found by their own query
    (a few, not every document run through a post filter and sorted); the counts are filter
    aggregations under ``match_all`` with no hits, which Elasticsearch answers filter by filter
    from its postings; the distinct stories are counted over the sample's documents only (or
    every one below the threshold). As one search, at a million documents, ``dateline status``
    took 2.2x its time at a hundred thousand."""

    failed: dict[str, Any]
    counts: dict[str, Any]
    stories: dict[str, Any]

    def searches(self) -> list[dict[str, Any]]:
        """The ``msearch`` body: a header and a body per search, in this order."""
        return [part for body in (self.failed, self.counts, self.stories) for part in ({}, body)]


def _any_failed() -> dict[str, Any]:
    return {"bool": {"should": [_status_is(s, "failed") for s in STAGES], "minimum_should_match": 1}}


def build_outcomes_request(shown: int = FAILED_SHOWN, sample: StorySample | None = None) -> OutcomesRequest:
    """With ``sample``, distinct stories are counted on that sample of them (the one count that
    would otherwise visit every document)."""
    aggs: dict[str, Any] = {}
    for stage in STAGES:
        aggs[f"failed_{stage}"] = {"filter": _status_is(stage, "failed")}
        aggs[f"skipped_{stage}"] = {
            "filter": _status_is(stage, "skipped"),
            "aggs": {
                "codes": {
                    "terms": {
                        "field": f"provenance.{stage}.code",
                        "size": SKIP_REASONS_SHOWN,
                        "missing": UNRECORDED_CODE,
                    },
                    # One sentence per code, to show people what the code means here.
                    "aggs": {
                        "example": {
                            "terms": {
                                "field": f"provenance.{stage}.error.keyword",
                                "size": 1,
                                "missing": NO_REASON,
                            }
                        }
                    },
                }
            },
        }
    aggs["untagged"] = {
        "filter": {
            "bool": {
                "filter": [
                    _status_is("entities", "skipped"),
                    {"term": {"provenance.entities.code": "no_model_for_language"}},
                ]
            }
        },
        "aggs": {
            "languages": {
                "terms": {"field": "language", "size": LANGUAGES_SHOWN, "missing": UNDETERMINED_LANGUAGE}
            }
        },
    }
    aggs["entities_in_part"] = {"filter": {"exists": {"field": "provenance.entities.covered_chars"}}}
    aggs["story_joined"] = {"filter": {"term": {"story_joined": True}}}
    return OutcomesRequest(
        failed={
            "size": shown,
            "query": _any_failed(),
            "sort": [{"enriched_at": {"order": "desc", "unmapped_type": "date", "missing": "_last"}}],
            "_source": ["source_path", "record", "title", "provenance"],
            "track_total_hits": True,
        },
        # hits.total counts every document here.
        counts={"size": 0, "query": {"match_all": {}}, "track_total_hits": True, "aggs": aggs},
        stories={
            "size": 0,
            "query": {"match_all": {}} if sample is None else sample.filter("story_id"),
            "track_total_hits": False,
            "aggs": {"stories": {"cardinality": {"field": "story_id", "precision_threshold": STORIES_EXACT}}},
        },
    )


def stage_outcomes(es: Elasticsearch, alias: str, shown: int = FAILED_SHOWN) -> StageOutcomes:
    """Failed and skipped stages over the documents behind ``alias`` (empty before any).

    Raises the client's ``ApiError`` when Elasticsearch refuses one of the searches."""
    try:
        # A count of every document is read from the index's statistics: cheap at any size.
        documents = int(es.count(index=alias)["count"])
    except NotFoundError:  # no index yet: nothing was indexed
        return StageOutcomes.empty()
    sample = configured_sample(documents, get_settings())
    request = build_outcomes_request(shown, sample)
    answer = es.msearch(index=alias, searches=request.searches())
    responses = answer["responses"]
    for response in responses:
        if "error" in response:
            status = int(response.get("status", 500))
            if status == 404:  # the index went away between the count and the searches
                return StageOutcomes.empty()
            # An msearch answers 200 with each search's error inside: raised as the client
            # would raise it for one search, so callers handle one kind of failure.
            raise ApiError(str(response["error"]), replace(answer.meta, status=status), response["error"])
    failed, counts, stories = responses
    return to_outcomes(failed, counts, stories, sample)


def _stories(counts: Any, stories: Any, sample: StorySample | None) -> StoryCounts:
    aggs = counts.get("aggregations", {})
    joined = int(aggs.get("story_joined", {}).get("doc_count", 0))
    counted = int(stories.get("aggregations", {}).get("stories", {}).get("value", 0))
    if sample is None:
        return StoryCounts(joined=joined, stories=counted)
    # Never more stories than documents (an estimate may overshoot).
    documents = _total(counts)
    return StoryCounts(joined=joined, stories=min(sample.scale(counted), documents), sampled=sample.fraction)


def _total(response: Any) -> int:
    return int(response.get("hits", {}).get("total", {}).get("value", 0))


def to_outcomes(failed: Any, counts: Any, stories: Any, sample: StorySample | None = None) -> StageOutcomes:
    """The outcomes from the answers to ``OutcomesRequest``'s three searches."""
    aggs = counts.get("aggregations", {})
    found: list[FailedDocument] = []
    for hit in failed["hits"]["hits"]:
        source = hit.get("_source", {})
        provenance = source.get("provenance") or {}
        for stage in STAGES:
            record = provenance.get(stage) or {}
            if record.get("status") == "failed":
                found.append(
                    FailedDocument(
                        id=hit["_id"],
                        source_path=source.get("source_path", ""),
                        record=source.get("record") or 0,
                        title=source.get("title") or "",
                        stage=stage,
                        code=record.get("code") or UNRECORDED_CODE,
                        error=record.get("error") or NO_REASON,
                        model=record.get("model"),
                        at=record.get("at"),
                    )
                )
    skipped = [
        SkippedStage(
            stage=stage,
            code=bucket["key"],
            documents=int(bucket["doc_count"]),
            reason=next((str(e["key"]) for e in bucket.get("example", {}).get("buckets", [])), NO_REASON),
        )
        for stage in STAGES
        for bucket in aggs.get(f"skipped_{stage}", {}).get("codes", {}).get("buckets", [])
    ]
    skipped.sort(key=lambda s: (-s.documents, s.stage, s.code))
    languages = {
        str(b["key"]): int(b["doc_count"])
        for b in aggs.get("untagged", {}).get("languages", {}).get("buckets", [])
    }
    return StageOutcomes(
        documents=_total(counts),
        failed_documents=_total(failed),
        failed_by_stage={
            s: int(aggs.get(f"failed_{s}", {}).get("doc_count", 0))
            for s in STAGES
            if aggs.get(f"failed_{s}", {}).get("doc_count")
        },
        failed=found,
        skipped=skipped,
        untagged_languages=dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        entities_in_part=int(aggs.get("entities_in_part", {}).get("doc_count", 0)),
        stories=_stories(counts, stories, sample),
    )

"""What the enrichment stages did to the indexed documents, read from Elasticsearch: the
documents a stage failed on (with the error, newest first) and the stages skipped, counted
by their code. Read by the status views; one request, aggregations over keyword fields.
Every count is by a record's ``code`` (shared.schemas.StageCode), never by the wording of
its ``error`` sentence, which is only carried along as an example for people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
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
    stories: StoryCounts = Field(default_factory=StoryCounts)

    @classmethod
    def empty(cls) -> StageOutcomes:
        """Before the first document: no index yet."""
        return cls(documents=0, failed_documents=0, failed_by_stage={}, failed=[], skipped=[])


def _status_is(stage: StageName, status: str) -> dict[str, Any]:
    return {"term": {f"provenance.{stage}.status": status}}


def build_outcomes_request(shown: int = FAILED_SHOWN, sample: StorySample | None = None) -> dict[str, Any]:
    """Aggregations over every document; hits are only the failed ones (``post_filter``).
    With ``sample``, distinct stories are counted on that sample of them (the one count here
    that visits every document: at a million it made ``dateline status`` grow 4.5x)."""
    any_failed = {"bool": {"should": [_status_is(s, "failed") for s in STAGES], "minimum_should_match": 1}}
    aggs: dict[str, Any] = {
        # hits.total counts the post-filtered hits; this counts every document.
        "documents": {"filter": {"match_all": {}}},
        "failed_any": {"filter": any_failed},
    }
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
    aggs["story_joined"] = {"filter": {"term": {"story_joined": True}}}
    distinct = {"cardinality": {"field": "story_id", "precision_threshold": STORIES_EXACT}}
    if sample is None:
        aggs["stories"] = distinct
    else:
        aggs["stories"] = {"filter": sample.filter("story_id"), "aggs": {"distinct": distinct}}
    return {
        "size": shown,
        "query": {"match_all": {}},
        "post_filter": any_failed,
        "sort": [{"enriched_at": {"order": "desc", "unmapped_type": "date", "missing": "_last"}}],
        "source": ["source_path", "record", "title", "provenance"],
        "track_total_hits": True,
        "aggs": aggs,
    }


def stage_outcomes(es: Elasticsearch, alias: str, shown: int = FAILED_SHOWN) -> StageOutcomes:
    """Failed and skipped stages over the documents behind ``alias`` (empty before any)."""
    try:
        # A count of every document is read from the index's statistics: cheap at any size.
        documents = int(es.count(index=alias)["count"])
        sample = configured_sample(documents, get_settings())
        response = es.search(index=alias, **build_outcomes_request(shown, sample))
    except NotFoundError:  # no index yet: nothing was indexed
        return StageOutcomes.empty()
    return to_outcomes(response, sample)


def _stories(aggs: dict[str, Any], sample: StorySample | None) -> StoryCounts:
    documents = int(aggs.get("documents", {}).get("doc_count", 0))
    joined = int(aggs.get("story_joined", {}).get("doc_count", 0))
    if sample is None:
        return StoryCounts(joined=joined, stories=int(aggs.get("stories", {}).get("value", 0)))
    counted = int(aggs.get("stories", {}).get("distinct", {}).get("value", 0))
    # Never more stories than documents (an estimate may overshoot).
    return StoryCounts(joined=joined, stories=min(sample.scale(counted), documents), sampled=sample.fraction)


def to_outcomes(response: Any, sample: StorySample | None = None) -> StageOutcomes:
    aggs = response.get("aggregations", {})
    failed: list[FailedDocument] = []
    for hit in response["hits"]["hits"]:
        source = hit.get("_source", {})
        provenance = source.get("provenance") or {}
        for stage in STAGES:
            record = provenance.get(stage) or {}
            if record.get("status") == "failed":
                failed.append(
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
        documents=int(aggs.get("documents", {}).get("doc_count", 0)),
        failed_documents=int(aggs.get("failed_any", {}).get("doc_count", 0)),
        failed_by_stage={
            s: int(aggs.get(f"failed_{s}", {}).get("doc_count", 0))
            for s in STAGES
            if aggs.get(f"failed_{s}", {}).get("doc_count")
        },
        failed=failed,
        skipped=skipped,
        untagged_languages=dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        stories=_stories(aggs, sample),
    )

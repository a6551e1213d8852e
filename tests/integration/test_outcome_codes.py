"""No status figure depends on how a stage's sentence is worded: the same stage records with
every human sentence reworded give the same counts from a real Elasticsearch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import ApiError, Elasticsearch

import services.worker.stages.entities as entities
from services.worker.stages.entities import EntityStage
from shared.schemas import STAGES, ArticleDocument, Provenance, StageRecord, document_id
from shared.search.index import ensure_index
from shared.search.outcomes import StageOutcomes, stage_outcomes
from shared.settings import Settings
from shared.status import collect_status
from tests.support.indices import drop_dateline_index


def _document(i: int, lang: str, **records: StageRecord) -> ArticleDocument:
    return ArticleDocument(
        id=document_id(f"codes/{i}.txt"),
        source_path=f"codes/{i}.txt",
        format="text",
        title=f"Story {i}",
        body="Rivers rose.",
        content_sha256=f"c{i}",
        language=lang,
        provenance=Provenance(**records),
    )


def _documents(settings: Settings) -> list[ArticleDocument]:
    """Each code at least once; the entities skips are made by the real stage's own choice."""
    stage = EntityStage(settings)
    skipped = [stage.run(_document(i, language)) for i, language in enumerate(["ur", "ur", "de"])]
    failed = [
        _document(
            10, "en", summary=StageRecord(status="failed", code="time_limit", error=stage.time_limit_reason())
        ),
        _document(
            11, "en", entities=StageRecord(status="failed", code="model_unavailable", error="gone.pt missing")
        ),
        _document(12, "en", entities=StageRecord(status="failed", code="worker_died", error="died twice")),
        _document(13, "en", language=StageRecord(status="failed", code="error", error="ValueError: x")),
        _document(14, "en", summary=StageRecord(status="skipped", code="no_text", error="no sentences")),
    ]
    return skipped + failed


def _reword(document: ArticleDocument) -> ArticleDocument:
    """The same document with every stage's sentence replaced by different words."""
    copy = document.model_copy(deep=True)
    for stage in STAGES:
        record = getattr(copy.provenance, stage)
        if record is not None and record.error:
            record.error = f"reworded {uuid.uuid4().hex}"
    return copy


def _outcomes(es: Elasticsearch, es_url: str, documents: list[ArticleDocument]) -> Iterator[StageOutcomes]:
    alias = f"test-{uuid.uuid4().hex[:10]}"
    ensure_index(es, alias, Settings(elasticsearch_url=es_url, index=alias))
    try:
        for document in documents:
            es.index(index=alias, id=document.id, document=document.model_dump(mode="json"))
        es.indices.refresh(index=alias)
        yield stage_outcomes(es, alias)
    finally:
        drop_dateline_index(es, alias)


def _figures(outcomes: StageOutcomes) -> dict[str, object]:
    """Everything a status view counts (the example sentences aside)."""
    return {
        "documents": outcomes.documents,
        "failed_documents": outcomes.failed_documents,
        "failed_by_stage": outcomes.failed_by_stage,
        "untagged": outcomes.untagged_languages,
        "skipped": [(s.stage, s.code, s.documents) for s in outcomes.skipped],
        "failed": sorted((f.id, f.stage, f.code) for f in outcomes.failed),
    }


def test_counts_hold_when_every_sentence_is_reworded(es, es_url, monkeypatch):
    settings = Settings(elasticsearch_url=es_url, ner_model="", ner_models={"ur": ""})
    original = _documents(settings)
    # The stage's own sentence constant reworded too, not only the stored text.
    monkeypatch.setattr(entities, "NO_MODEL_FOR_LANGUAGE", "nothing here tags the language")
    restated = [_reword(d) for d in _documents(settings)]
    assert {d.provenance.entities.error for d in restated if d.provenance.entities}.isdisjoint(
        {d.provenance.entities.error for d in original if d.provenance.entities}
    )

    (before,) = _outcomes(es, es_url, original)
    (after,) = _outcomes(es, es_url, restated)
    assert _figures(before) == _figures(after)
    assert before.untagged_languages == {"ur": 2, "de": 1}
    assert before.failed_by_stage == {"summary": 1, "entities": 2, "language": 1}
    assert {(s.stage, s.code, s.documents) for s in before.skipped} == {
        ("entities", "no_model_for_language", 3),
        ("summary", "no_text", 1),
    }
    assert {f.code for f in before.failed} == {"time_limit", "model_unavailable", "worker_died", "error"}


def test_a_search_elasticsearch_refuses_is_an_error_not_empty_counts(es, es_url, rclient):
    """The three searches go as one msearch, which answers 200 with each search's error
    inside: a refused one must reach the status views as Elasticsearch's error (shown as
    "answered with an error"), never as an archive of zero documents."""
    alias = f"test-{uuid.uuid4().hex[:10]}"
    # An index not made by Dateline's template: story_id is text, which cannot be counted.
    es.indices.create(index=f"{alias}-v1", mappings={"properties": {"story_id": {"type": "text"}}})
    es.indices.put_alias(index=f"{alias}-v1", name=alias)
    try:
        es.index(index=alias, document={"story_id": "a b"}, refresh=True)
        with pytest.raises(ApiError) as refused:
            stage_outcomes(es, alias)
        assert refused.value.meta.status == 400
        info = collect_status(rclient, es, es_url=es_url, alias=alias).index
        assert info is not None and info.outcomes is None and not info.reachable
        assert "answered with an error (HTTP 400)" in (info.detail or "")
    finally:
        es.indices.delete(index=f"{alias}-v1")

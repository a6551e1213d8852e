"""The mapping keeps up with the schema, and the template is built from settings."""

from __future__ import annotations

from shared.schemas import STAGES, ArticleDocument, Entities, Provenance, StageRecord
from shared.search.template import (
    SUBFIELD_ANALYZERS,
    TEMPLATE_VERSION,
    build_mappings,
    build_template,
    index_generation,
    versioned_index,
)
from shared.settings import Settings


def test_every_schema_field_is_mapped():
    # dynamic:false would silently leave a new field unindexed: fail here instead.
    props = build_mappings(languages=False)["properties"]
    assert set(ArticleDocument.model_fields) <= set(props)
    assert set(Entities.model_fields) == set(props["entities"]["properties"])
    assert set(Provenance.model_fields) == set(props["provenance"]["properties"])
    for stage in STAGES:
        assert set(StageRecord.model_fields) == set(props["provenance"]["properties"][stage]["properties"])


def test_facets_are_keywords_and_dates_are_dates():
    props = build_mappings(languages=True)["properties"]
    for name in ("language", "source", "dateline", "format", "content_sha256", "source_path"):
        assert props[name]["type"] == "keyword", name
    for kind in Entities.model_fields:
        assert props["entities"]["properties"][kind]["type"] == "keyword"
    for name in ("published_at", "ingested_at", "enriched_at"):
        assert props[name]["type"] == "date"
    assert props["title"]["fields"]["keyword"]["type"] == "keyword"
    assert props["entity_list"]["type"] == "nested"
    assert props["mentions"]["enabled"] is False


def test_language_subfields_only_when_the_cluster_has_analysers():
    with_langs = build_mappings(languages=True)["properties"]["body"]
    assert with_langs["fields"]["en"] == {"type": "text", "analyzer": "english"}
    assert set(with_langs["fields"]) == set(SUBFIELD_ANALYZERS)
    assert "fields" not in build_mappings(languages=False)["properties"]["body"]


def test_template_takes_settings_and_pattern():
    settings = Settings(index_shards=2, index_replicas=1, index_refresh_interval="5s")
    body = build_template("news", settings, languages=False)
    assert body["index_patterns"] == ["news-v*"]
    assert body["version"] == TEMPLATE_VERSION
    index = body["template"]["settings"]["index"]
    assert (index["number_of_shards"], index["number_of_replicas"], index["refresh_interval"]) == (2, 1, "5s")


def test_generation_names():
    assert versioned_index("articles", 3) == "articles-v3"
    assert index_generation("articles", "articles-v12") == 12
    assert index_generation("articles", "articles-vx") is None
    assert index_generation("articles", "other-v1") is None

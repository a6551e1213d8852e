"""The index template: how Dateline documents are stored and analysed.

Indices are versioned (``<alias>-v1``, ``<alias>-v2`` ...) and reached only through the alias
``settings.index``; a composable index template for ``<alias>-v*`` gives every new version
the current mapping, so changing the mapping means: bump ``TEMPLATE_VERSION``, run
``dateline index migrate``.

Design choices:

* ``dynamic: false`` (not ``strict``): a field added to ``ArticleDocument`` before the
  template learns of it is kept in ``_source`` (so a migrate can index it later) instead of
  every document being rejected; ``tests/unit/search`` fails when the schema has a field the
  mapping lacks, so the drift is caught in CI rather than in production.
* Per-language analysis: ``title``/``body``/``summary`` are ``text`` with the ``standard``
  analyser (works for every language) plus one sub-field per supported language analysed
  with that language's stemmer (``body.en`` -> ``english``). The search query sends each
  document's language to its own sub-field and documents of other languages to the base field
  (see ``shared/search/query.py``). Language analysers live in Elasticsearch's
  ``analysis-common`` module; a cluster without it (the integration-test distribution) gets
  the base fields only, and the query reads which sub-fields exist from the live mapping.
* ``entity_list`` is ``nested`` so "name X of type Y" stays one pair; ``mentions`` has
  ``enabled: false``: they are character offsets for clients to mark up the body, can be
  hundreds per article, and every query/facet on entities is served by ``entities.*`` and
  ``entity_list`` already, so indexing them would only cost space.
"""

from __future__ import annotations

import copy
from typing import Any

from elasticsearch import ApiError, Elasticsearch
from pydantic import BaseModel

from shared.schemas import ARTICLE_VECTOR_DIMS, ENTITY_TYPES, STAGES, ArticleDocument, Entity, StageRecord
from shared.settings import Settings
from shared.text.repair import TextRepair

# Bump when the mapping or analysis changes; then run ``dateline index migrate``.
# 2 and 3 (parallel work): story_id, story_joined, carried_from, vector; provenance.<stage>.code.
# 5: sentences and summary_spans (offsets, split once at ingest) instead of summary_sentences.
# 6: provenance.<stage>.covered_chars (how far into a long body the entity stage tagged).
TEMPLATE_VERSION = 6

# Language code (as detected by the language stage) -> sub-field name.
LANGUAGE_SUBFIELDS: dict[str, str] = {
    "en": "en",
    "de": "de",
    "fr": "fr",
    "es": "es",
    "it": "it",
    "pt": "pt",
    "nl": "nl",
    "ru": "ru",
    "ar": "ar",
    "fa": "fa",
    "hi": "hi",
    "tr": "tr",
    "zh": "cjk",
    "ja": "cjk",
    "ko": "cjk",
}
# Sub-field name -> built-in Elasticsearch analyser (module analysis-common).
SUBFIELD_ANALYZERS: dict[str, str] = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ru": "russian",
    "ar": "arabic",
    "fa": "persian",
    "hi": "hindi",
    "tr": "turkish",
    "cjk": "cjk",
}
TEXT_FIELDS = ("title", "body", "summary")


def template_name(alias: str) -> str:
    return f"{alias}-template"


def index_pattern(alias: str) -> str:
    return f"{alias}-v*"


def versioned_index(alias: str, version: int) -> str:
    return f"{alias}-v{version}"


def index_generation(alias: str, index: str) -> int | None:
    """``articles-v3`` -> 3; None for a name that is not one of the alias's versions."""
    prefix = f"{alias}-v"
    if not index.startswith(prefix) or not index[len(prefix) :].isdigit():
        return None
    return int(index[len(prefix) :])


def language_analyzers_available(es: Elasticsearch) -> bool:
    """Whether the cluster has the built-in language analysers (module analysis-common)."""
    try:
        es.indices.analyze(analyzer="english", text="running")
    except ApiError:
        return False
    return True


def _keyword(ignore_above: int = 256) -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": ignore_above}


def _text(subfields: list[str], keyword: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {
        name: {"type": "text", "analyzer": SUBFIELD_ANALYZERS[name]} for name in subfields
    }
    if keyword:
        fields["keyword"] = _keyword(512)
    mapping: dict[str, Any] = {"type": "text", "analyzer": "standard"}
    if fields:
        mapping["fields"] = fields
    return mapping


def _stage_record() -> dict[str, Any]:
    properties: dict[str, dict[str, Any]] = {
        "model": _keyword(),
        "version": _keyword(),
        "status": _keyword(),
        "seconds": {"type": "float"},
        "code": _keyword(),
        "error": {"type": "text", "fields": {"keyword": _keyword(1024)}},
        "covered_chars": {"type": "integer"},
        "at": {"type": "date"},
    }
    return {"properties": _complete(StageRecord, properties)}


def _complete(model: type[BaseModel], properties: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``properties`` for exactly ``model``'s fields: a field added to the schema without a
    mapping fails here, at build time, instead of going unindexed under ``dynamic: false``."""
    missing = set(model.model_fields) - set(properties)
    extra = set(properties) - set(model.model_fields)
    if missing or extra:
        raise RuntimeError(
            f"the index mapping and {model.__name__} disagree: unmapped {sorted(missing)}, "
            f"unknown {sorted(extra)}; update shared/search/template.py and bump TEMPLATE_VERSION"
        )
    return {name: properties[name] for name in model.model_fields}


def build_mappings(languages: bool) -> dict[str, Any]:
    subfields = sorted(SUBFIELD_ANALYZERS) if languages else []
    properties: dict[str, dict[str, Any]] = {
        "id": _keyword(),
        "source_path": _keyword(4096),
        "record": {"type": "integer"},
        "revision": {"type": "long"},
        "format": _keyword(),
        "title": _text(subfields, keyword=True),
        "body": _text(subfields),
        "content_sha256": _keyword(),
        "source": _keyword(),
        "published_at": {"type": "date"},
        "author": {"type": "text", "fields": {"keyword": _keyword()}},
        "url": _keyword(4096),
        "dateline": _keyword(),
        "language_hint": _keyword(),
        "ingested_at": {"type": "date"},
        "sentences": {"type": "object", "enabled": False},
        "language": _keyword(),
        "language_confidence": {"type": "float"},
        # One keyword field per entity type (the facets), from the schema's own list.
        "entities": {"properties": {kind: _keyword() for kind in ENTITY_TYPES}},
        "entity_list": {
            "type": "nested",
            "properties": _complete(
                Entity, {"name": _keyword(), "type": _keyword(), "count": {"type": "integer"}}
            ),
        },
        "mentions": {"type": "object", "enabled": False},
        "summary": _text(subfields),
        # Offsets for the article page and the stages: read from _source, never searched.
        "summary_spans": {"type": "object", "enabled": False},
        # Related articles: approximate nearest neighbours (HNSW) by cosine similarity.
        "vector": {
            "type": "dense_vector",
            "dims": ARTICLE_VECTOR_DIMS,
            "index": True,
            "similarity": "cosine",
        },
        # One record per stage, from the schema's own list of stages.
        # ... and what ingest repaired in the file's text ("which documents had NULs?").
        "provenance": {
            "properties": {
                **{stage: _stage_record() for stage in STAGES},
                "repairs": {
                    "properties": _complete(
                        TextRepair,
                        {
                            "field": _keyword(),
                            "kind": _keyword(),
                            "count": {"type": "integer"},
                        },
                    )
                },
            }
        },
        "enriched_at": {"type": "date"},
        # Stories (shared/stories): the collapse key, and the "carried from" facet.
        "story_id": _keyword(),
        "story_joined": {"type": "boolean"},
        "carried_from": _keyword(),
        # Set by the indexer on every write: lets a migration catch up with late writes.
        "indexed_at": {"type": "date"},
    }
    return {
        "dynamic": False,
        "_meta": {"project": "dateline", "template_version": TEMPLATE_VERSION},
        "properties": _complete(ArticleDocument, properties),
    }


def build_template(alias: str, settings: Settings, *, languages: bool = True) -> dict[str, Any]:
    """The body of ``PUT _index_template/<alias>-template``."""
    return {
        "index_patterns": [index_pattern(alias)],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"project": "dateline", "alias": alias},
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": settings.index_shards,
                    "number_of_replicas": settings.index_replicas,
                    "refresh_interval": settings.index_refresh_interval,
                }
            },
            "mappings": copy.deepcopy(build_mappings(languages)),
        },
    }


def installed_template_version(es: Elasticsearch, alias: str) -> int | None:
    try:
        found = es.indices.get_index_template(name=template_name(alias))
    except ApiError as exc:
        if exc.meta.status == 404:
            return None
        raise
    templates = found.get("index_templates", [])
    return templates[0]["index_template"].get("version") if templates else None


def put_template(es: Elasticsearch, alias: str, settings: Settings, *, force: bool = False) -> bool:
    """Install the template unless a same-or-newer version is there; returns whether it wrote.

    Never downgrades: an older release starting next to a newer one must not put its old
    mapping back.
    """
    installed = installed_template_version(es, alias)
    if not force and installed is not None and installed >= TEMPLATE_VERSION:
        return False
    body = build_template(alias, settings, languages=language_analyzers_available(es))
    es.indices.put_index_template(name=template_name(alias), body=body)
    return True

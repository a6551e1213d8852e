"""Building and running searches over the Dateline alias (CLI and API use the same code).

Text matching per language: a document whose ``language`` has a stemmed sub-field in the
live mapping (``body.en`` ...) is matched on that sub-field plus the base field; every other
document on the base ``standard``-analysed fields. Which sub-fields exist is read from the
mapping, so the same code serves clusters with or without language analysers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from shared.schemas import ArticleDocument
from shared.search.models import (
    FACET_FIELDS,
    SearchHit,
    SearchInputError,
    SearchParams,
    SearchResult,
    parse_when,
)
from shared.search.syntax import FUZZY_MAX_EXPANSIONS, MAX_DETERMINIZED_STATES, query_string_text
from shared.search.template import LANGUAGE_SUBFIELDS

log = logging.getLogger(__name__)

BOOSTS = {"title": 3.0, "summary": 1.5, "body": 1.0}
SOURCE_EXCLUDES = ["mentions", "summary_sentences", "entity_list"]
_SUBFIELD_CACHE: dict[tuple[int, str], tuple[float, frozenset[str]]] = {}
_SUBFIELD_TTL = 60.0


def _text_query(text: str, fields: list[str], syntax: str) -> dict[str, Any]:
    """The text checked by ``syntax.check_query`` (``SearchParams`` did), with Elasticsearch's
    own bounds set as well: no leading wildcards, fewer fuzzy expansions, smaller automata."""
    common = {"fields": fields, "default_operator": "and", "lenient": True,
              "fuzzy_max_expansions": FUZZY_MAX_EXPANSIONS}
    if syntax == "simple":
        return {"simple_query_string": {"query": text, **common}}
    return {"query_string": {"query": query_string_text(text), **common, "allow_leading_wildcard": False,
                             "max_determinized_states": MAX_DETERMINIZED_STATES}}


def _fields(subfield: str | None) -> list[str]:
    fields = [f"{name}^{boost:g}" for name, boost in BOOSTS.items()]
    if subfield:
        fields += [f"{name}.{subfield}^{boost:g}" for name, boost in BOOSTS.items()]
    return fields


def text_clause(text: str, subfields: Collection[str], syntax: str = "query_string") -> dict[str, Any]:
    """Match ``text`` on each document's own language sub-field, or the base fields."""
    if text.strip() in ("", "*"):
        return {"match_all": {}}
    groups: dict[str, list[str]] = {}
    for code, subfield in LANGUAGE_SUBFIELDS.items():
        if subfield in subfields:
            groups.setdefault(subfield, []).append(code)
    if not groups:
        return _text_query(text, _fields(None), syntax)
    should: list[dict[str, Any]] = [
        {"bool": {"filter": [{"terms": {"language": codes}}], "must": [_text_query(text, _fields(sub), syntax)]}}
        for sub, codes in sorted(groups.items())
    ]
    known = sorted(code for codes in groups.values() for code in codes)
    should.append(
        {"bool": {"must_not": [{"terms": {"language": known}}], "must": [_text_query(text, _fields(None), syntax)]}}
    )
    return {"bool": {"should": should, "minimum_should_match": 1}}


def filters(params: SearchParams) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if params.lang:
        found.append({"terms": {"language": [code.lower() for code in params.lang]}})
    if params.source:
        found.append({"terms": {"source": params.source}})
    for kind, name in params.entity_filters:
        found.append({"term": {f"entities.{kind}": name}})
    if params.since or params.until:
        bounds: dict[str, str] = {}
        if params.since:
            bounds["gte"] = parse_when(params.since, end=False)
        if params.until:
            bounds["lte"] = parse_when(params.until, end=True)
        found.append({"range": {"published_at": bounds}})
    return found


def build_search(params: SearchParams, subfields: Collection[str], syntax: str = "query_string") -> dict[str, Any]:
    """The search request body (keyword arguments of ``Elasticsearch.search``)."""
    body: dict[str, Any] = {
        "query": {"bool": {"must": [text_clause(params.query, subfields, syntax)], "filter": filters(params)}},
        "from_": (params.page - 1) * params.size,
        "size": params.size,
        "sort": [
            {"_score": "desc"},
            {"published_at": {"order": "desc", "missing": "_last", "unmapped_type": "date"}},
        ],
        "track_total_hits": True,
        "source": {"excludes": SOURCE_EXCLUDES},
        "aggs": {
            field: {"terms": {"field": field, "size": params.facet_size}} for field in FACET_FIELDS
        },
        "highlight": {
            "fields": {
                "title": {"number_of_fragments": 0},
                "title.*": {"number_of_fragments": 0},
                "summary": {"number_of_fragments": 0},
                "summary.*": {"number_of_fragments": 0},
                "body": {"fragment_size": 160, "number_of_fragments": 3},
                "body.*": {"fragment_size": 160, "number_of_fragments": 3},
            },
        },
    }
    if params.collapse:
        # One hit per identical text; the total counts distinct texts, not documents.
        body["collapse"] = {"field": "content_sha256"}
        body["aggs"]["distinct_texts"] = {
            "cardinality": {"field": "content_sha256", "precision_threshold": 40000}
        }
    return body


def text_subfields(es: Elasticsearch, alias: str) -> frozenset[str]:
    """Language sub-fields of ``body`` in the live mapping (cached for a minute)."""
    key = (id(es), alias)
    cached = _SUBFIELD_CACHE.get(key)
    if cached and time.monotonic() - cached[0] < _SUBFIELD_TTL:
        return cached[1]
    found = es.indices.get_field_mapping(index=alias, fields="body.*")
    names = frozenset(
        field.split(".", 1)[1]
        for index in found.values()
        for field in index.get("mappings", {})
        if field != "body.keyword"
    )
    _SUBFIELD_CACHE[key] = (time.monotonic(), names)
    return names


def _is_syntax_error(exc: BadRequestError) -> bool:
    text = str(exc.info)
    return "Failed to parse query" in text or "parse_exception" in text or "Cannot parse" in text


def search(es: Elasticsearch, alias: str, params: SearchParams) -> SearchResult:
    subfields = text_subfields(es, alias)
    try:
        response = es.search(index=alias, **build_search(params, subfields))
    except BadRequestError as exc:
        if not _is_syntax_error(exc):
            raise _refused(exc, params) from None
        # Not valid query-string syntax (say an unbalanced quote or bracket): fall back to
        # the forgiving simple syntax rather than failing the person's search.
        log.info("query %r is not valid query_string syntax; using simple_query_string", params.query)
        simple = params.model_copy(update={"query": to_simple_syntax(params.query)})
        try:
            response = es.search(index=alias, **build_search(simple, subfields, syntax="simple"))
        except BadRequestError as again:
            raise _refused(again, params) from None
    return to_result(response, params)


def _refused(exc: BadRequestError, params: SearchParams) -> SearchInputError:
    """Elasticsearch refused a query that passed our checks: say what to change in our words.
    Its own message (class names, parser internals) goes to the log, not to the person."""
    reason = _reason(exc)
    log.warning("Elasticsearch refused the query %r: %s", params.query[:200], reason)
    lowered = reason.lower()
    if "clause" in lowered:
        return SearchInputError("the query expands to too many terms for the archive; use fewer words, "
                                "wildcards or fields")
    if "determiniz" in lowered or "too complex" in lowered:
        return SearchInputError("a wildcard in the query is too complex; write more letters before "
                                "* or ?, or use fewer of them")
    return SearchInputError("the archive cannot run this query; write plain words, \"quoted phrases\", "
                            "AND / OR / NOT and field:value")


def to_simple_syntax(text: str) -> str:
    """Map the boolean words of query-string syntax to simple_query_string's operators."""
    words = {"AND": "+", "OR": "|", "NOT": "-"}
    return " ".join(words.get(word, word) for word in text.split())


def to_result(response: Any, params: SearchParams) -> SearchResult:
    aggs = response.get("aggregations", {})
    if params.collapse:
        total = int(aggs.get("distinct_texts", {}).get("value", 0))
    else:
        total = int(response["hits"]["total"]["value"])
    hits = [_hit(raw) for raw in response["hits"]["hits"]]
    facets = {
        field: {str(b.get("key_as_string", b["key"])): int(b["doc_count"]) for b in aggs.get(field, {}).get("buckets", [])}
        for field in FACET_FIELDS
    }
    shards = response.get("_shards", {})
    partial = bool(shards.get("failed")) or bool(response.get("timed_out"))
    if partial:
        log.warning("search answered from part of the archive only: %s of %s shards failed",
                    shards.get("failed"), shards.get("total"))
    return SearchResult(total=total, hits=hits, facets=facets, page=params.page, size=params.size,
                        partial=partial)


def _hit(raw: dict[str, Any]) -> SearchHit:
    highlight: dict[str, list[str]] = {}
    for field, fragments in raw.get("highlight", {}).items():
        base = field.split(".", 1)[0]  # body.en -> body
        merged = highlight.setdefault(base, [])
        merged.extend(f for f in fragments if f not in merged)
    return SearchHit.model_validate({**raw.get("_source", {}), "id": raw["_id"], "score": raw.get("_score"),
                                     "highlight": highlight})


def get_article(es: Elasticsearch, alias: str, doc_id: str) -> ArticleDocument | None:
    """The stored document with id ``doc_id`` behind ``alias``, or None."""
    try:
        found = es.search(index=alias, query={"ids": {"values": [doc_id]}}, size=1)
    except NotFoundError:
        return None
    hits = found["hits"]["hits"]
    return ArticleDocument.model_validate(hits[0]["_source"]) if hits else None


def _reason(exc: BadRequestError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    causes = info.get("error", {}).get("root_cause") or [info.get("error", {})]
    return "; ".join(str(c.get("reason")) for c in causes if isinstance(c, dict)) or str(exc)

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
from datetime import datetime, timezone
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from shared.names.aliases import AliasFileError, alias_table
from shared.schemas import ENTITY_TYPES, ArticleDocument
from shared.search.errors import ArchiveFailure, SearchInputError, classify, query_refusal
from shared.search.models import (
    FACET_FIELDS,
    Copy,
    Related,
    SearchHit,
    SearchParams,
    SearchResult,
    parse_when,
)
from shared.search.sampling import StorySample, configured_sample
from shared.search.syntax import FUZZY_MAX_EXPANSIONS, MAX_DETERMINIZED_STATES, query_string_text
from shared.search.template import LANGUAGE_SUBFIELDS
from shared.settings import get_settings

log = logging.getLogger(__name__)

BOOSTS = {"title": 3.0, "summary": 1.5, "body": 1.0}
SOURCE_EXCLUDES = ["mentions", "sentences", "summary_spans", "entity_list", "vector"]
# Distinct stories are counted exactly up to this many per bucket (approximately beyond).
DISTINCT_PRECISION = 3000
DISTINCT = "stories"
# With collapse, one hit per story (shared/stories: near-duplicates and wire copies share a
# story_id; a document the story index did not group has the story of its exact text).
COLLAPSE_FIELD = "story_id"
PUBLISHED = "published_at"  # the date facet: matches per day, month or year
PUBLISHED_RANGE = "published_range"
SAMPLE = "sample"  # counts of a huge result set, on a sample of its stories (sampling.py)
# The finest calendar interval that draws the matches' dates in at most this many bars; each
# bucket is named as `since`/`until` accept it, so a bar is also a filter.
DATE_BUCKETS = 36
DATE_INTERVALS = (("day", "%Y-%m-%d", 1), ("month", "%Y-%m", 31), ("year", "%Y", 366))
VERSIONS = "versions"
VERSIONS_SHOWN = 5
COPY_FIELDS = ["source_path", "source", "title", "published_at", "dateline"]
# Versions in order of first publication (undated ones last), then by file, so the list and
# "first seen" are the same on every page and every run.
FIRST_PUBLISHED = [
    {"published_at": {"order": "asc", "missing": "_last", "unmapped_type": "date"}},
    {"source_path": "asc"},
]
_SUBFIELD_CACHE: dict[tuple[int, str], tuple[float, frozenset[str]]] = {}
_SUBFIELD_TTL = 60.0


def _text_query(text: str, fields: list[str], syntax: str) -> dict[str, Any]:
    """The text checked by ``syntax.check_query`` (``SearchParams`` did), with Elasticsearch's
    own bounds set as well: no leading wildcards, fewer fuzzy expansions, smaller automata."""
    common = {
        "fields": fields,
        "default_operator": "and",
        "lenient": True,
        "fuzzy_max_expansions": FUZZY_MAX_EXPANSIONS,
    }
    if syntax == "simple":
        return {"simple_query_string": {"query": text, **common}}
    return {
        "query_string": {
            "query": query_string_text(text),
            **common,
            "allow_leading_wildcard": False,
            "max_determinized_states": MAX_DETERMINIZED_STATES,
        }
    }


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
        {
            "bool": {
                "filter": [{"terms": {"language": codes}}],
                "must": [_text_query(text, _fields(sub), syntax)],
            }
        }
        for sub, codes in sorted(groups.items())
    ]
    known = sorted(code for codes in groups.values() for code in codes)
    should.append(
        {
            "bool": {
                "must_not": [{"terms": {"language": known}}],
                "must": [_text_query(text, _fields(None), syntax)],
            }
        }
    )
    return {"bool": {"should": should, "minimum_should_match": 1}}


def filters(params: SearchParams) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if params.lang:
        found.append({"terms": {"language": [code.lower() for code in params.lang]}})
    if params.source:
        found.append({"terms": {"source": params.source}})
    if params.dateline:
        found.append({"terms": {"dateline": params.dateline}})
    for kind, name in params.entity_filters:
        found.append(entity_filter(kind, name))
    if params.since or params.until:
        bounds: dict[str, str] = {}
        if params.since:
            bounds["gte"] = parse_when(params.since, end=False)
        if params.until:
            bounds["lte"] = parse_when(params.until, end=True)
        found.append({"range": {"published_at": bounds}})
    return found


def entity_values(name: str) -> list[str]:
    """The stored values that mean ``name``: the archive's name for it (the alias table's
    canonical name or its facet form, as the worker writes them), the listed spellings of
    that name, and ``name`` as given (documents enriched before the table knew it)."""
    try:
        table = alias_table(get_settings().entity_aliases)
    except AliasFileError as exc:
        raise SearchInputError(str(exc)) from exc
    canonical = table.facet_value(name)
    return sorted({name, canonical} | table.spellings(canonical))


def entity_filter(kind: str | None, name: str) -> dict[str, Any]:
    """Documents with the entity ``name`` of type ``kind`` (any type when None)."""
    values = entity_values(name)
    fields = [f"entities.{kind}"] if kind else [f"entities.{k}" for k in ENTITY_TYPES]
    clauses = [{"term": {f: values[0]}} if len(values) == 1 else {"terms": {f: values}} for f in fields]
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}


def search_query(
    params: SearchParams, subfields: Collection[str], syntax: str = "query_string"
) -> dict[str, Any]:
    """The query of a search: its text over the text fields, within its filters. The same for
    the search page, exports and a watch's stored (percolator) query."""
    return {"bool": {"must": [text_clause(params.query, subfields, syntax)], "filter": filters(params)}}


def build_search(
    params: SearchParams,
    subfields: Collection[str],
    syntax: str = "query_string",
    highlight_chars: int | None = None,
    sample: StorySample | None = None,
) -> dict[str, Any]:
    """The search request body (keyword arguments of ``Elasticsearch.search``); with
    ``sample``, its counts (total with collapse, facets) are made on that sample of stories.

    Highlights are looked for in the first ``highlight_chars`` characters of each field
    (default: the setting ``highlight_max_chars``): past the index's
    ``index.highlight.max_analyzed_offset`` Elasticsearch refuses the whole search, so without
    the bound one long article would break every search that matches it."""
    if highlight_chars is None:
        highlight_chars = get_settings().highlight_max_chars
    body: dict[str, Any] = {
        "query": search_query(params, subfields, syntax),
        "from_": (params.page - 1) * params.size,
        "size": params.size,
        "sort": _sort(params),
        "track_total_hits": True,
        "source": {"excludes": SOURCE_EXCLUDES},
        "aggs": aggregations(params),
        "highlight": {
            "max_analyzed_offset": highlight_chars,
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
        # One hit per story; the total counts distinct stories, not documents.
        body["collapse"] = {"field": COLLAPSE_FIELD}
        body["aggs"]["distinct_stories"] = {
            "cardinality": {"field": COLLAPSE_FIELD, "precision_threshold": DISTINCT_PRECISION}
        }
    body["aggs"] = _sampled(body["aggs"], sample)
    return body


def _sampled(aggs: dict[str, Any], sample: StorySample | None) -> dict[str, Any]:
    """``aggs`` over ``sample``'s stories only (unchanged without one)."""
    if sample is None:
        return aggs
    return {SAMPLE: {"filter": sample.filter(COLLAPSE_FIELD), "aggs": aggs}}


def _unsampled(aggs: dict[str, Any]) -> dict[str, Any]:
    """The aggregations of an answer, from inside the sample's filter if there is one."""
    inner = aggs.get(SAMPLE)
    return inner if isinstance(inner, dict) else aggs


def _sort(params: SearchParams) -> list[dict[str, Any]]:
    newest = {"published_at": {"order": "desc", "missing": "_last", "unmapped_type": "date"}}
    if params.sort == "date":
        return [newest, {"_score": "desc"}]
    return [{"_score": "desc"}, newest]


def _counted(agg: dict[str, Any], params: SearchParams) -> dict[str, Any]:
    """With collapse, a bucket also counts distinct stories: a story carried by ten outlets
    counts once, as in the hits and the total."""
    if params.collapse:
        agg["aggs"] = {
            DISTINCT: {"cardinality": {"field": COLLAPSE_FIELD, "precision_threshold": DISTINCT_PRECISION}}
        }
    return agg


def aggregations(params: SearchParams) -> dict[str, Any]:
    """Facets, and the first and last publication dates (they size the date histogram)."""
    aggs = {
        field: _counted({"terms": {"field": field, "size": params.facet_size}}, params)
        for field in FACET_FIELDS
    }
    aggs[PUBLISHED_RANGE] = {"stats": {"field": "published_at"}}
    return aggs


def date_interval(first_ms: float, last_ms: float) -> tuple[str, str]:
    """(calendar interval, bucket name format) drawing [first, last] in few enough bars."""
    days = (last_ms - first_ms) / 86_400_000
    for unit, name, unit_days in DATE_INTERVALS:
        if days / unit_days < DATE_BUCKETS:
            return unit, name
    return DATE_INTERVALS[-1][:2]


def details_request(
    params: SearchParams,
    body: dict[str, Any],
    response: Any,
    hits: list[SearchHit],
    sample: StorySample | None = None,
) -> dict[str, Any] | None:
    """The second request of a search page, over the same query and filters: the date
    histogram (its interval chosen from the first request's date range) and each hit's story:
    how many versions from how many sources, and the first versions. A story is counted
    whole (a ``global`` aggregation, outside the query and filters): "N versions from K
    sources" says who carried the story, not how many of them this search matched.
    None when there is nothing to ask."""
    aggs: dict[str, Any] = {}
    dates = _unsampled(response.get("aggregations", {})).get(PUBLISHED_RANGE, {})
    if dates.get("count"):
        unit, _ = date_interval(dates["min"], dates["max"])
        aggs |= _sampled(
            {
                PUBLISHED: _counted(
                    {"date_histogram": {"field": "published_at", "calendar_interval": unit}}, params
                )
            },
            sample,
        )
    stories = sorted({hit.story_id for hit in hits if hit.story_id})
    if stories:
        aggs[VERSIONS] = {
            "global": {},
            "aggs": {
                "in": {
                    "filter": {"terms": {COLLAPSE_FIELD: stories}},
                    "aggs": {
                        "stories": {
                            "terms": {"field": COLLAPSE_FIELD, "size": len(stories)},
                            "aggs": {
                                "sources": {
                                    "cardinality": {
                                        "field": "source",
                                        "precision_threshold": DISTINCT_PRECISION,
                                    }
                                },
                                "first": {
                                    "top_hits": {
                                        "size": VERSIONS_SHOWN + 1,
                                        "_source": COPY_FIELDS,
                                        "sort": FIRST_PUBLISHED,
                                    }
                                },
                            },
                        },
                    },
                }
            },
        }
    if not aggs:
        return None
    return {"size": 0, "query": body["query"], "aggs": aggs}


def add_details(
    result: SearchResult, params: SearchParams, details: Any, first: Any, sample: StorySample | None = None
) -> None:
    """The date facet and each hit's story, from the answer to ``details_request``."""
    aggs = details.get("aggregations", {})
    counted = _unsampled(aggs)
    dates = _unsampled(first.get("aggregations", {})).get(PUBLISHED_RANGE, {})
    if PUBLISHED in counted and dates.get("count"):
        _, name = date_interval(dates["min"], dates["max"])
        result.facets[PUBLISHED] = {
            datetime.fromtimestamp(b["key"] / 1000, tz=timezone.utc).strftime(name): _count(b, params, sample)
            for b in counted[PUBLISHED].get("buckets", [])
        }
    groups = {b["key"]: b for b in aggs.get(VERSIONS, {}).get("in", {}).get("stories", {}).get("buckets", [])}
    for hit in result.hits:
        group = groups.get(hit.story_id)
        if group is None:
            continue
        hit.versions = max(1, int(group["doc_count"]))
        # A cardinality estimate never exceeds the documents it saw.
        hit.sources = min(int(group["sources"]["value"]), hit.versions)
        firsts = group["first"]["hits"]["hits"]
        hit.first_seen = bool(firsts) and firsts[0]["_id"] == hit.id
        others = [h for h in firsts if h["_id"] != hit.id][:VERSIONS_SHOWN]
        hit.other_versions = [Copy.model_validate({**h["_source"], "id": h["_id"]}) for h in others]


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


def search(
    es: Elasticsearch, alias: str, params: SearchParams, *, highlight_chars: int | None = None
) -> SearchResult:
    """``highlight_chars``: see ``build_search`` (default: the process's setting)."""
    subfields = text_subfields(es, alias)

    def run(syntax: str, of: SearchParams) -> tuple[dict[str, Any], StorySample | None, Any]:
        # How many documents match decides whether the counts are made on a sample: a count
        # is cheap (Lucene reads most of it from its term statistics), counting facets is not.
        matches = int(es.count(index=alias, query=search_query(of, subfields, syntax))["count"])
        sample = configured_sample(matches, get_settings())
        body = build_search(of, subfields, syntax=syntax, highlight_chars=highlight_chars, sample=sample)
        return body, sample, es.search(index=alias, **body)

    try:
        body, sample, response = run("query_string", params)
    except BadRequestError as exc:
        if not classify(exc.info).syntax:
            raise _refused(exc, params) from None
        # Not valid query-string syntax (say an unbalanced quote or bracket): fall back to
        # the forgiving simple syntax rather than failing the person's search.
        log.info("query %r is not valid query_string syntax; using simple_query_string", params.query)
        simple = params.model_copy(update={"query": to_simple_syntax(params.query)})
        try:
            body, sample, response = run("simple", simple)
        except BadRequestError as again:
            raise _refused(again, params) from None
    result = to_result(response, params, sample)
    details = details_request(params, body, response, result.hits, sample)
    if details is not None:
        try:
            answer = es.search(index=alias, **details)
        except BadRequestError as exc:
            raise _refused(exc, params) from None
        add_details(result, params, answer, response, sample)
    return result


def _refused(exc: BadRequestError, params: SearchParams) -> Exception:
    """Elasticsearch refused a search that passed our checks. Whose fault it is comes from its
    error's types (``errors.classify``): the query's -> ``SearchInputError`` saying what to
    change in our words; anything else (a document, the index, the cluster) -> ``ArchiveFailure``,
    which never blames the query. Elasticsearch's own message goes to the log."""
    found = classify(exc.info)
    log.warning(
        "Elasticsearch refused the search for %r (%s): %s",
        params.query[:200],
        ", ".join(sorted(c.type for c in found.root_causes)) or "no error body",
        _reason(exc),
    )
    if found.blame == "query":
        return query_refusal(found)
    return ArchiveFailure(exc, found)


def to_simple_syntax(text: str) -> str:
    """Map the boolean words of query-string syntax to simple_query_string's operators."""
    words = {"AND": "+", "OR": "|", "NOT": "-"}
    return " ".join(words.get(word, word) for word in text.split())


def to_result(response: Any, params: SearchParams, sample: StorySample | None = None) -> SearchResult:
    aggs = _unsampled(response.get("aggregations", {}))
    matches = int(response["hits"]["total"]["value"])
    if params.collapse:
        stories = int(aggs.get("distinct_stories", {}).get("value", 0))
        # Never more stories than matching documents (an estimate may overshoot).
        total = min(sample.scale(stories) if sample else stories, matches)
    else:
        total = matches
    hits = [_hit(raw) for raw in response["hits"]["hits"]]
    facets = {}
    for field in FACET_FIELDS:
        counts = {
            str(b.get("key_as_string", b["key"])): _count(b, params, sample)
            for b in aggs.get(field, {}).get("buckets", [])
        }
        # Stable order by what is shown: most first, then by name.
        facets[field] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    shards = response.get("_shards", {})
    partial = bool(shards.get("failed")) or bool(response.get("timed_out"))
    if partial:
        log.warning(
            "search answered from part of the archive only: %s of %s shards failed",
            shards.get("failed"),
            shards.get("total"),
        )
    return SearchResult(
        total=total,
        hits=hits,
        facets=facets,
        page=params.page,
        size=params.size,
        partial=partial,
        sampled=sample.fraction if sample else None,
        matches=matches,
    )


def _count(bucket: dict[str, Any], params: SearchParams, sample: StorySample | None = None) -> int:
    if params.collapse and DISTINCT in bucket:
        # A cardinality estimate never exceeds the documents it saw.
        count = min(int(bucket[DISTINCT]["value"]), int(bucket["doc_count"]))
    else:
        count = int(bucket["doc_count"])
    return sample.scale(count) if sample else count


def _hit(raw: dict[str, Any]) -> SearchHit:
    highlight: dict[str, list[str]] = {}
    for field, fragments in raw.get("highlight", {}).items():
        base = field.split(".", 1)[0]  # body.en -> body
        merged = highlight.setdefault(base, [])
        merged.extend(f for f in fragments if f not in merged)
    return SearchHit.model_validate(
        {**raw.get("_source", {}), "id": raw["_id"], "score": raw.get("_score"), "highlight": highlight}
    )


RELATED_SHOWN = 5
RELATED_CANDIDATES = 100  # HNSW candidates per shard: more finds the true nearest more often


def related(
    es: Elasticsearch, alias: str, document: ArticleDocument, k: int = RELATED_SHOWN
) -> list[Related]:
    """The ``k`` articles nearest ``document`` by meaning ("more on this"), none of its own
    story (those are versions, shown on the story page). Empty when it has no vector."""
    if not document.vector:
        return []
    exclude: list[dict[str, Any]] = [{"ids": {"values": [document.id]}}]
    if document.story_id:
        exclude.append({"term": {"story_id": document.story_id}})
    found = es.search(
        index=alias,
        knn={
            "field": "vector",
            "query_vector": document.vector,
            "k": k,
            "num_candidates": max(RELATED_CANDIDATES, k),
            "filter": {"bool": {"must_not": exclude}},
        },
        size=k,
        source={"includes": ["title", "source", "source_path", "published_at", "story_id"]},
    )
    return [
        Related.model_validate({**hit["_source"], "id": hit["_id"], "score": hit["_score"]})
        for hit in found["hits"]["hits"]
    ]


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

"""What went wrong with a search, and whose it is.

``SearchInputError`` is bad input from a person: raised by the parameter and query checks,
shown by the API as a 422 and by ``dateline search`` as an exit status 2, with the same
sentence.

When Elasticsearch refuses a search (HTTP 400), ``classify`` reads its error's ``type``s
(``root_cause`` and every ``caused_by`` below the shards' failures) to say whose fault it is:
the query's (it does not parse, or expands to too much) or the archive's (a document too long
to highlight, a facet with too many buckets, anything else a document, the index or the
cluster causes). Only the first is the person's to fix; blaming the query for the second sends
them rewriting a search that was fine (one 1.3 MB article once made every search matching it
say "write plain words").
"""

from __future__ import annotations

from typing import Any, Literal

from elasticsearch import ApiError
from pydantic import BaseModel

# Root-cause types that mean "this query cannot be run as written". Anything else is the
# archive's: Elasticsearch's illegal_argument_exception in particular is raised for documents
# (highlight offsets), mappings (fielddata) and index settings alike, so it never blames the query.
QUERY_TYPES = frozenset(
    {
        "query_shard_exception",  # Failed to parse query / failed to create query
        "parsing_exception",
        "parse_exception",
        "query_parsing_exception",
        "too_complex_to_determinize_exception",
        "too_many_clauses",
        "too_many_nested_clauses",
    }
)
PARSE_TYPES = frozenset({"parse_exception", "parsing_exception", "query_parsing_exception"})
DETERMINIZE_TYPES = frozenset({"too_complex_to_determinize_exception"})
CLAUSE_TYPES = frozenset({"too_many_clauses", "too_many_nested_clauses"})


class SearchInputError(ValueError):
    """Bad input from a person: the message says what is wrong and how to write it."""


class Cause(BaseModel):
    type: str
    reason: str = ""


class Classified(BaseModel):
    """Elasticsearch's refusal of a search, read from its error body."""

    blame: Literal["query", "archive"]
    root_causes: list[Cause]
    types: frozenset[str]  # every type in the error tree (root causes, shard failures, caused_by)

    @property
    def syntax(self) -> bool:
        """The query text does not parse (query_string syntax): worth retrying as simple syntax."""
        return self.blame == "query" and bool(self.types & PARSE_TYPES)

    def first_reason(self) -> str:
        return next((c.reason for c in self.root_causes if c.reason), "")


def _error_of(info: object) -> dict[str, Any]:
    error = info.get("error") if isinstance(info, dict) else None
    return error if isinstance(error, dict) else {}


def _walk(node: object, found: list[Cause]) -> None:
    """Every error object under ``node``: itself, its root causes, shard failures and causes."""
    if not isinstance(node, dict):
        return
    if isinstance(node.get("type"), str):
        found.append(Cause(type=node["type"], reason=str(node.get("reason") or "")))
    for cause in node.get("root_cause") or []:
        _walk(cause, found)
    for shard in node.get("failed_shards") or []:
        if isinstance(shard, dict):
            _walk(shard.get("reason"), found)
    _walk(node.get("caused_by"), found)


def classify(info: object) -> Classified:
    """Whose fault Elasticsearch's error body ``info`` (``ApiError.info`` / ``.body``) is."""
    error = _error_of(info)
    roots = [
        Cause(type=str(c.get("type", "")), reason=str(c.get("reason") or ""))
        for c in error.get("root_cause") or []
        if isinstance(c, dict)
    ]
    if not roots and isinstance(error.get("type"), str):
        roots = [Cause(type=error["type"], reason=str(error.get("reason") or ""))]
    tree: list[Cause] = []
    _walk(error, tree)
    types = frozenset(c.type for c in tree)
    blame: Literal["query", "archive"] = (
        "query" if roots and all(c.type in QUERY_TYPES for c in roots) else "archive"
    )
    return Classified(blame=blame, root_causes=roots, types=types)


def query_refusal(found: Classified) -> SearchInputError:
    """What the person should change, in our words (never Elasticsearch's parser internals)."""
    if found.types & CLAUSE_TYPES:
        return SearchInputError(
            "the query expands to too many terms for the archive; use fewer words, wildcards or fields"
        )
    if found.types & DETERMINIZE_TYPES:
        return SearchInputError(
            "a wildcard in the query is too complex; write more letters before * or ?, or use fewer of them"
        )
    return SearchInputError(
        'the archive cannot run this query; write plain words, "quoted phrases", '
        "AND / OR / NOT and field:value"
    )


def archive_cause(found: Classified) -> str:
    """The archive's failure in words for a person, with what an operator can do about it."""
    types = {c.type for c in found.root_causes} | set(found.types)
    reason = found.first_reason()
    if "max_analyzed_offset" in reason:
        return (
            "a matching article is too long to highlight (over the index's "
            "index.highlight.max_analyzed_offset characters); set DATELINE_HIGHLIGHT_MAX_CHARS "
            "below that limit and restart the API"
        )
    if "too_many_buckets_exception" in types:
        return "a facet or the date histogram has more buckets than the cluster's search.max_buckets allows"
    if "circuit_breaking_exception" in types:
        return (
            "Elasticsearch is short of memory for this search (a circuit breaker tripped); try again shortly"
        )
    # The kind of failure in words (its class name's suffix is Java's, not the reader's).
    kind = found.root_causes[0].type if found.root_causes else "unknown"
    words = kind.removesuffix("_exception").replace("_", " ")
    return f"Elasticsearch could not answer it ({words}); its log and the API's have the details"


class ArchiveFailure(ApiError):
    """Elasticsearch refused a search for a reason of the archive's (a document, the index,
    the cluster), not the query's: shown as a server error that never blames the query.

    An ``ApiError``, so every caller that handles Elasticsearch's errors handles this one too;
    ``cause`` says what failed in words (Elasticsearch's own message goes to the log)."""

    def __init__(self, exc: ApiError, found: Classified):
        super().__init__(exc.message, exc.meta, exc.body, getattr(exc, "errors", ()))
        self.classified = found
        self.cause = archive_cause(found)

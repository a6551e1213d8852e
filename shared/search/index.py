"""Creating the Dateline index and reading where its alias points.

``ensure_index`` is called by every process that writes or searches at start-up; it is
idempotent and safe when several processes race: the template write never downgrades, and
the first version is created together with its alias in one request, so exactly one
process wins and the others find the alias.
"""

from __future__ import annotations

import logging

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from pydantic import BaseModel

from shared.search.template import (
    TEMPLATE_VERSION,
    index_generation,
    index_pattern,
    put_template,
    versioned_index,
)
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)


class IndexSetupError(RuntimeError):
    """The cluster holds something in the way of the Dateline index (say what to do)."""


def alias_indices(es: Elasticsearch, alias: str) -> dict[str, bool]:
    """Concrete indices behind ``alias`` -> whether each is the write index."""
    try:
        found = es.indices.get_alias(name=alias)
    except NotFoundError:
        return {}
    result: dict[str, bool] = {}
    for index, body in found.items():
        meta = body.get("aliases", {}).get(alias, {})
        result[index] = bool(meta.get("is_write_index", len(found) == 1))
    return result


def write_index(es: Elasticsearch, alias: str) -> str | None:
    indices = alias_indices(es, alias)
    writers = [name for name, is_writer in indices.items() if is_writer]
    return writers[0] if writers else None


def existing_versions(es: Elasticsearch, alias: str) -> dict[str, int]:
    """Every ``<alias>-vN`` index that exists, name -> N."""
    found = es.indices.get(index=index_pattern(alias), allow_no_indices=True, expand_wildcards="all")
    versions = {name: index_generation(alias, name) for name in found}
    return {name: n for name, n in versions.items() if n is not None}


def ensure_index(
    es: Elasticsearch, alias: str | None = None, settings: Settings | None = None
) -> str:
    """Make sure template, first index version and alias exist; returns the write index."""
    settings = settings or get_settings()
    alias = alias or settings.index
    put_template(es, alias, settings)

    current = write_index(es, alias)
    if current:
        return current
    if es.indices.exists(index=alias) and not alias_indices(es, alias):
        raise IndexSetupError(
            f"Elasticsearch has an index named {alias!r} (not an alias), probably created by a "
            "write before Dateline set up its index. Delete it (DELETE /" + alias + ") or set "
            "DATELINE_INDEX to another name, then start again."
        )

    versions = existing_versions(es, alias)
    if versions:
        # Versions exist but lost their alias (e.g. removed by hand): point it at the newest.
        newest = max(versions, key=versions.__getitem__)
        log.warning("alias %s was missing; pointing it at %s", alias, newest)
        es.indices.update_aliases(
            actions=[{"add": {"index": newest, "alias": alias, "is_write_index": True}}]
        )
        return newest

    first = versioned_index(alias, 1)
    try:
        es.indices.create(index=first, aliases={alias: {"is_write_index": True}})
        log.info("created index %s (template v%s) behind alias %s", first, TEMPLATE_VERSION, alias)
    except ApiError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
        # Another process won the race; it created the alias in the same request.
    return write_index(es, alias) or first


class IndexStatus(BaseModel):
    alias: str
    index: str | None
    generation: int | None
    template_version: int | None
    docs: int
    other_versions: list[str]


def index_status(es: Elasticsearch, alias: str) -> IndexStatus:
    """Where the alias points and how many documents it holds (cheap: cat-level calls)."""
    index = write_index(es, alias)
    versions = existing_versions(es, alias)
    if index is None:
        return IndexStatus(
            alias=alias, index=None, generation=None, template_version=None, docs=0,
            other_versions=sorted(versions),
        )
    meta = es.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    docs = int(es.count(index=alias)["count"])
    return IndexStatus(
        alias=alias,
        index=index,
        generation=index_generation(alias, index),
        template_version=meta.get("template_version"),
        docs=docs,
        other_versions=sorted(name for name in versions if name != index),
    )

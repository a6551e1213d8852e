"""Creating the Dateline index and reading where its alias points.

``ensure_index`` is called by every process that writes or searches at start-up; it is
idempotent and safe when several processes race: the template write never downgrades, and
the first version is created together with its alias in one request, so exactly one
process wins and the others find the alias.
"""

from __future__ import annotations

import logging
from typing import Any

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


def ensure_index(es: Elasticsearch, alias: str | None = None, settings: Settings | None = None) -> str:
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


class ClusterNode(BaseModel):
    name: str
    roles: str  # Elasticsearch's letters: d data, m master-eligible, i ingest ...
    master: bool  # the elected master
    address: str  # where it answers HTTP


class ClusterHealth(BaseModel):
    """The cluster as ``_cluster/health`` and ``_cat/nodes`` see it, and what it means."""

    name: str
    status: str  # green: every shard copy placed; yellow: replicas missing; red: primaries missing
    node_count: int  # members of the cluster, as its master sees them
    nodes: list[ClusterNode]  # the members that answered just now
    data_nodes: int
    active_shards: int
    unassigned_shards: int
    initializing_shards: int
    relocating_shards: int
    active_shards_percent: float
    index_status: str | None = None  # the health of the index behind the alias alone
    replicas: int | None = None  # replicas configured for that index
    advice: str = ""


def cluster_health(es: Elasticsearch, index: str | None = None) -> ClusterHealth:
    health = es.cluster.health()
    # format=json: a list of rows (the client's type says text, which it is without it).
    rows: list[dict[str, Any]] = es.cat.nodes(format="json", h="name,node.role,master,ip,http_address").body  # type: ignore[assignment]
    nodes = [
        ClusterNode(
            name=str(row.get("name")),
            roles=str(row.get("node.role") or ""),
            master=row.get("master") == "*",
            address=str(row.get("http_address") or row.get("ip") or ""),
        )
        for row in rows
    ]
    index_health = replicas = None
    if index is not None:
        index_health = str(es.cluster.health(index=index)["status"])
        settings = es.indices.get_settings(index=index, name="index.number_of_replicas")
        replicas = int(settings[index]["settings"]["index"]["number_of_replicas"])
    found = ClusterHealth(
        name=str(health["cluster_name"]),
        status=str(health["status"]),
        node_count=int(health["number_of_nodes"]),
        nodes=sorted(nodes, key=lambda n: n.name),
        data_nodes=int(health["number_of_data_nodes"]),
        active_shards=int(health["active_shards"]),
        unassigned_shards=int(health["unassigned_shards"]),
        initializing_shards=int(health["initializing_shards"]),
        relocating_shards=int(health["relocating_shards"]),
        active_shards_percent=float(health["active_shards_percent_as_number"]),
        index_status=index_health,
        replicas=replicas,
    )
    found.advice = _advice(found)
    return found


def _advice(health: ClusterHealth) -> str:
    """What the colour means for the archive, and what to do."""
    if health.status == "red":
        return (
            "some primary shards are unassigned: part of the archive cannot be searched or written "
            "until the node holding it returns (the indexer keeps what it could not write and retries)"
        )
    if health.replicas is not None and health.replicas > health.data_nodes - 1:
        return (
            f"{health.replicas} replica(s) per shard need {health.replicas + 1} data nodes, the cluster has "
            f"{health.data_nodes}: nothing is lost, but each shard has a single copy. Start more nodes, or set "
            "DATELINE_INDEX_REPLICAS lower"
        )
    if health.status == "yellow":
        return (
            "some replica shards are unassigned (a node left, or they are being rebuilt): nothing is lost "
            "and searches answer, but one more node lost could make data unavailable"
        )
    if health.initializing_shards or health.relocating_shards:
        return "shards are being copied between nodes"
    return ""


class IndexStatus(BaseModel):
    alias: str
    index: str | None
    generation: int | None
    template_version: int | None
    docs: int | None  # None: part of the index does not answer (a primary shard is lost)
    other_versions: list[str]
    cluster: ClusterHealth


def index_status(es: Elasticsearch, alias: str) -> IndexStatus:
    """Where the alias points, how many documents it holds, and the cluster's health."""
    index = write_index(es, alias)
    versions = existing_versions(es, alias)
    if index is None:
        return IndexStatus(
            alias=alias,
            index=None,
            generation=None,
            template_version=None,
            docs=0,
            other_versions=sorted(versions),
            cluster=cluster_health(es),
        )
    meta = es.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    try:
        docs: int | None = int(es.count(index=alias)["count"])
    except ApiError as exc:
        if exc.meta.status != 503:
            raise
        docs = None  # shards unavailable: the cluster's health below says why
    return IndexStatus(
        alias=alias,
        index=index,
        generation=index_generation(alias, index),
        template_version=meta.get("template_version"),
        docs=docs,
        other_versions=sorted(name for name in versions if name != index),
        cluster=cluster_health(es, index),
    )

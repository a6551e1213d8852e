"""The index audit: files the registry says are indexed, whose documents the index behind the
alias lacks (a new index name, a wiped or replaced index). The reconciler queues them again.

Cheap check first: the indices behind the alias are the ones audited last time, and the
index holds at least as many documents as the registry's indexed files have. Only when that
fails are the ids compared, with real-time multi-gets (``_source`` off) in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from shared.registry import FileRecord, Registry
from shared.search.index import alias_indices

ID_BATCH = 1000
RECORD_BATCH = 500


@dataclass
class Audit:
    alias: str
    indices: list[str]
    uuids: list[str]
    expected: int
    found: int
    checked_ids: bool = False
    missing: dict[str, FileRecord] = field(default_factory=dict)  # path -> record of a file to queue again
    missing_docs: int = 0


def indexed_files(registry: Registry) -> Iterator[FileRecord]:
    """Every file registered as indexed, read in batches."""
    cursor = 0
    while True:
        cursor, paths = registry.scan_state("indexed", cursor, RECORD_BATCH)
        for record in registry.get_many(paths).values():
            if record.state == "indexed":
                yield record
        if cursor == 0:
            return


def index_uuids(es: Elasticsearch, indices: list[str]) -> list[str]:
    if not indices:
        return []
    found = es.indices.get_settings(index=",".join(indices), name="index.uuid")
    return sorted(str(body["settings"]["index"]["uuid"]) for body in found.values())


def audit_index(es: Elasticsearch, registry: Registry, alias: str, known_uuids: list[str] | None) -> Audit:
    """Compare the registry's indexed files with the index behind ``alias``."""
    indices = sorted(alias_indices(es, alias))
    uuids = index_uuids(es, indices)
    files = list(indexed_files(registry))
    expected = sum(len(record.doc_ids) for record in files)
    found = int(es.count(index=alias)["count"]) if indices else 0
    audit = Audit(alias=alias, indices=indices, uuids=uuids, expected=expected, found=found)
    if uuids == (known_uuids or []) and found >= expected:
        return audit
    if len(indices) > 1:
        return audit  # a migration is swapping indices: audit once it is done
    audit.checked_ids = True
    wanted = [(record, doc_id) for record in files for doc_id in record.doc_ids]
    for start in range(0, len(wanted), ID_BATCH):
        batch = wanted[start : start + ID_BATCH]
        present: dict[str, int] = {}
        if indices:
            reply = es.mget(index=indices[0], ids=[doc_id for _, doc_id in batch], source=False)
            present = {doc["_id"]: int(doc.get("_version", 0)) for doc in reply["docs"] if doc.get("found")}
        for record, doc_id in batch:
            # A document of an older revision than the registry's is missing its newer content.
            if present.get(doc_id, 0) < record.revision:
                audit.missing[record.path] = record
                audit.missing_docs += 1
    return audit

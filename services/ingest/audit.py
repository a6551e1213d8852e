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
    missing_files: int = 0  # every file found missing, kept in ``missing`` or not
    # Files found missing beyond ``keep``, by path only, so a file of several articles is
    # counted once. (Paths only: bounded by what is missing, not by the archive.)
    counted: set[str] = field(default_factory=set)


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


def audit_index(
    es: Elasticsearch, registry: Registry, alias: str, known_uuids: list[str] | None, keep: int | None = None
) -> Audit:
    """Compare the registry's indexed files with the index behind ``alias``.

    Pages through the registry and the index (``RECORD_BATCH`` records, ``ID_BATCH`` ids at a
    time) and keeps at most ``keep`` of the files it finds missing (all of them: None), while
    counting every one: its memory does not grow with the archive (a million indexed files
    held at once cost about a gigabyte, ``make bench-scale``)."""
    indices = sorted(alias_indices(es, alias))
    uuids = index_uuids(es, indices)
    expected = sum(len(record.doc_ids) for record in indexed_files(registry))
    found = int(es.count(index=alias)["count"]) if indices else 0
    audit = Audit(alias=alias, indices=indices, uuids=uuids, expected=expected, found=found)
    if uuids == (known_uuids or []) and found >= expected:
        return audit
    if len(indices) > 1:
        return audit  # a migration is swapping indices: audit once it is done
    audit.checked_ids = True
    batch: list[tuple[FileRecord, str]] = []
    for record in indexed_files(registry):
        batch += [(record, doc_id) for doc_id in record.doc_ids]
        if len(batch) >= ID_BATCH:
            _check_ids(es, indices, batch, audit, keep)
            batch = []
    if batch:
        _check_ids(es, indices, batch, audit, keep)
    return audit


def _check_ids(
    es: Elasticsearch, indices: list[str], batch: list[tuple[FileRecord, str]], audit: Audit, keep: int | None
) -> None:
    present: dict[str, int] = {}
    if indices:
        reply = es.mget(index=indices[0], ids=[doc_id for _, doc_id in batch], source=False)
        present = {doc["_id"]: int(doc.get("_version", 0)) for doc in reply["docs"] if doc.get("found")}
    for record, doc_id in batch:
        # A document of an older revision than the registry's is missing its newer content.
        if present.get(doc_id, 0) < record.revision:
            audit.missing_docs += 1
            if record.path in audit.missing or record.path in audit.counted:
                continue
            audit.missing_files += 1
            if keep is None or len(audit.missing) < keep:
                audit.missing[record.path] = record
            else:
                audit.counted.add(record.path)

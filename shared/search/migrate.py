"""Moving the archive to a new index version without a moment where search fails.

``migrate`` creates ``<alias>-v<N+1>`` from the current template, copies every document
into it (keeping each document's version, so revision ordering survives), swaps the alias
in one atomic ``_aliases`` call, then copies again whatever the indexer wrote to the old
index meanwhile (by ``indexed_at``). The copy runs from the client with scroll + bulk:
it reports progress and works on clusters without the reindex module. Documents deleted
from the old index during the copy are not carried over as deletions (the indexer's next
delete of that file removes them). Each document is brought up to the current schema on
the way (``upgrade_source``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from elasticsearch import Elasticsearch, helpers
from pydantic import BaseModel

from shared.schemas import STAGES, StageCode, text_story_id, utcnow
from shared.search.index import IndexSetupError, existing_versions, write_index
from shared.search.template import TEMPLATE_VERSION, put_template, versioned_index
from shared.settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (copied so far, total)
CHUNK = 500
CATCH_UP_MARGIN = timedelta(seconds=30)  # clock skew between indexer hosts and us


# What a stage skipped for before records had a code (template 1): each stage had one reason
# to skip, so the stage names it. A failure then is "error": which kind it was is not known.
_LEGACY_SKIP_CODES: dict[str, StageCode] = {"entities": "no_model_for_language", "summary": "no_text"}


def upgrade_source(source: dict[str, Any]) -> dict[str, Any]:
    """``source`` as the current schema writes it: stage records without a code get one
    (from the stage and status, never from the error's wording), and a document stored
    before stories existed gets the story of its text (search collapses on story_id, and
    Elasticsearch would collapse every document without one into one hit)."""
    if not source.get("story_id") and source.get("content_sha256"):
        source = {**source, "story_id": text_story_id(source["content_sha256"])}
    provenance = source.get("provenance") or {}
    for stage in STAGES:
        record = provenance.get(stage)
        if (
            not isinstance(record, dict)
            or record.get("code")
            or record.get("status") not in ("failed", "skipped")
        ):
            continue
        skipped = record["status"] == "skipped"
        record["code"] = _LEGACY_SKIP_CODES.get(stage, "error") if skipped else "error"
    return source


class MigrationResult(BaseModel):
    alias: str
    old_index: str
    new_index: str
    template_version: int
    copied: int
    caught_up: int
    old_deleted: bool


def _copy(
    es: Elasticsearch, source: str, dest: str, query: dict[str, Any], total: int, progress: Progress | None
) -> int:
    def actions() -> Iterator[dict[str, Any]]:
        for hit in helpers.scan(es, index=source, query={"query": query}, size=CHUNK, version=True):
            yield {
                "_op_type": "index",
                "_index": dest,
                "_id": hit["_id"],
                "_source": upgrade_source(hit["_source"]),
                "version": hit["_version"],
                "version_type": "external_gte",
            }

    copied = 0
    for ok, item in helpers.streaming_bulk(
        es, actions(), chunk_size=CHUNK, raise_on_error=False, max_retries=3
    ):
        status = next(iter(item.values())).get("status", 500)
        if not ok and status != 409:  # 409: the new index already has a newer version
            raise RuntimeError(f"copying into {dest} failed: {item}")
        copied += 1
        if progress and (copied % CHUNK == 0 or copied == total):
            progress(copied, total)
    return copied


def migrate(
    es: Elasticsearch,
    alias: str,
    settings: Settings,
    *,
    delete_old: bool = False,
    progress: Progress | None = None,
) -> MigrationResult:
    old = write_index(es, alias)
    if old is None:
        raise IndexSetupError(
            f"alias {alias!r} does not exist yet: nothing to migrate (the indexer creates it)"
        )
    put_template(es, alias, settings, force=True)
    versions = existing_versions(es, alias)
    new = versioned_index(alias, max(versions.values(), default=0) + 1)
    es.indices.create(index=new)
    log.info("migrating %s -> %s (template v%d)", old, new, TEMPLATE_VERSION)

    started = utcnow()
    es.indices.refresh(index=old)
    total = int(es.count(index=old)["count"])
    copied = _copy(es, old, new, {"match_all": {}}, total, progress)
    es.indices.refresh(index=new)

    # One request: there is never a moment without an index behind the alias.
    es.indices.update_aliases(
        actions=[
            {"remove": {"index": old, "alias": alias}},
            {"add": {"index": new, "alias": alias, "is_write_index": True}},
        ]
    )
    # Writes that reached the old index while we copied.
    es.indices.refresh(index=old)
    late = {"range": {"indexed_at": {"gte": (started - CATCH_UP_MARGIN).isoformat()}}}
    caught_up = _copy(es, old, new, late, 0, None)
    es.indices.refresh(index=new)

    if delete_old:
        es.indices.delete(index=old)
    return MigrationResult(
        alias=alias,
        old_index=old,
        new_index=new,
        template_version=TEMPLATE_VERSION,
        copied=copied,
        caught_up=caught_up,
        old_deleted=delete_old,
    )

"""A wiped index, then a new index name, over a registry that says every file is indexed:
the inbox must fill the index again by itself (it never did: the registry said done)."""

from __future__ import annotations

from shared.reconciliation import KEEP_ACTIONS, read_reconciliation
from shared.status import collect_status
from tests.integration.faults.conftest import (
    FAST_BOUNDS,
    assert_indexed_once,
    assert_status_settled,
    drop_articles,
    settled,
)
from tests.support.indices import drop_dateline_index
from tests.support.processes import wait_until

ARTICLES = 8


def test_a_wiped_or_new_index_fills_itself_from_the_inbox(make_stack):
    stack = make_stack(extra_env=FAST_BOUNDS)
    workers = stack.start_workers()
    processes = [*workers, stack.start_indexer(), stack.start_ingest()]
    paths = drop_articles(stack.inbox, ARTICLES)
    wait_until(
        lambda: settled(stack, paths) and stack.count() == ARTICLES,
        timeout=900,
        every=2,
        what="every file indexed",
        processes=processes,
    )

    # Wiped: the index and its alias deleted by hand.
    drop_dateline_index(stack.es, stack.alias)
    wait_until(
        lambda: stack.count() == ARTICLES and settled(stack, paths),
        timeout=900,
        every=2,
        what="the wiped index filled again",
        processes=processes,
    )
    assert_indexed_once(stack, paths)
    status = collect_status(stack.redis)
    assert status.reconciliation.totals.get("missing from the index") == ARTICLES
    # Which audit status shows last depends on timing (a later pass over the refilled index
    # only counts), so the audit's finding is read from its actions: every file, by name.
    found = read_reconciliation(stack.redis, recent=KEEP_ACTIONS).recent
    missing = {action.path for action in found if action.reason == "missing from the index"}
    assert missing == set(paths)

    # A new index name: the indexer and ingest (with its reconciler) start with it.
    old_alias = stack.alias
    stack.alias = stack.env["DATELINE_INDEX"] = f"{old_alias}-renamed"
    for process in processes[len(workers) :]:
        process.stop()
    processes = [*workers, stack.start_indexer(), stack.start_ingest()]
    try:
        wait_until(
            lambda: stack.count() == ARTICLES and settled(stack, paths),
            timeout=900,
            every=2,
            what="the new index filled from the inbox",
            processes=processes,
        )
        assert_indexed_once(stack, paths)
        assert collect_status(stack.redis).reconciliation.totals["missing from the index"] == 2 * ARTICLES
        assert_status_settled(stack)
    finally:
        drop_dateline_index(stack.es, old_alias)

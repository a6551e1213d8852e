"""Watches on a real stack: ingest, Celery workers, the indexer (killed with SIGKILL twice while
it works, restarted by supervisord) and ``dateline reprocess --stage entities`` that makes
entities appear. Each watch gets exactly one alert per matching text: none for the others, none
for copies, none twice across the kills, and the entity watches their alerts once reprocess
found the entities."""

from __future__ import annotations

import re
import shutil
import signal
from collections import Counter

from shared.schemas import ENTITY_TYPES
from shared.search.query import entity_values
from shared.watches.models import Alert, alert_index
from tests.integration.faults.conftest import FAST_BOUNDS, ONE_ARTICLE_PER_BATCH, indexed_files, settled
from tests.integration.test_end_to_end import SEED_FILES, _cli
from tests.support.paths import REPO_DIR
from tests.support.processes import wait_until

# Names the seed articles carry; which of them the tiny test model finds is its business:
# each watch is checked against what the index holds after reprocess.
ENTITY_NAMES = ["Taliban", "Islamabad", "United States", "Afghanistan", "Pakistan", "Kabul", "Khalilzad"]
SEEDS = len(SEED_FILES)  # five seed articles
COPIES = 2


def _alerts(stack) -> list[Alert]:
    index = alert_index(stack.alias)
    if not stack.es.indices.exists(index=index):
        return []
    stack.es.indices.refresh(index=index)
    hits = stack.es.search(index=index, size=1000, query={"match_all": {}})["hits"]["hits"]
    return [Alert.model_validate(h["_source"]) for h in hits]


def _has_entity(document: dict, name: str) -> bool:
    values = set(entity_values(name))
    return any(values & set(document["entities"].get(kind, [])) for kind in ENTITY_TYPES)


def test_watches_alert_once_across_kills_copies_and_reprocess(make_stack, ner_model_path, monkeypatch):
    missing = str(REPO_DIR / ".dateline" / "no-such-model.pt")
    stack = make_stack(ner_model=missing, extra_env={**FAST_BOUNDS, **ONE_ARTICLE_PER_BATCH})
    watches = {"taliban": ["taliban"], "nothing": ["zebra AND giraffe"]}
    for name in ENTITY_NAMES:
        watches[f"entity {name}"] = ["*", "--entity", name]
    for name, args in watches.items():
        made = _cli(stack, "watch", "add", name, *args)
        assert made.returncode == 0, made.stderr

    indexer = stack.start("indexer", "indexer", autorestart=True)
    workers = stack.start_workers()
    processes = [*workers, indexer, stack.start_ingest()]
    paths = []
    for seed in SEED_FILES:
        shutil.copy(seed, stack.inbox / seed.name)
        paths.append(seed.name)
    for seed in SEED_FILES[:COPIES]:  # the same text under another name: a copy
        shutil.copy(seed, stack.inbox / f"copy-{seed.name}")
        paths.append(f"copy-{seed.name}")
    for _ in range(2):
        done = indexed_files(stack)
        wait_until(
            lambda done=done: indexed_files(stack) > done,
            timeout=600,
            every=0.2,
            what="more articles indexed",
            processes=processes,
        )
        indexer.kill(signal.SIGKILL)  # supervisord starts it again
        wait_until(lambda: indexer.running, timeout=60, what="the indexer restarted")
    wait_until(
        lambda: settled(stack, paths), timeout=900, every=2, what="every file indexed", processes=processes
    )
    assert stack.count() == SEEDS + COPIES

    # The NER model is installed: the entity stage runs again and entities appear.
    for worker in workers:
        worker.stop()
    stack.env["DATELINE_NER_MODEL"] = str(ner_model_path)
    processes = [*stack.start_workers(), *processes[len(workers) :]]
    result = _cli(stack, "reprocess", "--stage", "entities", "--failed-only")
    assert result.returncode == 0, result.stderr

    def entities_filled() -> bool:
        docs = stack.documents()
        return len(docs) == SEEDS + COPIES and all(
            d["provenance"]["entities"]["status"] == "ok" for d in docs
        )

    wait_until(entities_filled, timeout=900, what="entities filled in by reprocess", processes=processes)
    # And once more over everything: the matches do not change, nothing new is raised.
    again = _cli(stack, "reprocess", "--stage", "entities")
    assert again.returncode == 0, again.stderr
    documents = stack.documents()

    def expected_alerts() -> dict[str, set[str]]:
        word = re.compile(r"\btaliban\b", re.IGNORECASE)
        expected: dict[str, set[str]] = {
            "taliban": {d["content_sha256"] for d in documents if word.search(d["title"] + " " + d["body"])}
        }
        for name in ENTITY_NAMES:
            found = {d["content_sha256"] for d in documents if _has_entity(d, name)}
            if found:
                expected[f"entity {name}"] = found
        return expected

    def alerted() -> dict[str, set[str]]:
        got: dict[str, set[str]] = {}
        for alert in _alerts(stack):
            got.setdefault(alert.watch_name, set()).add(alert.content_sha256)
        return got

    # The second reprocess drains through the indexer; the alerts must then be what the
    # index says matches, and stay so.
    wait_until(
        lambda: alerted() == expected_alerts(), timeout=600, every=2, what="the alerts", processes=processes
    )
    alerts = _alerts(stack)
    assert Counter((a.watch_name, a.content_sha256) for a in alerts).most_common(1)[0][1] == 1
    assert "nothing" not in alerted()
    assert any(name.startswith("entity ") for name in alerted()), "reprocess found none of the names"
    assert len({d["content_sha256"] for d in documents}) == SEEDS  # the copies are copies
    listed = _cli(stack, "watch", "alerts", "taliban", "--json", "--size", "100")
    assert listed.returncode == 0, listed.stderr

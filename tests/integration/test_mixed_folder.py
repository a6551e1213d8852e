"""The ingestion issue's "Done when", end to end: a large mixed folder dropped at once, and
files edited, renamed, deleted, fixed and dropped while ingest was down, all through the
real pipeline (ingest watcher, Celery workers, indexer, Elasticsearch, the CLI).

The registry-level rules behind each case are tested in test_ingest_pipeline.py; here the
question is what a user sees afterwards: documents in the index, failures in
``dateline status``, an untouched inbox, services still running.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from shared.heartbeat import read_heartbeats
from shared.registry import Registry
from tests.support.corpus import (
    CORPUS_WORD,
    IGNORED_WORD,
    MAX_FILE_MB,
    SECRET_WORD,
    Corpus,
    build_mixed_corpus,
    collapse,
)
from tests.support.paths import REPO_DIR
from tests.support.processes import ServiceProcess, wait_until
from tests.support.stack import Stack

SETTLE_TIMEOUT = 600  # stops a hung test only; the drop settles in a few minutes on 2 cores


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=REPO_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _cli_json(stack: Stack, *args: str) -> dict:
    result = _cli(stack, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _tree_state(root: Path) -> dict[str, tuple[str, str]]:
    """Every file under ``root`` (hidden ones too): its hash, or a link's target."""
    state = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in [*files, *(d for d in dirs if (Path(folder) / d).is_symlink())]:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                state[rel] = ("link", os.readlink(path))
            else:
                state[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return state


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class NotYet(str):
    """A falsy answer for ``wait_until`` that still says where things stand."""

    def __bool__(self) -> bool:
        return False


def _ingest_heartbeat(stack: Stack) -> dict | None:
    """The live ingest process's heartbeat: its pid and its details (counts, last rescan)."""
    beats = read_heartbeats(stack.redis, "ingest")
    return {"pid": beats[-1].pid, **beats[-1].details.model_dump(mode="json")} if beats else None


# --- 1. a large mixed drop ---------------------------------------------------------------


@pytest.fixture
def mixed(make_stack, tmp_path: Path) -> tuple[Stack, list[ServiceProcess], Corpus]:
    corpus = build_mixed_corpus(tmp_path / "prepared", tmp_path / "outside")
    stack = make_stack(extra_env={"DATELINE_MAX_FILE_MB": MAX_FILE_MB})
    processes = [*stack.start_workers(), stack.start_indexer(), stack.start_ingest()]
    return stack, processes, corpus


def test_large_mixed_drop_is_indexed_reported_and_left_untouched(mixed) -> None:
    stack, processes, corpus = mixed
    expected = {
        **_tree_state(corpus.root),
        **{f"{corpus.moved.name}/{rel}": v for rel, v in _tree_state(corpus.moved).items()},
    }
    assert len(expected) >= 200, "hundreds of files in one drop"

    # All at once: one tree copied in (symlinks as links), one outlet folder moved in whole.
    shutil.copytree(corpus.root, stack.inbox, symlinks=True, dirs_exist_ok=True)
    os.rename(corpus.moved, stack.inbox / corpus.moved.name)
    assert _tree_state(stack.inbox) == expected

    registry = Registry(stack.redis)
    articles = corpus.articles
    failure_keys = {(f.path, f.line) for f in corpus.failures}
    good_files, failed_files = corpus.article_files, corpus.failed_files

    def settled() -> bool | NotYet:
        counts = registry.counts()
        keys = {(f.path, f.line) for f in registry.failures()}
        done = (
            counts["queued"] == 0
            and counts["indexed"] == len(good_files)
            and counts["failed"] == len(failed_files)
            and keys >= failure_keys
            and stack.count() == len(articles)
        )
        return done or NotYet(
            f"{counts}, {stack.count()} docs, failures missing: "
            f"{failure_keys - keys}, unexpected: {keys - failure_keys}"
        )

    wait_until(
        settled,
        timeout=SETTLE_TIMEOUT,
        every=2,
        processes=processes,
        what=f"{len(articles)} articles from {len(good_files)} files indexed and "
        f"{len(failed_files)} files failed",
    )

    # Exactly one document per good article (JSON lists and JSON Lines count per article).
    documents = stack.documents()
    assert len(documents) == len(articles) == stack.count()
    by_key = {(d["source_path"], d["record"]): d for d in documents}
    assert set(by_key) == {(a.path, a.record) for a in articles}

    problems = []
    for article in articles:
        doc = by_key[(article.path, article.record)]
        body = collapse(doc["body"])
        checks = {
            "title": (doc["title"], article.title),
            "source": (doc["source"], article.source),
            "language": (doc["language"], "en"),
            "published_at": (_when(doc.get("published_at")), article.published_at),
            "dateline": (doc.get("dateline"), article.dateline),
        }
        problems += [
            (article.path, article.record, name, got, want)
            for name, (got, want) in checks.items()
            if got != want
        ]
        problems += [
            (article.path, article.record, "body lacks", text[:70], None)
            for text in article.has
            if text not in body
        ]
        problems += [
            (article.path, article.record, "body has", text, None)
            for text in article.lacks
            if text in doc["body"]
        ]
        if article.marker not in doc["body"] + doc["title"]:
            problems.append((article.path, article.record, "marker", article.marker, None))
    assert problems == [], f"{len(problems)} wrong field(s), first ones: {problems[:10]}"

    # Exact duplicates keep a document each, and share the content hash.
    for first, second in corpus.duplicates:
        a, b = by_key[(first, 0)], by_key[(second, 0)]
        assert a["_id"] != b["_id"]
        assert a["content_sha256"] == b["content_sha256"]
    assert len({d["content_sha256"] for d in documents}) == len(articles) - len(corpus.duplicates)

    # Searchable from the terminal: every article by the corpus word, one of each story when
    # collapsed; single articles by their own marker.
    ids: set[str] = set()
    for page in (1, 2):
        found = _cli_json(
            stack, "search", "--json", "--no-collapse", "--size", "100", "--page", str(page), CORPUS_WORD
        )
        assert found["total"] == len(articles)
        assert found["facets"]["language"] == {"en": len(articles)}  # without collapse, documents
        ids |= {hit["id"] for hit in found["hits"]}
    assert ids == {d["_id"] for d in documents}
    # Collapsed, one hit per story: exact copies share one, and the corpus's articles made
    # from one template are near-duplicates that share one too (the story index groups them).
    stories = {d["story_id"] for d in documents}
    for first, second in corpus.duplicates:
        assert by_key[(first, 0)]["story_id"] == by_key[(second, 0)]["story_id"]
    assert len(stories) <= len(articles) - len(corpus.duplicates)
    collapsed = _cli_json(stack, "search", "--json", CORPUS_WORD)
    assert collapsed["total"] == len(stories)
    # Collapsed, facets count what the hits show: each story once.
    assert collapsed["facets"]["language"] == {"en": len(stories)}
    for article in (articles[0], articles[-1], *[a for a in articles if a.path.endswith(".html")][:1]):
        found = _cli_json(stack, "search", "--json", article.marker)
        assert found["total"] == 1, article.marker
        (hit,) = found["hits"]
        assert (hit["title"], hit["source"], hit["source_path"]) == (
            article.title,
            article.source,
            article.path,
        )

    # Every bad file (and the bad JSON Lines line) is in `status` with a specific reason;
    # nothing else is.
    status = _cli_json(stack, "status", "--json")
    reported = {(f["path"], f["line"]): f["reason"] for f in status["failures"]}
    assert set(reported) == failure_keys
    for bad in corpus.failures:
        reason = reported[(bad.path, bad.line)].lower()
        missing = [w for w in bad.words if w.lower() not in reason]
        assert not missing, (bad.path, bad.kind, missing, reason)
    assert status["files"]["indexed"] == len(good_files)
    assert status["files"]["failed"] == len(failed_files)
    assert status["queued"] == 0 and status["dead_letters"] == 0

    # Ignored files (and the symlink's target) appear nowhere.
    assert not set(corpus.ignored) & registry.paths()
    for word in (IGNORED_WORD, SECRET_WORD):
        assert _cli_json(stack, "search", "--json", "--no-collapse", word)["total"] == 0
    assert not any(IGNORED_WORD in d["body"] or SECRET_WORD in d["body"] for d in documents)

    # The inbox is byte for byte as dropped, and every service is still running.
    assert _tree_state(stack.inbox) == expected
    assert [p.name for p in processes if not p.running] == []


# --- 2. the lifecycle of files through the whole pipeline --------------------------------


def _article(title: str, marker: str, extra: str = "") -> str:
    return (
        f"{title}\n\nKARACHI – The {marker} report on the port expansion was presented to "
        f"the provincial cabinet on Monday, officials said. {extra}\n\nThe Sindh government "
        "said the new terminal would double the port's capacity by 2030, and traders "
        "welcomed the decision after months of delays.\n"
    )


def _docs_by_path(stack: Stack) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for doc in stack.documents():
        found.setdefault(doc["source_path"], []).append(doc)
    return found


def _versions(stack: Stack) -> dict[str, tuple[int, str]]:
    stack.es.indices.refresh(index=stack.alias)
    hits = stack.es.search(index=stack.alias, size=1000, version=True, query={"match_all": {}})["hits"][
        "hits"
    ]
    return {h["_id"]: (h["_version"], h["_source"]["indexed_at"]) for h in hits}


def test_edit_rename_delete_fix_and_restart_through_the_pipeline(make_stack) -> None:
    stack = make_stack(extra_env={"DATELINE_HEARTBEAT_SECONDS": "1"})
    workers = [*stack.start_workers(), stack.start_indexer()]
    ingest = stack.start_ingest()
    processes = [*workers, ingest]
    inbox = stack.inbox
    registry = Registry(stack.redis)
    (inbox / "Reuters").mkdir()
    files = {
        "Reuters/edit-me.txt": _article("Port expansion plan unveiled", "lcedit"),
        "Reuters/rename-me.txt": _article("Harbour dredging begins", "lcrename"),
        "Reuters/delete-me.txt": _article("Customs office relocates", "lcdelete"),
        "Reuters/stays.txt": _article("Fishing fleet returns", "lcstays"),
    }
    for rel, text in files.items():
        (inbox / rel).write_text(text, encoding="utf-8")
    (inbox / "Reuters/fix-me.json").write_text('{"title": "Late budget", "body": "The bud')

    def failure_paths() -> set[str]:
        return {f["path"] for f in _cli_json(stack, "status", "--json")["failures"]}

    wait_until(
        lambda: stack.count() == 4 and registry.counts()["indexed"] == 4,
        timeout=600,
        what="four articles indexed",
        processes=processes,
    )
    wait_until(
        lambda: failure_paths() == {"Reuters/fix-me.json"},
        timeout=120,
        what="the bad JSON reported",
        processes=processes,
    )
    first = {path: docs for path, docs in _docs_by_path(stack).items()}
    assert set(first) == set(files) and all(len(d) == 1 for d in first.values())

    # Edited in place: the same document, with the new text.
    edited_id = first["Reuters/edit-me.txt"][0]["_id"]
    (inbox / "Reuters/edit-me.txt").write_text(
        _article("Port expansion plan revised", "lcedit", "The plan was revised on Friday."), encoding="utf-8"
    )

    def edited() -> bool:
        docs = _docs_by_path(stack).get("Reuters/edit-me.txt", [])
        return len(docs) == 1 and "revised on Friday" in docs[0]["body"]

    wait_until(edited, timeout=600, what="the edited file's document updated", processes=processes)
    (doc,) = _docs_by_path(stack)["Reuters/edit-me.txt"]
    assert doc["_id"] == edited_id and doc["title"] == "Port expansion plan revised"
    assert stack.count() == 4

    # Renamed inside the inbox: one document, under the new name only.
    (inbox / "Dawn").mkdir()
    os.rename(inbox / "Reuters/rename-me.txt", inbox / "Dawn/renamed.txt")

    def renamed() -> bool:
        by_path = _docs_by_path(stack)
        return (
            "Reuters/rename-me.txt" not in by_path
            and len(by_path.get("Dawn/renamed.txt", [])) == 1
            and stack.count() == 4
        )

    wait_until(renamed, timeout=600, what="the renamed file's document moved", processes=processes)
    (doc,) = _docs_by_path(stack)["Dawn/renamed.txt"]
    assert doc["source"] == "Dawn" and "lcrename" in doc["body"]
    assert _cli_json(stack, "search", "--json", "--no-collapse", "lcrename")["total"] == 1

    # Deleted (on_delete=remove by default): its document goes.
    (inbox / "Reuters/delete-me.txt").unlink()
    wait_until(
        lambda: "Reuters/delete-me.txt" not in _docs_by_path(stack) and stack.count() == 3,
        timeout=600,
        what="the deleted file's document removed",
        processes=processes,
    )
    assert _cli_json(stack, "search", "--json", "lcdelete")["total"] == 0

    # A bad file fixed with new content: its failure goes, its article comes.
    (inbox / "Reuters/fix-me.json").write_text(
        json.dumps(
            {
                "headline": "Late budget passed",
                "articleBody": "The lcfixed budget was passed by "
                "the provincial assembly on Tuesday after a week of debate, officials said.",
            }
        )
    )
    wait_until(
        lambda: stack.count() == 4 and failure_paths() == set(),
        timeout=600,
        what="the fixed file indexed and its failure cleared",
        processes=processes,
    )
    (hit,) = _cli_json(stack, "search", "--json", "lcfixed")["hits"]
    assert hit["title"] == "Late budget passed" and hit["source_path"] == "Reuters/fix-me.json"
    wait_until(
        lambda: registry.counts() == {"queued": 0, "indexed": 4, "failed": 0, "deleted": 0},
        timeout=600,
        what="every file indexed",
        processes=processes,
    )

    # Restart: unchanged files are not queued again; a file dropped meanwhile is found.
    revisions = {p: registry.get(p).revision for p in registry.paths()}  # type: ignore[union-attr]
    versions = _versions(stack)
    ingest.stop()
    assert not ingest.running
    (inbox / "Dawn/while-down.txt").write_text(_article("Ferry service resumes", "lcdown"), encoding="utf-8")
    ingest = stack.start_ingest()
    processes = [*workers, ingest]
    wait_until(
        lambda: len(_docs_by_path(stack).get("Dawn/while-down.txt", [])) == 1,
        timeout=600,
        what="the file dropped while ingest was down indexed",
        processes=processes,
    )
    indexed_at = datetime.now().astimezone()

    def rescanned_since() -> dict | None:
        beat = _ingest_heartbeat(stack)
        if not beat or beat["pid"] != ingest.process.pid or not beat["last_rescan"]:
            return None
        return beat if _when(beat["last_rescan"]) > indexed_at else None

    # Another full rescan after that: it would have re-queued anything it thought changed.
    beat = wait_until(rescanned_since, timeout=120, what="a rescan after the restart", processes=processes)
    assert (beat["queued"], beat["failed"]) == (1, 0), beat
    assert {p: registry.get(p).revision for p in revisions} == revisions  # type: ignore[union-attr]
    after = _versions(stack)
    assert {i: after[i] for i in versions} == versions, "unchanged documents were not rewritten"
    assert stack.count() == 5
    assert all(p.running for p in processes)


def test_deleted_file_keeps_its_document_with_on_delete_keep(make_stack) -> None:
    stack = make_stack(extra_env={"DATELINE_ON_DELETE": "keep", "DATELINE_HEARTBEAT_SECONDS": "1"})
    processes = [*stack.start_workers(), stack.start_indexer(), stack.start_ingest()]
    registry = Registry(stack.redis)
    for name, marker in (("gone.txt", "lckeepgone"), ("here.txt", "lckeephere")):
        (stack.inbox / name).write_text(_article(f"Story {marker}", marker), encoding="utf-8")
    wait_until(
        lambda: stack.count() == 2 and registry.counts()["indexed"] == 2,
        timeout=600,
        what="two articles indexed",
        processes=processes,
    )

    (stack.inbox / "gone.txt").unlink()
    wait_until(
        lambda: "gone.txt" not in registry.paths(),
        timeout=120,
        what="the deletion noticed",
        processes=processes,
    )
    noticed = datetime.now().astimezone()
    # A later rescan, and nothing left for the indexer to do: the document stayed.
    wait_until(
        lambda: (b := _ingest_heartbeat(stack)) and b["last_rescan"] and _when(b["last_rescan"]) > noticed,
        timeout=120,
        what="a rescan after the deletion",
        processes=processes,
    )
    wait_until(
        lambda: _cli_json(stack, "status", "--json")["queued"] == 0,
        timeout=120,
        what="queues drained",
        processes=processes,
    )
    assert stack.count() == 2
    (hit,) = _cli_json(stack, "search", "--json", "lckeepgone")["hits"]
    assert hit["source_path"] == "gone.txt"
    assert _cli_json(stack, "status", "--json")["failures"] == []
    assert all(p.running for p in processes)

"""Issue 15's "Done when", end to end: a hostile corpus (a file of every kind that stopped,
lost or poisoned something) dropped between ordinary articles into a real stack (ingest,
Celery workers, indexer, Elasticsearch, the API), then checked as a user would: every
ordinary article indexed, every hostile file indexed or failed with its reason, ingest the same
process throughout, the inbox byte for byte as dropped, search answering for a word of every
indexed document, and the pages, in Chromium, running no script a file brought.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from shared.heartbeat import read_heartbeats
from shared.registry import Registry
from tests.support import hostile
from tests.support.browser import chromium
from tests.support.demo import start_api
from tests.support.paths import REPO_DIR
from tests.support.processes import wait_until
from tests.support.stack import Stack

SETTLE_TIMEOUT = 900  # stops a hung test only


def _cli_json(stack: Stack, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=REPO_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture(scope="module")
def dropped(redis_url: str, es_url: str, ner_model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import TEST_DATA_DIR

    folder = tmp_path_factory.mktemp("hostile")
    stack = Stack(
        redis_base_url=redis_url,
        es_url=es_url,
        log_dir=folder / "logs",
        run_dir=TEST_DATA_DIR / "hostile",
        ner_model=str(ner_model_path),
        inbox=folder / "inbox",
        extra_env={
            "DATELINE_MAX_ARTICLES_PER_FILE": str(hostile.MAX_ARTICLES_PER_FILE),
            "DATELINE_STABLE_SECONDS": "0.5",
        },
    )
    try:
        processes = [*stack.start_workers(), stack.start_indexer(), stack.start_ingest()]
        api, url = start_api(stack)
        processes.append(api)
        wait_until(
            lambda: read_heartbeats(stack.redis, "ingest"),
            timeout=120,
            what="ingest running",
            processes=processes,
        )
        ingest_pid = read_heartbeats(stack.redis, "ingest")[0].pid
        corpus = hostile.build()
        hostile.drop(corpus, stack.inbox)
        before = hostile.tree_state(stack.inbox)
        registry = Registry(stack.redis)

        def settled() -> bool:
            counts = registry.counts()
            return (
                counts["queued"] == 0
                and counts["indexed"] == len(corpus.indexed)
                and counts["failed"] == len(corpus.failed)
            )

        wait_until(
            settled,
            timeout=SETTLE_TIMEOUT,
            every=2,
            processes=processes,
            what=f"{len(corpus.indexed)} files indexed and {len(corpus.failed)} failed",
        )
        yield stack, corpus, url, before, ingest_pid, processes
    finally:
        stack.stop()


def test_every_file_ends_indexed_or_failed_with_its_reason(dropped) -> None:
    stack, corpus, _url, before, ingest_pid, processes = dropped
    registry = Registry(stack.redis)
    states = {path: registry.get(path).state for path in registry.paths()}  # type: ignore[union-attr]
    assert states == {
        f.source_path: "indexed" if f.indexed else "failed" for f in [*corpus.files, *corpus.ordinary]
    }

    status = _cli_json(stack, "status", "--json")
    reasons: dict[str, list[str]] = {}
    for failure in status["failures"]:
        reasons.setdefault(failure["path"], []).append(failure["reason"])
    for item in corpus.failed:
        text = " ".join(reasons.get(item.source_path, [])).lower()
        assert text and all(w.lower() in text for w in item.words), (item.name, text)
    # The partly bad file: its good article indexed, its 40 bad lines a handful of records.
    assert 1 <= len(reasons["many-bad-lines.jsonl"]) <= 6

    # Ingest was the same process throughout, and nothing is degraded by a file.
    assert [b.pid for b in read_heartbeats(stack.redis, "ingest")] == [ingest_pid]
    assert not [r for r in status["reasons"] if "failing" in r]
    assert [p.name for p in processes if not p.running] == []
    # The input is never touched.
    assert hostile.tree_state(stack.inbox) == before


def test_search_answers_for_every_indexed_document(dropped) -> None:
    stack, corpus, url, *_ = dropped
    for item in corpus.indexed:
        found = _cli_json(stack, "search", "--json", item.marker)
        assert found["total"] == 1, item.marker
        (hit,) = found["hits"]
        assert hit["source_path"] == item.source_path
        if item.title_has:
            assert item.title_has in hit["title"]
    # Words every seed shares match the 1.3 MB article too: search, facets and highlights work.
    for path in ("/?q=Taliban", "/search?q=Taliban", "/search?q=zqhugearticle", "/?q=zqhugearticle"):
        status, _headers, body = _get(url + path)
        assert status == 200, (path, body[:500])
    found = _cli_json(stack, "search", "--json", "--no-collapse", "--size", "100", "Taliban")
    assert found["total"] >= 2 and any(h["source_path"] == "huge-1.3MB.txt" for h in found["hits"])


def test_a_huge_article_gets_entities_from_its_start_and_says_how_far(dropped) -> None:
    from services.cli.reprocess import reprocess_query
    from shared.settings import Settings

    stack, _corpus, url, *_ = dropped
    by_path = {d["source_path"]: d for d in stack.documents()}
    huge = by_path["huge-1.3MB.txt"]
    record = huge["provenance"]["entities"]
    limit = Settings(_env_file=None).ner_max_chars
    # Tagged up to the limit (whole sentences), not given up on at the time limit.
    assert record["status"] == "ok", record
    assert 0.9 * limit < record["covered_chars"] <= limit < len(huge["body"])
    assert huge["entities"]["organization"] and huge["mentions"]
    assert max(m["end"] for m in huge["mentions"]) <= record["covered_chars"]
    assert all(
        d["provenance"]["entities"].get("covered_chars") is None
        for p, d in by_path.items()
        if p != "huge-1.3MB.txt"
    )
    # Status counts it (not a failure), by the same field.
    assert _cli_json(stack, "status", "--json")["entities_in_part"] == 1
    # `dateline reprocess --partial-only` finds it (and only it) through the mapped field.
    query = reprocess_query("entities", [], failed_only=False, partial_only=True)
    hits = stack.es.search(index=stack.alias, query=query, size=10)["hits"]["hits"]
    assert [h["_source"]["source_path"] for h in hits] == ["huge-1.3MB.txt"]
    # The article page says how far tagging went and how to get the rest.
    status, _headers, page = _get(f"{url}/article/{huge['_id']}")
    assert status == 200
    assert f"first {record['covered_chars']:,} of {len(huge['body']):,} characters" in page
    assert "--partial-only" in page


def test_documents_hold_only_repaired_text_and_web_links(dropped) -> None:
    stack, corpus, *_ = dropped
    for doc in stack.documents():
        for name in ("title", "body", "author", "source", "url", "dateline"):
            value = doc.get(name) or ""
            assert not any(0xD800 <= ord(c) <= 0xDFFF for c in value), (doc["source_path"], name)
            assert not any(ord(c) < 0x20 and c not in "\t\n\r" for c in value), (doc["source_path"], name)
        url = doc.get("url")
        assert url is None or urllib.parse.urlparse(url).scheme in ("http", "https")
    by_path = {d["source_path"]: d for d in stack.documents()}
    assert by_path["javascript-url.json"].get("url") is None
    kinds = {r["kind"] for r in by_path["javascript-url.json"]["provenance"]["repairs"]}
    assert "unsafe_url" in kinds
    assert by_path["surrogate-title.json"]["title"] == "Lone \ufffd surrogate title"
    assert by_path["long-date.json"].get("published_at") is None


def test_pages_run_no_script_a_file_brought(dropped) -> None:
    stack, corpus, url, *_ = dropped
    by_path = {d["source_path"]: d for d in stack.documents()}
    with chromium() as context:
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        csp_violations: list[str] = []
        page.on(
            "console",
            lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        pages = [f"/?q={w}" for w in ("zqjsurl", "zqmarkup", "zqsurrtitle", "Taliban")]
        pages += [
            f"/article/{by_path[p]['_id']}"
            for p in ("javascript-url.json", "markup-title.json", "surrogate-title.json", "huge-1.3MB.txt")
        ]
        for path in pages:
            response = page.goto(url + path)
            assert response is not None and response.status == 200, path
            headers = response.headers
            assert "frame-ancestors" in headers.get("content-security-policy", ""), path
            assert headers.get("x-content-type-options") == "nosniff", path
            assert headers.get("referrer-policy"), path
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
            assert not [
                h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:", "vbscript:"))
            ], path
            page.wait_for_timeout(200)  # an onerror handler would have fired by now
        assert dialogs == [] and csp_violations == []
        page.goto(url + f"/article/{by_path['markup-title.json']['_id']}")
        assert "<script>alert(1)</script>" in page.inner_text("h1")  # shown as text, not run

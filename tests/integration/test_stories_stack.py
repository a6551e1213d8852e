"""Stories on a real stack: two worker processes and two indexers (as on two hosts) take the
versions of one story, dropped into the inbox at once, and the four other seeds (different
stories on the same subject); the versions end in one story, `dateline search` and the search
page say "N versions from K sources", and the facets count the story once."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from fastapi.testclient import TestClient

from services.api.app import create_app
from services.stack.topology import PROGRAMS
from services.worker.story_evaluation import EDITS, _body
from shared.settings import Settings
from tests.support.cli import dateline
from tests.support.paths import SEEDS
from tests.support.processes import wait_until

SEED_FILES = sorted(SEEDS.glob("*.txt"))
# (edit, source, day of June 2024): five versions of the first seed from four sources.
VERSIONS = [
    ("original", "Reuters", 1),
    ("new headline", "Daily Star", 2),
    ("byline/agency prefix", "Herald", 2),
    ("boilerplate appended", "Tribune", 3),
    ("trimmed tail", "Herald", 4),
]
SOURCES = len({source for _, source, _ in VERSIONS})


def _versions(staging: Path) -> list[Path]:
    body = _body(SEED_FILES[0].read_text(encoding="utf-8"))
    rng = random.Random(17)
    files = []
    for n, (edit, source, day) in enumerate(VERSIONS):
        text = body if edit == "original" else EDITS[edit](body, rng)
        title = "Talks in Doha" if edit == "new headline" else "Taliban talks"
        path = staging / f"version-{n}.md"
        path.write_text(
            f"---\ntitle: {title}\nsource: {source}\ndate: 2024-06-0{day}\n---\n\n{text}\n", encoding="utf-8"
        )
        files.append(path)
    for seed in SEED_FILES[1:]:
        files.append(staging / seed.name)
        files[-1].write_bytes(seed.read_bytes())
    return files


def test_versions_dropped_at_once_on_two_workers_are_one_story(make_stack, tmp_path):
    stack = make_stack()
    worker = next(p for p in PROGRAMS if p.service == "worker")
    processes = [
        stack.start(worker.name, *worker.serve_args),
        stack.start(f"{worker.name}-2", *worker.serve_args),
        stack.start_indexer(),
        stack.start("indexer-2", "indexer"),
        stack.start_ingest(),
    ]
    staging = tmp_path / "staging"
    staging.mkdir()
    files = _versions(staging)
    for path in files:  # all at once: renames within one file system
        path.rename(stack.inbox / path.name)
    wait_until(
        lambda: stack.count() == len(files), timeout=900, what="every file indexed", processes=processes
    )

    documents = {Path(d["source_path"]).name: d for d in stack.documents()}
    versions = [documents[f"version-{n}.md"] for n in range(len(VERSIONS))]
    story = versions[0]["story_id"]
    assert story and all(d["story_id"] == story for d in versions)
    assert sorted(d["story_joined"] for d in versions) == [False] + [True] * (len(VERSIONS) - 1)
    others = {documents[seed.name]["story_id"] for seed in SEED_FILES[1:]}
    assert len(others) == len(SEED_FILES) - 1 and story not in others  # no two seeds in one story

    # The CLI: one hit for the story, "5 versions from 4 sources".
    found = dateline(stack.env, "search", "Taliban", "--size", "20")
    assert found.returncode == 0, found.stderr
    assert re.search(rf"{len(VERSIONS)} versions from {SOURCES} sources", found.stdout), found.stdout
    assert found.stdout.count("versions from") == 1  # the other hits are stories of one version
    body = json.loads(dateline(stack.env, "search", "Taliban", "--json", "--size", "20").stdout)
    assert body["total"] == len(SEED_FILES)  # one hit per story
    hit = next(h for h in body["hits"] if h["story_id"] == story)
    assert (hit["versions"], hit["sources"]) == (len(VERSIONS), SOURCES)
    # Facets count the story once: five English versions are one story.
    assert body["facets"]["language"] == {"en": len(SEED_FILES)}
    every = json.loads(
        dateline(stack.env, "search", "Taliban", "--json", "--no-collapse", "--size", "20").stdout
    )
    assert every["total"] == len(files) and every["facets"]["language"] == {"en": len(files)}

    # The search page.
    settings = Settings(
        _env_file=None, elasticsearch_url=stack.es_url, redis_url=stack.redis_url, index=stack.alias
    )
    page = TestClient(create_app(settings), base_url="http://127.0.0.1").get("/", params={"q": "Taliban"})
    assert page.status_code == 200
    assert page.text.count(f"{len(VERSIONS)} versions from {SOURCES} sources") == 1
    assert page.text.count(f'href="/story/{story}') == 1

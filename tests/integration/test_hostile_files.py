"""Per-file isolation in ingest, against a real Redis: whatever one file is called or is,
it ends queued or failed with a reason, and the files next to it are queued all the same.

Each test here failed on the main of 2026-12-02 (issue 15): a Latin-1 file name stopped every
rescan with UnicodeEncodeError, a named pipe was passed over in silence, one file's crash was
a failed step for the whole service, and the reconciler read any path a Redis record named.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
import redis

from services.ingest.admission import Refused, read_admitted
from services.ingest.paths import file_of
from services.ingest.processor import FileOutcome, Ingestor
from services.ingest.reconciler import build_reconciler
from services.ingest.watcher import Watcher
from shared.heartbeat import ServiceName
from shared.registry import FileRecord, Registry
from shared.service import FAILING_AFTER_STEPS, ServiceLoop
from shared.settings import get_settings
from shared.status import collect_status
from tests.support.paths import SEEDS

SEED_FILES = sorted(SEEDS.glob("*.txt"))


@pytest.fixture
def inbox(clean_settings: Callable[..., dict[str, str]]) -> Path:
    path = Path(clean_settings(STABLE_SECONDS="0")["DATELINE_INBOX"])
    path.mkdir()
    return path


def rclient() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url)


def registry() -> Registry:
    return Registry(rclient())


def drain(watcher: Watcher) -> None:
    """Rescan, then process stable files until nothing is pending (stable_seconds is 0 here)."""
    watcher.rescan()
    for _ in range(5):
        watcher.process_stable()


def test_a_file_name_that_is_not_utf8_is_ingested_escaped_and_the_others_too(inbox: Path) -> None:
    latin1 = os.path.join(os.fsencode(inbox), b"caf\xe9 \xabnews\xbb.txt")
    with open(latin1, "wb") as out:
        out.write(SEED_FILES[0].read_bytes())
    for seed in SEED_FILES[1:3]:
        shutil.copy(seed, inbox / seed.name)
    before = {name: (inbox / os.fsdecode(name)).read_bytes() for name in os.listdir(os.fsencode(inbox))}

    watcher = Watcher(Ingestor.from_settings())
    drain(watcher)

    paths = registry().paths()
    assert paths == {"caf\\xe9 \\xabnews\\xbb.txt", SEED_FILES[1].name, SEED_FILES[2].name}
    assert all(registry().get(p).state == "queued" for p in paths)  # type: ignore[union-attr]
    # The stored name leads back to the very file (the escape is reversible) ...
    assert os.fsencode(file_of("caf\\xe9 \\xabnews\\xbb.txt", inbox)) == latin1  # type: ignore[arg-type]
    # ... so a second rescan sees it unchanged instead of new or vanished.
    drain(watcher)
    assert watcher.details().queued == 3 and registry().paths() == paths
    after = {name: (inbox / os.fsdecode(name)).read_bytes() for name in os.listdir(os.fsencode(inbox))}
    assert after == before  # the input is never touched


def test_a_named_pipe_with_an_article_name_is_refused_without_opening_it(inbox: Path) -> None:
    os.mkfifo(inbox / "pipe.txt")
    shutil.copy(SEED_FILES[0], inbox / "ok.txt")
    watcher = Watcher(Ingestor.from_settings())
    drain(watcher)  # a blocking open would hang here (pytest-timeout ends the test)

    assert registry().get("ok.txt").state == "queued"  # type: ignore[union-attr]
    (failure,) = [f for f in registry().failures() if f.path == "pipe.txt"]
    assert "named pipe" in failure.reason and "regular file" in failure.reason
    drain(watcher)  # remembered: not reported again on the next rescan
    assert [f.path for f in registry().failures()] == ["pipe.txt"]


def test_a_path_replaced_by_a_pipe_after_admission_is_never_read(tmp_path: Path) -> None:
    pipe = tmp_path / "late.json"
    os.mkfifo(pipe)
    refused = read_admitted(pipe, get_settings())  # O_NONBLOCK: returns at once
    assert isinstance(refused, Refused) and "named pipe" in refused.reason


def test_a_file_that_grew_past_the_limit_after_admission_is_read_no_further(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATELINE_MAX_FILE_MB", "0.001")  # 1048 bytes
    get_settings.cache_clear()
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 5000)
    refused = read_admitted(big, get_settings())
    assert isinstance(refused, Refused) and "DATELINE_MAX_FILE_MB" in refused.reason
    get_settings.cache_clear()


class OneBadFile(Ingestor):
    """An ingestor with a bug that only one file triggers (what a lone surrogate in a name
    did): the guard must fail that file alone."""

    bad: ClassVar[str] = "bug.txt"

    def _process(self, path: Path, sp: str, root: Path | None, force: bool) -> FileOutcome:
        if sp == self.bad:
            raise UnicodeEncodeError("utf-8", "\udce9", 0, 1, "surrogates not allowed")
        return super()._process(path, sp, root, force)


def test_an_unexpected_error_fails_that_file_with_its_cause_and_the_others_go_on(inbox: Path) -> None:
    for name in ("a.txt", OneBadFile.bad, "z.txt"):
        shutil.copy(SEED_FILES[0] if name != "z.txt" else SEED_FILES[1], inbox / name)
    ingestor = OneBadFile.from_settings()
    watcher = Watcher(ingestor)
    drain(watcher)

    assert registry().get("a.txt").state == "queued"  # type: ignore[union-attr]
    assert registry().get("z.txt").state == "queued"  # type: ignore[union-attr]
    (failure,) = registry().failures()
    assert failure.path == OneBadFile.bad and failure.stage == "ingest"
    assert "UnicodeEncodeError" in failure.reason and "Touch or replace the file" in failure.reason
    assert watcher.steps_failed == 0  # the service's step did not fail: the file did
    drain(watcher)  # remembered by size and mtime: not retried (nor logged) on every rescan
    assert len(registry().failures()) == 1
    (inbox / OneBadFile.bad).write_text("changed now\n\nA new article body for the bug file, long enough.\n")
    OneBadFile.bad = "nothing"  # the bug is fixed; the changed file goes through
    try:
        drain(watcher)
    finally:
        OneBadFile.bad = "bug.txt"
    assert registry().get("bug.txt").state == "queued"  # type: ignore[union-attr]


def test_the_reconciler_never_reads_a_file_outside_the_inbox_named_by_a_record(
    inbox: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET\n\nThis text must never be read into the archive by the reconciler.\n")
    reconciler = build_reconciler(get_settings())
    for path in (str(secret), "../secret.txt"):
        record = FileRecord(
            path=path,
            size=1,
            mtime=1.0,
            sha256="0" * 64,
            state="queued",
            revision=1,
            articles=1,
            doc_ids=["x"],
        )
        registry().put(record)
        action = reconciler.requeue(record, "lost in a queue", "test")
        assert action.outcome == "marked failed: outside the inbox"
        assert registry().get(path).state == "failed"  # type: ignore[union-attr]
    assert rclient().llen("dateline.language") == 0  # nothing was read, so nothing was queued
    reasons = [f.reason for f in registry().failures()]
    assert all("outside the inbox" in r and "dateline ingest --force" in r for r in reasons)


class Stuck(ServiceLoop):
    """A service whose step fails until told otherwise (e.g. a bug on some state)."""

    service: ClassVar[ServiceName] = "ingest"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.broken = True
        self.calls = 0
        self.recovered = threading.Event()

    def step(self) -> None:
        self.calls += 1
        if self.broken:
            raise KeyError("no such field 'title'")
        self.recovered.set()
        self.stop_event.wait(0.2)


def test_a_service_whose_steps_keep_failing_is_degraded_in_status_with_the_cause(
    clean_settings: Callable[..., dict[str, str]],
) -> None:
    clean_settings(HEARTBEAT_SECONDS="0.5")
    loop = Stuck(get_settings())
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        client = rclient()
        status = collect_status(client)
        for _ in range(200):  # back-off 1 + 2 s before the third failure
            status = collect_status(client)
            if any("failing" in r for r in status.reasons):
                break
            loop.stop_event.wait(0.1)
        assert loop.calls >= FAILING_AFTER_STEPS and status.state == "degraded"
        (reason,) = [r for r in status.reasons if "failing" in r]
        assert "The ingest process" in reason and "KeyError" in reason and "no such field" in reason
        (beat,) = [b for b in status.services if b.service == "ingest"]
        assert beat.failing is not None and beat.failing.steps >= FAILING_AFTER_STEPS

        loop.broken = False
        assert loop.recovered.wait(60)
        for _ in range(100):  # the heartbeat is rewritten when the step has returned
            if not [r for r in collect_status(client).reasons if "failing" in r]:
                break
            loop.stop_event.wait(0.1)
        assert not [r for r in collect_status(client).reasons if "failing" in r]
    finally:
        loop.request_stop()
        thread.join(30)


def test_a_json_lines_file_of_many_bad_lines_makes_a_handful_of_failure_records(inbox: Path) -> None:
    good = '{"title": "Floods in Sindh", "body": "' + "Rain fell for days across the province. " * 5 + '"}'
    lines = [good] + ["{not json"] * 5_000
    (inbox / "feed.jsonl").write_text("\n".join(lines) + "\n")
    outcome = Ingestor.from_settings().process(inbox / "feed.jsonl")

    assert (outcome.status, outcome.articles) == ("queued", 1)
    failures = registry().failures()
    limit = get_settings().max_failure_lines
    assert len(failures) == limit + 1  # the first lines with their reasons, and one count
    (summary,) = [f for f in failures if f.line is None]
    assert "5000 of 5001 lines or items could not be read" in summary.reason
    assert "DATELINE_MAX_FAILURE_LINES" in summary.reason
    assert sorted(f.line for f in failures if f.line is not None) == list(range(2, 2 + limit))


def test_an_article_too_large_as_a_queue_message_fails_its_file_before_anything_is_queued(
    clean_settings: Callable[..., dict[str, str]],
) -> None:
    inbox = Path(clean_settings(STABLE_SECONDS="0", MAX_MESSAGE_MB="0.002")["DATELINE_INBOX"])
    inbox.mkdir()
    small = {"title": "Short", "body": "A short article about the harbour. " * 3}
    big = {"title": "Long", "body": "A long article about the harbour. " * 200}
    (inbox / "two.json").write_text(json.dumps([small, big]))
    outcome = Ingestor.from_settings().process(inbox / "two.json")

    assert outcome.status == "failed"
    assert "article 2:" in outcome.detail and "DATELINE_MAX_MESSAGE_MB" in outcome.detail
    assert rclient().llen("dateline.language") == 0  # the file is queued whole or not at all
    assert registry().get("two.json").state == "failed"  # type: ignore[union-attr]

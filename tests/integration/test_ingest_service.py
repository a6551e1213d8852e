"""The ingest service as a real process, and the ``dateline ingest`` command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import typer
from typer.testing import CliRunner

from services.ingest.cli import ingest_command, wait_until_indexed
from shared.heartbeat import IngestDetails, read_heartbeats
from shared.keys import STAGE_QUEUES
from shared.registry import Registry
from tests.support.paths import REPO_DIR, SEEDS
from tests.support.processes import wait_until

SEED_FILES = sorted(SEEDS.glob("*.txt"))


@pytest.fixture
def env(clean_settings: Callable[..., dict[str, str]]) -> dict[str, str]:
    # The inbox is not created: the service creates it.
    values = clean_settings(STABLE_SECONDS="0.3", RESCAN_SECONDS="2", HEARTBEAT_SECONDS="1")
    return {**os.environ, **values}


def test_service_watches_processes_and_stops_gracefully(env: dict[str, str], tmp_path: Path) -> None:
    inbox = Path(env["DATELINE_INBOX"])
    # One file waiting before the start (found by the first rescan).
    inbox.mkdir()
    shutil.copy(SEED_FILES[0], inbox / "before.txt")
    log_path = tmp_path / "ingest.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.ingest"],
            cwd=REPO_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    client = redis.Redis.from_url(env["DATELINE_REDIS_URL"])
    registry = Registry(client)
    try:
        wait_until(lambda: registry.get("before.txt"), timeout=60, what="the waiting file queued")
        # Files arriving while it runs: copied, moved in, in a new folder, and a bad one.
        shutil.copy(SEED_FILES[1], inbox / "copied.txt")
        shutil.copy(SEED_FILES[2], tmp_path / "staged.txt")
        os.replace(tmp_path / "staged.txt", inbox / "moved-in.txt")
        (inbox / "AP").mkdir()
        shutil.copy(SEED_FILES[3], inbox / "AP" / "nested.txt")
        (inbox / "bad.jsonl").write_text('{"title": "x"}\n')
        (inbox / "partial.txt.part").write_text("being downloaded")
        expected = {"before.txt", "copied.txt", "moved-in.txt", "AP/nested.txt", "bad.jsonl"}
        wait_until(lambda: registry.paths() >= expected, timeout=60, what="all files registered")
        assert registry.paths() == expected
        states = {p: registry.get(p).state for p in expected}  # type: ignore[union-attr]
        assert states.pop("bad.jsonl") == "failed"
        assert set(states.values()) == {"queued"}
        assert client.llen(STAGE_QUEUES["language"]) == 4
        assert [(f.path, f.line) for f in registry.failures()] == [("bad.jsonl", 1)]

        # A deleted file's documents are removed.
        (inbox / "copied.txt").unlink()
        wait_until(lambda: "copied.txt" not in registry.paths(), timeout=60, what="deletion handled")
        assert client.xlen("dateline:index") == 1

        (beat,) = wait_until(lambda: read_heartbeats(client, "ingest"), timeout=30, what="heartbeat")
        assert (beat.service, beat.pid, beat.state) == ("ingest", proc.pid, "running")
        assert isinstance(beat.details, IngestDetails) and beat.details.inbox == str(inbox.resolve())
        assert 0 < client.ttl(beat.key) <= 3  # three beats of DATELINE_HEARTBEAT_SECONDS=1
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    log_text = log_path.read_text()
    assert code == 0, log_text
    assert f"ingest watching {inbox.resolve()}" in log_text
    assert "ingest stopped" in log_text
    assert client.get(beat.key) is None  # a clean stop removes the heartbeat at once


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("ingest")(ingest_command)

    @app.command()
    def other() -> None:  # a second command, so "ingest" is a subcommand as in the real CLI
        pass

    return app


def test_ingest_command_summary_and_exit_codes(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    shutil.copy(SEED_FILES[4], folder / "good.txt")
    runner = CliRunner()
    result = runner.invoke(_cli(), ["ingest", str(folder)])
    assert result.exit_code == 0, result.output
    assert "queued" in result.output and "1 article(s)" in result.output

    (folder / "empty.txt").write_text("")
    result = runner.invoke(_cli(), ["ingest", str(folder)])
    assert result.exit_code == 1
    assert "file is empty" in result.output
    assert "skipped" in result.output


def test_wait_until_indexed_follows_the_registry(env: dict[str, str], tmp_path: Path) -> None:
    from services.ingest.backfill import ingest_paths

    folder = tmp_path / "drop"
    folder.mkdir()
    for seed in SEED_FILES[:2]:
        shutil.copy(seed, folder / seed.name)
    summary = ingest_paths([folder])
    registry = Registry(redis.Redis.from_url(env["DATELINE_REDIS_URL"]))
    assert len(summary.queued_paths) == 2

    def indexer() -> None:  # what the indexer does after a successful bulk write
        for path in summary.queued_paths:
            record = registry.get(path)
            assert record is not None
            for doc_id in record.doc_ids:
                registry.mark_indexed(path, record.revision, doc_id)

    thread = threading.Thread(target=indexer)
    thread.start()
    pending, late = wait_until_indexed(registry, summary.queued_paths, timeout=60)
    thread.join()
    assert (pending, late) == ([], [])
    assert {registry.get(p).state for p in summary.queued_paths} == {"indexed"}  # type: ignore[union-attr]

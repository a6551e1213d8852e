"""Where a document's ``source`` comes from (DATELINE_SOURCE_FROM_FOLDER), through real
ingest and a real Redis: the file's own metadata first, then the first folder under the
inbox - unless the folder rule is turned off."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import redis

from services.ingest.processor import Ingestor
from shared.broker_layout import tasks_near_ends
from shared.celery_app import make_app
from shared.registry import Registry
from shared.settings import Settings
from tests.support.paths import SEEDS


def _sources(redis_url: str, inbox: Path, **settings: object) -> dict[str, str | None]:
    """Ingest every file with the real Celery app on a Redis database of this module's own,
    then read the documents back from the queued tasks (no worker takes them here)."""
    url = redis_url.rsplit("/", 1)[0] + "/12"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        config = Settings(redis_url=url, inbox=inbox, **settings)  # type: ignore[arg-type]
        ingestor = Ingestor(Registry(client), make_app(config), config)
        for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
            ingestor.process(path)
        queued = tasks_near_ends(client, "language", count=100)
        return {task.document.source_path: task.document.source for task in queued}
    finally:
        client.flushdb()


def test_source_is_the_files_own_then_its_folder_and_the_folder_rule_can_be_turned_off(redis_url, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "Reuters").mkdir(parents=True)
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], inbox / "Reuters" / "talks.txt")
    (inbox / "Reuters" / "feed.jsonl").write_text(
        json.dumps(
            {
                "title": "Port reopens",
                "body": "The port of Karachi reopened on Monday, officials said.",
                "source": "APP",
            }
        )
        + "\n"
    )
    shutil.copy(sorted(SEEDS.glob("*.txt"))[1], inbox / "loose.txt")

    default = _sources(redis_url, inbox)
    assert default == {"Reuters/talks.txt": "Reuters", "Reuters/feed.jsonl": "APP", "loose.txt": None}

    off = _sources(redis_url, inbox, source_from_folder=False)
    assert off == {"Reuters/talks.txt": None, "Reuters/feed.jsonl": "APP", "loose.txt": None}

"""Where a document's ``source`` comes from (DATELINE_SOURCE_FROM_FOLDER), through real
ingest and a real Redis: the file's own metadata first, then the first folder under the
inbox - unless the folder rule is turned off."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import redis

from services.ingest.processor import Ingestor
from shared.registry import Registry
from shared.schemas import ArticleDocument
from shared.settings import Settings
from tests.support.paths import SEEDS


class _Captured:
    """Ingest's Celery app, keeping what it would queue (no broker, no workers needed)."""

    def __init__(self) -> None:
        self.documents: list[ArticleDocument] = []

    def send_task(self, name: str, args: list[dict], **_: object) -> None:
        self.documents.append(ArticleDocument.model_validate(args[0]["document"]))


def _sources(redis_url: str, inbox: Path, **settings: object) -> dict[str, str | None]:
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/12")
    client.flushdb()
    try:
        app = _Captured()
        ingestor = Ingestor(Registry(client), app, Settings(redis_url=redis_url, inbox=inbox, **settings))
        for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
            ingestor.process(path)
        return {doc.source_path: doc.source for doc in app.documents}
    finally:
        client.flushdb()


def test_source_is_the_files_own_then_its_folder_and_the_folder_rule_can_be_turned_off(redis_url, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "Reuters").mkdir(parents=True)
    shutil.copy(sorted(SEEDS.glob("*.txt"))[0], inbox / "Reuters" / "talks.txt")
    (inbox / "Reuters" / "feed.jsonl").write_text(json.dumps(
        {"title": "Port reopens", "body": "The port of Karachi reopened on Monday, officials said.",
         "source": "APP"}) + "\n")
    shutil.copy(sorted(SEEDS.glob("*.txt"))[1], inbox / "loose.txt")

    default = _sources(redis_url, inbox)
    assert default == {"Reuters/talks.txt": "Reuters", "Reuters/feed.jsonl": "APP", "loose.txt": None}

    off = _sources(redis_url, inbox, source_from_folder=False)
    assert off == {"Reuters/talks.txt": None, "Reuters/feed.jsonl": "APP", "loose.txt": None}


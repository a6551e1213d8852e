"""``.json`` files: one article object, a list of them, or ``{"articles": [...]}``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from services.ingest.readers._decode import decode
from services.ingest.readers._json import load_json
from services.ingest.readers.base import (
    Reader,
    ReadError,
    ReadIssue,
    ReadLimits,
    ReadResult,
    too_many_articles,
)
from services.ingest.readers.fields import BODY_FIELDS, LIST_WRAPPERS, article_from_object
from services.ingest.readers.metadata import kind_of

EMPTY_LIST = "file is empty: its list holds no articles; add article objects to it or remove the file"


class JsonReader(Reader):
    extensions: ClassVar[tuple[str, ...]] = (".json",)

    def read(self, path: Path, data: bytes, limits: ReadLimits | None = None) -> ReadResult:
        limits = limits or ReadLimits.from_settings()
        value = load_json(decode(data), limits, "file")
        items = _article_items(value)
        if len(items) == 1 and not isinstance(value, list):
            return ReadResult(articles=[article_from_object(items[0], "json", 0, limits=limits)], parts=1)
        if len(items) > limits.max_articles_per_file:
            raise ReadError(too_many_articles(len(items), "items", limits))

        result = ReadResult(parts=len(items))
        for index, item in enumerate(items):
            try:
                result.articles.append(article_from_object(item, "json", index, limits=limits))
            except ReadError as exc:
                # List items have no line number of their own: name the item instead.
                result.add_issue(ReadIssue(reason=f"item {index + 1} of {len(items)}: {exc.reason}"), limits)
        if not result.articles and not result.bad_parts:
            raise ReadError(EMPTY_LIST)
        return result


def _article_items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if not any(k in value for k in BODY_FIELDS):
            for key in LIST_WRAPPERS:
                items = value.get(key)
                if isinstance(items, list):
                    return items
        return [value]
    raise ReadError(
        f"the file holds a single JSON value ({kind_of(value)}), not an article: "
        'write one article object ({"title": ..., "body": ...}) or a list of them'
    )

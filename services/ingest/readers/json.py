"""``.json`` files: one article object, a list of them, or ``{"articles": [...]}``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from services.ingest.readers._decode import decode
from services.ingest.readers.base import Reader, ReadError, ReadIssue, ReadResult
from services.ingest.readers.fields import BODY_FIELDS, LIST_WRAPPERS, article_from_object
from services.ingest.readers.json_errors import describe
from services.ingest.readers.metadata import kind_of

EMPTY_LIST = "file is empty: its list holds no articles; add article objects to it or remove the file"


class JsonReader(Reader):
    extensions: ClassVar[tuple[str, ...]] = (".json",)

    def read(self, path: Path, data: bytes) -> ReadResult:
        text = decode(data)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReadError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {describe(exc, 'file')}",
                line=exc.lineno,
            ) from exc
        items = _article_items(value)
        if len(items) == 1 and not isinstance(value, list):
            return ReadResult(articles=[article_from_object(items[0], "json", 0)])

        result = ReadResult()
        for index, item in enumerate(items):
            try:
                result.articles.append(article_from_object(item, "json", index))
            except ReadError as exc:
                # List items have no line number of their own: name the item instead.
                result.errors.append(
                    ReadIssue(reason=f"item {index + 1} of {len(items)}: {exc.reason}")
                )
        if not result.articles and not result.errors:
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

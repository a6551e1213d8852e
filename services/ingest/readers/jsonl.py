"""JSON Lines: one article object per line; a bad line is reported with its number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from services.ingest.readers._decode import decode
from services.ingest.readers.base import EMPTY_FILE, Reader, ReadError, ReadIssue, ReadResult
from services.ingest.readers.fields import article_from_object
from services.ingest.readers.json_errors import describe


class JsonLinesReader(Reader):
    extensions: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson")

    def read(self, path: Path, data: bytes) -> ReadResult:
        result = ReadResult()
        record = 0
        for number, line in enumerate(decode(data).split("\n"), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                result.errors.append(
                    ReadIssue(
                        line=number,
                        reason=f"this line is not valid JSON at column {exc.colno}: "
                        f"{describe(exc, 'line')}",
                    )
                )
            else:
                try:
                    result.articles.append(article_from_object(value, "jsonl", record, number))
                except ReadError as exc:
                    result.errors.append(ReadIssue(line=number, reason=exc.reason))
            # Positions count every non-blank line, so fixing one line keeps the others' ids.
            record += 1
        if not result.articles and not result.errors:
            raise ReadError(EMPTY_FILE)
        return result

"""JSON Lines: one article object per line; a bad line is reported with its number."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from services.ingest.readers._decode import decode
from services.ingest.readers._json import load_json
from services.ingest.readers.base import (
    EMPTY_FILE,
    Reader,
    ReadError,
    ReadIssue,
    ReadLimits,
    ReadResult,
    too_many_articles,
)
from services.ingest.readers.fields import article_from_object


class JsonLinesReader(Reader):
    extensions: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson")

    def read(self, path: Path, data: bytes, limits: ReadLimits | None = None) -> ReadResult:
        limits = limits or ReadLimits.from_settings()
        lines = decode(data).split("\n")
        # Counted before any line is parsed: an oversized file costs no article's work.
        count = sum(1 for line in lines if line.strip())
        if count > limits.max_articles_per_file:
            raise ReadError(too_many_articles(count, "lines", limits))
        result = ReadResult(parts=count)
        record = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = load_json(line, limits, "line")
                result.articles.append(article_from_object(value, "jsonl", record, number, limits=limits))
            except ReadError as exc:
                result.add_issue(ReadIssue(line=number, reason=exc.reason), limits)
            # Positions count every non-blank line, so fixing one line keeps the others' ids.
            record += 1
        if not result.articles and not result.bad_parts:
            raise ReadError(EMPTY_FILE)
        return result

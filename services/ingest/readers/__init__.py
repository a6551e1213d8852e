"""Readers, one per file format, and ``reader_for(path)`` to pick one by extension."""

from __future__ import annotations

from pathlib import Path

from services.ingest.readers.base import (
    BLANK_FILE,
    EMPTY_FILE,
    Format,
    ParsedArticle,
    Reader,
    ReadError,
    ReadIssue,
    ReadLimits,
    ReadResult,
)
from services.ingest.readers.html import HtmlReader
from services.ingest.readers.json import JsonReader
from services.ingest.readers.jsonl import JsonLinesReader
from services.ingest.readers.text import TextReader

READERS: tuple[Reader, ...] = (TextReader(), HtmlReader(), JsonReader(), JsonLinesReader())
_BY_EXTENSION: dict[str, Reader] = {ext: r for r in READERS for ext in r.extensions}


def supported_extensions() -> list[str]:
    return sorted(_BY_EXTENSION)


def reader_for(path: Path | str) -> Reader:
    """The reader for ``path``'s extension, or ReadError naming the supported ones."""
    suffix = Path(path).suffix.lower()
    reader = _BY_EXTENSION.get(suffix)
    if reader is None:
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise ReadError(
            f"unsupported file type ({what}): rename or convert it to one of "
            f"{', '.join(supported_extensions())}"
        )
    return reader


def read_file(path: Path, data: bytes, limits: ReadLimits | None = None) -> ReadResult:
    """The articles of ``data`` (the bytes of ``path``) within ``limits`` (None: the settings')."""
    return reader_for(path).read(path, data, limits)


__all__ = [
    "BLANK_FILE",
    "EMPTY_FILE",
    "Format",
    "ParsedArticle",
    "ReadError",
    "ReadIssue",
    "ReadLimits",
    "ReadResult",
    "Reader",
    "read_file",
    "reader_for",
    "supported_extensions",
]

"""What every reader returns, and the one error type they raise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

Format = Literal["text", "markdown", "html", "json", "jsonl"]


class ParsedArticle(BaseModel):
    """One article as a reader found it, before it becomes an ArticleDocument."""

    title: str
    body: str
    format: Format
    record: int = Field(0, description="Position within the file (list item / JSONL line).")
    line: int | None = Field(None, description="1-based line number (JSON Lines).")
    source: str | None = Field(None, description="Publisher named by the file itself.")
    published_at: datetime | None = None
    author: str | None = None
    url: str | None = None
    dateline: str | None = None
    language_hint: str | None = None


class ReadIssue(BaseModel):
    """A part of a file that could not be read (a JSON Lines line, a list item)."""

    reason: str
    line: int | None = None


class ReadResult(BaseModel):
    """Good articles and the problems found next to them: one bad line spoils nothing else."""

    articles: list[ParsedArticle] = Field(default_factory=list)
    errors: list[ReadIssue] = Field(default_factory=list)


class ReadError(Exception):
    """The whole file cannot be read. ``reason`` says what is wrong and how to fix it."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class Reader(ABC):
    extensions: ClassVar[tuple[str, ...]]

    @abstractmethod
    def read(self, path: Path, data: bytes) -> ReadResult:
        """Parse ``data`` (the bytes of ``path``); raise ReadError if nothing is usable."""


EMPTY_FILE = "file is empty: add the article text or remove the file"

"""What every reader returns, and the one error type they raise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from shared.text.article import CleanedText

Format = Literal["text", "markdown", "html", "json", "jsonl"]


class ParsedArticle(CleanedText):
    """One article as a reader found it, before it becomes an ArticleDocument.

    The cleaned text's fields (title, body, date, dateline) plus what the file says about
    the article; ``from_cleaned`` is the one place that puts the two together.
    """

    format: Format
    record: int = Field(0, description="Position within the file (list item / JSONL line).")
    line: int | None = Field(None, description="1-based line number (JSON Lines).")
    source: str | None = Field(None, description="Publisher named by the file itself.")
    author: str | None = None
    url: str | None = None
    language_hint: str | None = None

    @classmethod
    def from_cleaned(
        cls, cleaned: CleanedText, *, published_at: datetime | None = None, **metadata: Any
    ) -> ParsedArticle:
        """The article of ``cleaned`` text with the file's ``metadata`` (format, source...).

        A date the file states (a JSON field, front matter, a page's meta tag) wins over
        one found in the text: it is the publisher's own record.
        """
        return cls.model_validate(
            {**dict(cleaned), **metadata, "published_at": published_at or cleaned.published_at}
        )


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
BLANK_FILE = (
    "the file is blank: it holds only spaces or empty lines; add the article text or "
    "remove the file"
)
NO_STORY = (
    "no article text was found: the file holds only a date line, photo captions or site "
    "menus; add the story itself"
)

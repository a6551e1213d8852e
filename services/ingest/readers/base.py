"""What every reader returns, and the one error type they raise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator, model_validator

from shared.schemas import DocumentFormat
from shared.settings import Settings, get_settings
from shared.text.article import CleanedText
from shared.text.repair import TextRepair, repair, web_url

Format = DocumentFormat  # one list of formats, in the schema that carries them

# Every string a reader puts in an article; each is repaired (shared.text.repair) on the way in.
TEXT_FIELDS = ("title", "body", "dateline", "source", "author", "url", "language_hint")


def _limit(name: str) -> Any:
    """The setting's default: one source for the number, shared/settings.py."""
    return Field(Settings.model_fields[name].default, ge=0 if name == "max_yaml_aliases" else 1)


class ReadLimits(BaseModel):
    """What one file may hold; past a limit the file, or the part, fails with a reason naming
    the setting (``DATELINE_MAX_...``). Defaults are the settings' defaults."""

    max_article_chars: int = _limit("max_article_chars")
    max_articles_per_file: int = _limit("max_articles_per_file")
    max_nesting: int = _limit("max_nesting")
    max_yaml_aliases: int = _limit("max_yaml_aliases")
    max_failure_lines: int = _limit("max_failure_lines")
    max_date_chars: int = _limit("max_date_chars")

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ReadLimits:
        cfg = settings or get_settings()
        return cls.model_validate({name: getattr(cfg, name) for name in cls.model_fields})


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
    repairs: list[TextRepair] = Field(
        default_factory=list,
        description="What was changed in the file's text to make it safe (shared.text.repair).",
    )

    @model_validator(mode="before")
    @classmethod
    def _repaired(cls, data: Any) -> Any:
        """Every text field encodable and free of control characters, every link a web link:
        whatever a file holds, nothing unencodable or unsafe reaches Redis, Celery,
        Elasticsearch or a page. What was changed is kept in ``repairs``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        repairs = [TextRepair.model_validate(r) for r in data.get("repairs") or []]
        # A link with control characters or broken text is not repaired into one: dropped.
        url = data.get("url")
        if isinstance(url, str) and web_url(url) is None:
            if url:
                repairs.append(TextRepair(field="url", kind="unsafe_url"))
            data["url"] = None
        for name in TEXT_FIELDS:
            value = data.get(name)
            if isinstance(value, str):
                fixed = repair(value)
                data[name] = fixed.text
                repairs += fixed.notes(name)
        data["repairs"] = repairs
        return data

    @classmethod
    def from_cleaned(
        cls,
        cleaned: CleanedText,
        *,
        published_at: datetime | None = None,
        limits: ReadLimits | None = None,
        **metadata: Any,
    ) -> ParsedArticle:
        """The article of ``cleaned`` text with the file's ``metadata`` (format, source...).

        A date the file states (a JSON field, front matter, a page's meta tag) wins over
        one found in the text: it is the publisher's own record. ReadError when the article
        is longer than ``limits.max_article_chars``, or has no text left once repaired.
        """
        limits = limits or ReadLimits.from_settings()
        article = cls.model_validate(
            {**dict(cleaned), **metadata, "published_at": published_at or cleaned.published_at}
        )
        if not article.body.strip():
            raise ReadError(
                "the article text holds only control characters (such as NUL) or broken "
                "characters, nothing to read: save the article again from its source as text"
            )
        if len(article.body) > limits.max_article_chars:
            raise ReadError(
                f"the article is {len(article.body):,} characters long, more than the limit of "
                f"{limits.max_article_chars:,} (DATELINE_MAX_ARTICLE_CHARS): split it into "
                "several articles, or raise DATELINE_MAX_ARTICLE_CHARS"
            )
        return article


def _safe_reason(reason: str) -> str:
    # Reasons quote the file (a field name, a title): quoted text must be encodable too,
    # since the reason is stored in Redis and shown on pages.
    return repair(reason).text


class ReadIssue(BaseModel):
    """A part of a file that could not be read (a JSON Lines line, a list item)."""

    reason: str
    line: int | None = None

    @field_validator("reason")
    @classmethod
    def _encodable(cls, reason: str) -> str:
        return _safe_reason(reason)


class ReadResult(BaseModel):
    """Good articles and the problems found next to them: one bad line spoils nothing else.

    A file of 100,000 bad lines must not make 100,000 failure records: ``errors`` keeps the
    first issues (at most ``max_failure_lines`` when built with ``add_issue``), ``bad_parts``
    counts all of them.
    """

    articles: list[ParsedArticle] = Field(default_factory=list)
    errors: list[ReadIssue] = Field(default_factory=list, description="The first issues, in order.")
    bad_parts: int = Field(0, ge=0, description="How many parts could not be read, in all.")
    parts: int = Field(0, ge=0, description="How many parts (lines, list items) the file has.")

    @model_validator(mode="after")
    def _counts_the_listed_issues(self) -> ReadResult:
        # ReadResult(errors=[...]) built by hand counts what it lists.
        self.bad_parts = max(self.bad_parts, len(self.errors))
        return self

    def add_issue(self, issue: ReadIssue, limits: ReadLimits) -> None:
        self.bad_parts += 1
        if len(self.errors) < limits.max_failure_lines:
            self.errors.append(issue)


class ReadError(Exception):
    """The whole file cannot be read. ``reason`` says what is wrong and how to fix it."""

    def __init__(self, reason: str, line: int | None = None):
        reason = _safe_reason(reason)
        super().__init__(reason)
        self.reason = reason
        self.line = line


class Reader(ABC):
    extensions: ClassVar[tuple[str, ...]]

    @abstractmethod
    def read(self, path: Path, data: bytes, limits: ReadLimits | None = None) -> ReadResult:
        """Parse ``data`` (the bytes of ``path``); raise ReadError if nothing is usable.

        ``limits`` None: the settings' (``ReadLimits.from_settings()``).
        """


def too_many_articles(count: int, what: str, limits: ReadLimits) -> str:
    """The reason a file with ``count`` articles (``what``: "lines", "items") is refused."""
    limit = limits.max_articles_per_file
    return (
        f"the file holds {count:,} {what} (one article each), more than the limit of {limit:,} "
        f"articles per file (DATELINE_MAX_ARTICLES_PER_FILE): split it into files of at most "
        f"{limit:,} articles, or raise DATELINE_MAX_ARTICLES_PER_FILE"
    )


EMPTY_FILE = "file is empty: add the article text or remove the file"
BLANK_FILE = "the file is blank: it holds only spaces or empty lines; add the article text or remove the file"
NO_STORY = (
    "no article text was found: the file holds only a date line, photo captions or site "
    "menus; add the story itself"
)

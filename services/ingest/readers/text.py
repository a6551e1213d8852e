"""Plain text and Markdown articles: one article per file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from services.ingest.readers._decode import decode
from services.ingest.readers.base import (
    BLANK_FILE,
    NO_STORY,
    ParsedArticle,
    Reader,
    ReadError,
    ReadLimits,
    ReadResult,
)
from services.ingest.readers.front_matter import split_front_matter
from services.ingest.readers.markdown import markdown_to_text
from services.ingest.readers.metadata import language_of, name_of, stated_date, text_of
from shared.text.article import CleanedText, clean_text
from shared.text.whitespace import normalize_whitespace

MARKDOWN_EXTENSIONS = (".md", ".markdown")
_MARKDOWN_FACTOR = 2


class TextReader(Reader):
    extensions: ClassVar[tuple[str, ...]] = (".txt", ".text", *MARKDOWN_EXTENSIONS)

    def read(self, path: Path, data: bytes, limits: ReadLimits | None = None) -> ReadResult:
        limits = limits or ReadLimits.from_settings()
        text = decode(data)
        if path.suffix.lower() not in MARKDOWN_EXTENSIONS:
            return _result(text, clean_text(text), limits=limits, format="text")

        # Markdown conversion is slow (about a minute for 4 MB) and markup is a small part
        # of a Markdown file: a text this far past the limit cannot hold an article within it.
        if len(text) > _MARKDOWN_FACTOR * limits.max_article_chars:
            raise ReadError(
                f"the Markdown file holds {len(text):,} characters, more than "
                f"{_MARKDOWN_FACTOR} times the limit for one article ({limits.max_article_chars:,}, "
                "DATELINE_MAX_ARTICLE_CHARS): split it into several articles, or raise "
                "DATELINE_MAX_ARTICLE_CHARS"
            )
        meta, markdown = split_front_matter(text, limits)
        if not markdown.strip():
            raise ReadError(
                "the Markdown file holds only front matter, no article text: add the story "
                "below the closing --- line"
            )
        plain = markdown_to_text(markdown)
        # A title in the front matter heads the text, so a repeated heading is dropped.
        cleaned = clean_text(plain, title=text_of(meta.get("title")))
        published_at, notes = stated_date(meta.get("date"), limits)
        return _result(
            plain,
            cleaned,
            limits=limits,
            repairs=notes,
            format="markdown",
            published_at=published_at,
            author=name_of(meta.get("author")),
            url=text_of(meta.get("url")),
            source=name_of(meta.get("source")),
            language_hint=language_of(meta.get("language") or meta.get("lang")),
        )


def _result(text: str, cleaned: CleanedText, *, limits: ReadLimits, **metadata: Any) -> ReadResult:
    """The one article of ``text``, or ReadError saying why there is none."""
    if not cleaned.body:
        if cleaned.title:
            raise ReadError(
                f"only a title line ({cleaned.title[:60]!r}) was found, no article text: "
                "add the story below the title"
            )
        # Invisible characters (zero-width spaces) pass the decoder's blank check.
        raise ReadError(BLANK_FILE if not normalize_whitespace(text) else NO_STORY)
    article = ParsedArticle.from_cleaned(cleaned, limits=limits, **metadata)
    return ReadResult(articles=[article], parts=1)

"""Plain text and Markdown articles: one article per file."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from services.ingest.cleaning import clean_text, parse_date
from services.ingest.readers._decode import decode
from services.ingest.readers.base import (
    EMPTY_FILE,
    ParsedArticle,
    Reader,
    ReadError,
    ReadResult,
)
from services.ingest.readers.markdown import markdown_to_text, split_front_matter

MARKDOWN_EXTENSIONS = (".md", ".markdown")


class TextReader(Reader):
    extensions: ClassVar[tuple[str, ...]] = (".txt", ".text", *MARKDOWN_EXTENSIONS)

    def read(self, path: Path, data: bytes) -> ReadResult:
        text = decode(data)
        is_markdown = path.suffix.lower() in MARKDOWN_EXTENSIONS
        meta: dict[str, str] = {}
        if is_markdown:
            meta, text = split_front_matter(text)
            text = markdown_to_text(text)
            if meta.get("title"):
                # The front matter's title heads the text, so a repeated heading is dropped.
                text = meta["title"] + "\n\n" + text
        cleaned = clean_text(text)
        if not cleaned.title and not cleaned.body:
            raise ReadError(EMPTY_FILE)
        title, body = cleaned.title, cleaned.body
        if not body:
            raise ReadError(
                f"only a title line ({title[:60]!r}) was found, no article text: "
                "add the story below the title"
            )
        article = ParsedArticle(
            title=title,
            body=body,
            format="markdown" if is_markdown else "text",
            published_at=parse_date(meta.get("date")) or cleaned.published_at,
            author=meta.get("author") or None,
            url=meta.get("url") or None,
            source=meta.get("source") or None,
            language_hint=meta.get("language") or meta.get("lang") or None,
            dateline=cleaned.dateline,
        )
        return ReadResult(articles=[article])

"""HTML pages: trafilatura finds the story among navigation, ads, footers and scripts;
its text then gets the same cleaning as every other format."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, ClassVar

import trafilatura

from services.ingest.readers._decode import decode
from services.ingest.readers.base import ParsedArticle, Reader, ReadError, ReadLimits, ReadResult
from services.ingest.readers.metadata import language_of, name_of, stated_date, text_of
from shared.text.article import clean_story
from shared.text.sentences import ends_sentence

log = logging.getLogger(__name__)

# Keep the time and zone of the publication date, not just the day.
# No extensive search: it takes the year of a "© 2024" footer for the publication date.
_DATE_PARAMS = {
    "extensive_search": False,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
# Less than this, with no sentence in it, is a menu or a stray label rather than a story.
_MIN_WORDS = 8


def _extract(html: str, **options: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # lxml truth-testing inside trafilatura
        return trafilatura.bare_extraction(
            html,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            include_images=False,
            date_extraction_params=_DATE_PARAMS,
            **options,
        )


class HtmlReader(Reader):
    extensions: ClassVar[tuple[str, ...]] = (".html", ".htm")

    def read(self, path: Path, data: bytes, limits: ReadLimits | None = None) -> ReadResult:
        limits = limits or ReadLimits.from_settings()
        html = decode(data)
        # Precision first, so teasers and link lists stay out; short pages may need recall.
        doc = _extract(html, favor_precision=True)
        if doc is None or not (doc.text or "").strip():
            doc = _extract(html, favor_recall=True)
        if doc is None or not (doc.text or "").strip():
            raise ReadError(
                "no article text found in this HTML page (only navigation, scripts or "
                "boilerplate): save the article page itself, or its text as .txt"
            )
        # trafilatura puts one paragraph on each line; the other formats keep a blank
        # line between paragraphs, and so does the body of an HTML page.
        paragraphs = "\n\n".join(line for line in doc.text.split("\n") if line.strip())
        cleaned = clean_story(paragraphs, title=doc.title)
        if len(cleaned.body.split()) < _MIN_WORDS and not ends_sentence(cleaned.body):
            raise ReadError(
                f"the HTML page has a title ({cleaned.title[:60]!r}) but no article text: "
                "save the full article page"
            )
        published_at, notes = stated_date(doc.date, limits)
        article = ParsedArticle.from_cleaned(
            cleaned,
            published_at=published_at,
            limits=limits,
            repairs=notes,
            format="html",
            source=name_of(doc.sitename),
            author=name_of(doc.author),
            url=text_of(doc.url),
            language_hint=language_of(doc.language),
        )
        return ReadResult(articles=[article], parts=1)

"""HTML pages: trafilatura finds the story among navigation, ads, footers and scripts."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, ClassVar

import trafilatura

from services.ingest.cleaning import clean_body, is_sentence, normalize_whitespace, parse_date
from services.ingest.readers._decode import decode
from services.ingest.readers.base import ParsedArticle, Reader, ReadError, ReadResult

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

    def read(self, path: Path, data: bytes) -> ReadResult:
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
        title = normalize_whitespace(doc.title or "")
        lines = [line for line in normalize_whitespace(doc.text).split("\n") if line]
        if title and lines and normalize_whitespace(lines[0]).casefold() == title.casefold():
            lines = lines[1:]  # the page's <h1> repeats the title
        if not title and len(lines) > 1:
            title, lines = lines[0], lines[1:]
        body, dateline = clean_body("\n\n".join(lines))
        if len(body.split()) < _MIN_WORDS and not is_sentence(body):
            body = ""
        if not body:
            raise ReadError(
                f"the HTML page has a title ({title[:60]!r}) but no article text: "
                "save the full article page"
            )
        article = ParsedArticle(
            title=title or body.split("\n", 1)[0][:140],
            body=body,
            format="html",
            source=(doc.sitename or "").strip() or None,
            published_at=parse_date(doc.date),
            author=(doc.author or "").strip() or None,
            url=(doc.url or "").strip() or None,
            dateline=dateline,
            language_hint=(doc.language or "").strip().lower() or None,
        )
        return ReadResult(articles=[article])

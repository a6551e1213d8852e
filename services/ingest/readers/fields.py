"""JSON objects -> ParsedArticle, shared by the JSON and JSON Lines readers.

Exporters name fields differently (schema.org ``articleBody``, feeds' ``content``...),
so each field has a list of accepted names; the first present one wins. The body text
gets the same cleaning as a text file (``shared.text.article.clean_story``): a leading
``date ...`` line, a dateline, captions and trailing site chrome come out the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingest.readers.base import Format, ParsedArticle, ReadError, ReadLimits
from services.ingest.readers.metadata import kind_of, language_of, name_of, stated_date, text_of
from shared.text.article import clean_story

TITLE_FIELDS = ("title", "headline")
BODY_FIELDS = ("body", "text", "content", "articleBody")
DATE_FIELDS = ("published_at", "date", "datePublished", "publishedAt", "pubDate")
URL_FIELDS = ("url", "link")
SOURCE_FIELDS = ("source", "publisher", "site")
AUTHOR_FIELDS = ("author", "authors", "byline")
LANGUAGE_FIELDS = ("language", "lang", "inLanguage")
# Keys under which exporters wrap a list of articles: {"articles": [...]}.
LIST_WRAPPERS = ("articles", "items", "data", "results", "documents")


def _first(obj: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str | None, Any]:
    for name in names:
        if name in obj and obj[name] not in (None, "", [], {}):
            return name, obj[name]
    return None, None


def _text_of(field: str, value: Any) -> str:
    """Body text given as a string or a list of paragraphs."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(value)
    raise ReadError(
        f"field {field!r} is {kind_of(value)}, expected text (a string or a list of strings): "
        "put the article text in it as a string"
    )


def article_from_object(
    obj: Any, fmt: Format, record: int, line: int | None = None, *, limits: ReadLimits
) -> ParsedArticle:
    """Map one JSON object to an article; ReadError names the missing or bad field."""
    if not isinstance(obj, Mapping):
        raise ReadError(
            f"expected an article object ({{...}}) but found {kind_of(obj)}: "
            "each article must be a JSON object with a title and a body"
        )
    body_field, raw_body = _first(obj, BODY_FIELDS)
    if body_field is None:
        raise ReadError(
            "missing the article body: add one of the fields "
            f"{', '.join(BODY_FIELDS)} (found fields: {', '.join(map(str, obj)) or 'none'})"
        )
    title_field, raw_title = _first(obj, TITLE_FIELDS)
    if title_field is not None and not isinstance(raw_title, str):
        raise ReadError(
            f"field {title_field!r} is {kind_of(raw_title)}, expected a string: write the headline as text"
        )

    cleaned = clean_story(_text_of(body_field, raw_body), title=raw_title)
    if not cleaned.body:
        raise ReadError(f"field {body_field!r} is blank: put the article text in it")

    _, raw_date = _first(obj, DATE_FIELDS)
    _, raw_url = _first(obj, URL_FIELDS)
    _, raw_language = _first(obj, LANGUAGE_FIELDS)
    published_at, notes = stated_date(raw_date, limits)
    return ParsedArticle.from_cleaned(
        cleaned,
        published_at=published_at,
        limits=limits,
        repairs=notes,
        format=fmt,
        record=record,
        line=line,
        source=name_of(_first(obj, SOURCE_FIELDS)[1]),
        author=name_of(_first(obj, AUTHOR_FIELDS)[1]),
        url=text_of(raw_url) if isinstance(raw_url, str) else None,
        language_hint=language_of(raw_language) if isinstance(raw_language, str) else None,
    )

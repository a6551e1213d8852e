"""JSON objects -> ParsedArticle, shared by the JSON and JSON Lines readers.

Exporters name fields differently (schema.org ``articleBody``, feeds' ``content``...),
so each field has a list of accepted names; the first present one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.ingest.cleaning import (
    clean_body,
    first_sentence,
    make_title,
    normalize_whitespace,
    parse_date,
)
from services.ingest.readers.base import Format, ParsedArticle, ReadError

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


def _name_of(value: Any) -> str | None:
    """A person or organisation given as a string, ``{"name": ...}`` or a list of those."""
    if isinstance(value, str):
        return normalize_whitespace(value) or None
    if isinstance(value, Mapping):
        return _name_of(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (_name_of(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def _text_of(field: str, value: Any) -> str:
    """Body text given as a string or a list of paragraphs."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(value)
    raise ReadError(
        f"field {field!r} is {_kind(value)}, expected text (a string or a list of strings): "
        "put the article text in it as a string"
    )


def _kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def article_from_object(
    obj: Any, fmt: Format, record: int, line: int | None = None
) -> ParsedArticle:
    """Map one JSON object to an article; ReadError names the missing or bad field."""
    if not isinstance(obj, Mapping):
        raise ReadError(
            f"expected an article object ({{...}}) but found {_kind(obj)}: "
            "each article must be a JSON object with a title and a body"
        )
    body_field, raw_body = _first(obj, BODY_FIELDS)
    if body_field is None:
        raise ReadError(
            "missing the article body: add one of the fields "
            f"{', '.join(BODY_FIELDS)} (found fields: {', '.join(map(str, obj)) or 'none'})"
        )
    body, dateline = clean_body(_text_of(body_field, raw_body))
    if not body:
        raise ReadError(f"field {body_field!r} is blank: put the article text in it")

    title_field, raw_title = _first(obj, TITLE_FIELDS)
    if title_field is not None and not isinstance(raw_title, str):
        raise ReadError(f"field {title_field!r} is {_kind(raw_title)}, expected a string")
    title = normalize_whitespace(raw_title or "")
    if not title:
        # No headline given: title the article with its first sentence, as for text files.
        title = make_title(first_sentence(body.split("\n", 1)[0]))

    _, raw_date = _first(obj, DATE_FIELDS)
    _, raw_url = _first(obj, URL_FIELDS)
    _, raw_language = _first(obj, LANGUAGE_FIELDS)
    return ParsedArticle(
        title=title,
        body=body,
        format=fmt,
        record=record,
        line=line,
        source=_name_of(_first(obj, SOURCE_FIELDS)[1]),
        published_at=parse_date(raw_date),
        author=_name_of(_first(obj, AUTHOR_FIELDS)[1]),
        url=raw_url.strip() if isinstance(raw_url, str) and raw_url.strip() else None,
        dateline=dateline,
        language_hint=raw_language.strip().lower()
        if isinstance(raw_language, str) and raw_language.strip()
        else None,
    )

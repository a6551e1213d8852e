"""Metadata values as files give them (JSON fields, YAML front matter) -> clean strings.

Exporters write a person as ``"Ann"``, ``{"name": "Ann"}`` or a list of those, a
language as ``"EN "``, a URL with stray spaces; YAML turns ``title: 2024`` into a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.ingest.readers.base import ReadLimits
from shared.text.dates import parse_date
from shared.text.repair import TextRepair
from shared.text.whitespace import normalize_whitespace


def name_of(value: Any) -> str | None:
    """A person or organisation given as a string, ``{"name": ...}`` or a list of those."""
    if isinstance(value, str):
        return normalize_whitespace(value) or None
    if isinstance(value, Mapping):
        return name_of(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (name_of(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def text_of(value: Any) -> str | None:
    """A short text field (title, URL): strings, and numbers YAML did not leave as text."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return normalize_whitespace(str(value)) or None


def language_of(value: Any) -> str | None:
    """The language a file states, lower case (``build_document`` normalises it to ISO 639-1,
    after the text repairs every field gets)."""
    text = text_of(value)
    return text.lower() if text else None


def stated_date(value: Any, limits: ReadLimits) -> tuple[datetime | None, list[TextRepair]]:
    """The publication date a file states, and a note when it was too long to be a date.

    Date parsing is slow on long text, and no date needs more than ``max_date_chars``
    characters: a longer value is ignored (the date found in the text, if any, is used).
    """
    if isinstance(value, str) and len(value.strip()) > limits.max_date_chars:
        return None, [TextRepair(field="published_at", kind="long_date")]
    return parse_date(value, max_chars=limits.max_date_chars), []


def kind_of(value: Any) -> str:
    """What a JSON/YAML value is, in the words a reason uses ("a list", "null")."""
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)

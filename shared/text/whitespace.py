"""Whitespace as readers see it: one space between words, at most one blank line.

Web copies are full of spaces that are not spaces (no-break, thin, ideographic), invisible
characters (zero-width space, soft hyphen, stray byte-order marks) and odd line breaks.
Two copies of one article that differ only in those must look, and hash, the same.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

# Spaces that look like a space but are not one (NBSP, thin, narrow NBSP, ideographic...).
_SPACES = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_INVISIBLE = re.compile("[\u200b\u00ad\ufeff]")  # zero-width space, soft hyphen, stray BOM
_LINE_BREAKS = re.compile("[\u2028\u2029\x0b\x0c\x85]")
_RUNS = re.compile(" {2,}")
_BLANK_RUNS = re.compile("\n{3,}")


def normalize_whitespace(text: str) -> str:
    """One space between words, no trailing spaces, at most one blank line in a row.

    Typographic quotes and dashes are content and stay as they are.
    """
    text = _LINE_BREAKS.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", _SPACES.sub(" ", text))
    lines = [_RUNS.sub(" ", line).strip() for line in text.split("\n")]
    return join_lines(lines)


def join_lines(lines: Iterable[str]) -> str:
    """Lines joined with ``\\n``: at most one blank line in a row, none at either end."""
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def content_sha256(title: str, body: str) -> str:
    """Hash of what a reader sees, so the same article under two names shares it."""
    content = normalize_whitespace(title) + "\n\n" + normalize_whitespace(body)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()

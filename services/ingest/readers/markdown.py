"""Markdown to plain text: enough to take headings, emphasis and links apart.

Not a Markdown renderer: articles use little markup, and the cleaning rules for plain
text then apply unchanged.
"""

from __future__ import annotations

import re

_FRONT_MATTER = re.compile(r"\A---\n(?P<meta>.*?)\n(?:---|\.\.\.)\n", re.S)
_META_LINE = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:\s*(?P<value>.*)$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT_OR_RULE = re.compile(r"^\s{0,3}(?:[-=*_]\s*){3,}$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_CODE = re.compile(r"`([^`]+)`")
_QUOTE = re.compile(r"^\s{0,3}>\s?")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple ``key: value`` YAML front matter (title, date, author...) and the rest."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group("meta").split("\n"):
        if m := _META_LINE.match(line):
            meta[m.group("key").lower()] = m.group("value").strip().strip("\"'")
    return meta, text[match.end() :]


def strip_inline(text: str) -> str:
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = _BOLD.sub(r"\2", text)
    text = _ITALIC.sub(r"\2", text)
    return _HTML_TAG.sub("", text)


def markdown_to_text(text: str) -> str:
    out: list[str] = []
    for line in text.split("\n"):
        if _SETEXT_OR_RULE.match(line) or _REF_DEF.match(line):
            out.append("")
            continue
        if m := _HEADING.match(line):
            line = m.group(1)
        line = _QUOTE.sub("", line)
        out.append(strip_inline(line))
    return "\n".join(out)

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


_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def markdown_to_text(text: str) -> str:
    """Plain text with one line per paragraph (Markdown wraps paragraphs at will)."""
    out: list[str] = []
    joinable = False  # whether the previous line is paragraph text a soft break continues
    for line in text.split("\n"):
        if _SETEXT_OR_RULE.match(line) or _REF_DEF.match(line) or not line.strip():
            out.append("")
            joinable = False
            continue
        if m := _HEADING.match(line):
            out.extend([strip_inline(m.group(1)), ""])  # a heading is a paragraph of its own
            joinable = False
            continue
        line = strip_inline(_QUOTE.sub("", line)).strip()
        if not line:
            continue
        if joinable and not _LIST_ITEM.match(line):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        joinable = True
    return "\n".join(out)

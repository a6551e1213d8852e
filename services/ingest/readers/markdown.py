"""Markdown to plain text with markdown-it-py: the text of each block, without markup.

Headings and paragraphs become paragraphs of their own (a blank line apart), list items
one line each, soft-wrapped lines are joined; links keep their text, images and raw HTML
tags go, inline code keeps its words. The cleaning for plain text then applies unchanged.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

# CommonMark as written: no typographer (quotes and dashes stay as the author typed them).
_MARKDOWN = MarkdownIt("commonmark")
_LIST_OPEN = {"bullet_list_open", "ordered_list_open"}
_LIST_CLOSE = {"bullet_list_close", "ordered_list_close"}


def markdown_to_text(text: str) -> str:
    """Plain text with one line per paragraph (Markdown wraps paragraphs at will)."""
    out: list[str] = []
    lists = 0  # depth of nested lists: their items are lines, not paragraphs
    for token in _MARKDOWN.parse(text):
        if token.type in _LIST_OPEN:
            lists += 1
        elif token.type in _LIST_CLOSE:
            lists -= 1
            if not lists:
                out.append("")
        elif token.type == "inline":
            out.append(_inline_text(token))
            if not lists:
                out.append("")
        elif token.type in ("fence", "code_block"):
            out.extend([*token.content.rstrip("\n").split("\n"), ""])
        elif token.type == "html_block":
            out.extend([_html_text(token.content), ""])
        elif token.type == "hr":
            out.append("")
    return "\n".join(out).strip()


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        # Images, raw HTML tags and the markers of links and emphasis carry no story text.
    return _SPACES.sub(" ", "".join(parts)).strip()


_SPACES = re.compile(r"[ \t]{2,}")  # left where an image or a tag was taken out


class _TextOfHtml(HTMLParser):
    """The text of a raw HTML block, one line per block element, without scripts and styles."""

    _HIDDEN = {"script", "style"}
    _BLOCKS = {"p", "div", "br", "li", "tr", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in self._HIDDEN
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)

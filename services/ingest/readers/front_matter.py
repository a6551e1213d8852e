"""YAML front matter of Markdown articles: ``---`` lines around ``key: value`` fields.

Static-site generators put the title, date, author and source there. PyYAML reads it;
a block that is not valid YAML, or not a mapping of fields, is refused with the line and
what to do, rather than read as story text.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from services.ingest.readers.base import ReadError, ReadLimits
from services.ingest.readers.metadata import kind_of

# The block opens on the first line and closes at the next line of --- (or ...).
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<meta>.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.S | re.M)
# The YAML starts on the file's second line, below the opening ---.
_FIRST_YAML_LINE = 2
_WHAT = "the front matter (the block between the --- lines at the top of the file)"


class _TooComplex(Exception):
    """The YAML uses more aliases, or nests deeper, than the limits allow."""

    def __init__(self, reason: str, line: int):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases past ``max_aliases`` and nesting past
    ``max_depth`` as the document is composed, before anything is built.

    An alias (``*name``) repeats a node; aliases of aliases ("billion laughs") make a few
    hundred bytes stand for gigabytes once anything walks the result. The composer is also
    recursive: unbounded nesting would end in RecursionError.
    """

    max_aliases = 0
    max_depth = 32

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = (event.start_mark.line if event.start_mark else 0) + _FIRST_YAML_LINE
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self.max_aliases:
                raise _TooComplex(
                    f"{_WHAT} uses more than {self.max_aliases} YAML aliases (*name) "
                    "(DATELINE_MAX_YAML_ALIASES): write the values out instead of referring "
                    "to them",
                    line,
                )
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _TooComplex(
                    f"{_WHAT} nests lists or mappings more than {self.max_depth} levels deep "
                    "(DATELINE_MAX_NESTING): article metadata needs a few levels at most",
                    line,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _load(yaml_text: str, limits: ReadLimits) -> Any:
    loader_class = type(
        "_Loader",
        (_BoundedLoader,),
        {"max_aliases": limits.max_yaml_aliases, "max_depth": limits.max_nesting},
    )
    loader = loader_class(yaml_text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def split_front_matter(text: str, limits: ReadLimits | None = None) -> tuple[dict[str, Any], str]:
    """The front matter's fields (keys in lower case) and the Markdown after it.

    A text without front matter gives ``({}, text)``; ReadError when the block is there
    but is not a mapping of fields in valid YAML, or uses more aliases or nesting than
    ``limits`` allow.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = _load(match.group("meta"), limits or ReadLimits.from_settings())
    except _TooComplex as exc:
        raise ReadError(exc.reason, line=exc.line) from exc
    except yaml.YAMLError as exc:
        raise _invalid_yaml(exc) from exc
    except (ValueError, OverflowError) as exc:
        # The parser accepted the text but a value cannot be built: a timestamp such as
        # 2024-13-45 (no month 13), or an integer of thousands of digits.
        raise ReadError(
            f"{_WHAT} holds a value that cannot be read ({exc}): fix it, for example write "
            'a date as 2024-05-01, or put the value in quotes ("...") to keep it as text',
            line=_FIRST_YAML_LINE,
        ) from exc
    except RecursionError as exc:
        raise ReadError(
            f"{_WHAT} nests too deeply to read: article metadata needs a few levels at most",
            line=_FIRST_YAML_LINE,
        ) from exc
    if meta is None:  # an empty block
        meta = {}
    if not isinstance(meta, dict):
        raise ReadError(
            f"{_WHAT} is {kind_of(meta)}, not a set of fields: write one 'key: value' line "
            "per field (such as title: ... and date: ...), or remove the front matter",
            line=_FIRST_YAML_LINE,
        )
    return {str(key).lower(): value for key, value in meta.items()}, text[match.end() :]


def _invalid_yaml(exc: yaml.YAMLError) -> ReadError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + _FIRST_YAML_LINE if mark is not None else None
    problem = getattr(exc, "problem", None) or "it cannot be parsed"
    where = f" at line {line}" if line is not None else ""
    return ReadError(
        f"{_WHAT} is not valid YAML{where} (the YAML parser says: {problem}): fix that line, "
        'for example by quoting a value that holds a colon (title: "Talks: day two"), or '
        "remove the front matter",
        line=line,
    )

"""YAML front matter of Markdown articles: ``---`` lines around ``key: value`` fields.

Static-site generators put the title, date, author and source there. PyYAML reads it;
a block that is not valid YAML, or not a mapping of fields, is refused with the line and
what to do, rather than read as story text.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from services.ingest.readers.base import ReadError
from services.ingest.readers.metadata import kind_of

# The block opens on the first line and closes at the next line of --- (or ...).
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<meta>.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.S | re.M)
# The YAML starts on the file's second line, below the opening ---.
_FIRST_YAML_LINE = 2
_WHAT = "the front matter (the block between the --- lines at the top of the file)"


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The front matter's fields (keys in lower case) and the Markdown after it.

    A text without front matter gives ``({}, text)``; ReadError when the block is there
    but is not a mapping of fields in valid YAML.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group("meta"))
    except yaml.YAMLError as exc:
        raise _invalid_yaml(exc) from exc
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

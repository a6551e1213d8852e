"""``json.loads`` that ends in a value or a ReadError, whatever the text.

The standard library builds the whole structure before anyone can look at its depth, and
recurses to do it: ten megabytes of ``[[[[`` end in RecursionError (or worse) rather than a
reason. The depth is measured first, on the brackets alone, without building anything.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from services.ingest.readers.base import ReadError, ReadLimits
from services.ingest.readers.json_errors import Unit, describe

# A JSON string (escapes included): its brackets are text, not structure.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def nesting_depth_exceeds(text: str, limit: int) -> bool:
    """Whether lists and objects in the JSON ``text`` nest deeper than ``limit``.

    Each pass removes the innermost empty pairs (at C speed); after ``limit`` passes only
    deeper structure, or unbalanced brackets, is left. Only then are the brackets walked one
    by one (stopping as soon as the depth is past the limit).
    """
    brackets = left = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(limit):
        if not left:
            return False
        shorter = _INNERMOST.sub("", left)
        if len(shorter) == len(left):
            break  # unbalanced or mismatched: the walk below decides
        left = shorter
    if not left:
        return False
    depth = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        if depth > limit:
            return True
    return False


def load_json(text: str, limits: ReadLimits, unit: Unit) -> Any:
    """The JSON value of ``text`` (a whole file, or one line of JSON Lines), or ReadError."""
    if nesting_depth_exceeds(text, limits.max_nesting):
        raise ReadError(
            f"the JSON nests lists or objects more than {limits.max_nesting} levels deep "
            f"(DATELINE_MAX_NESTING): an article needs a few levels at most; save it flatter, "
            "or raise DATELINE_MAX_NESTING"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if unit == "line":
            raise ReadError(
                f"this line is not valid JSON at column {exc.colno}: {describe(exc, 'line')}"
            ) from exc
        raise ReadError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {describe(exc, 'file')}",
            line=exc.lineno,
        ) from exc
    except RecursionError as exc:  # a limit above what the interpreter's stack allows
        raise ReadError(
            f"the JSON nests too deeply for this reader (about {sys.getrecursionlimit()} "
            "levels): save it flatter, or lower DATELINE_MAX_NESTING"
        ) from exc
    except ValueError as exc:
        # Integers longer than Python's int_max_str_digits (4300) are refused by json.loads.
        raise ReadError(
            f"the JSON holds a number with more than {sys.get_int_max_str_digits():,} digits, "
            "longer than any article field needs: write it as a string in double quotes, or "
            "remove it"
        ) from exc

"""``json.JSONDecodeError`` in plain words: what is wrong where the parser stopped, and
what to do about it.

The standard library says "Expecting ',' delimiter" or "Unterminated string starting
at"; a person fixing the file needs "a comma or a closing brace } is missing". The
position (line, column) is the caller's to report; ``describe`` says what is wrong there.
"""

from __future__ import annotations

import json
from typing import Literal

Unit = Literal["file", "line"]  # a whole .json file, or one line of a JSON Lines file

_CLOSERS = {"object": "a closing brace }", "list": "a closing bracket ]"}


def describe(exc: json.JSONDecodeError, unit: Unit = "file") -> str:
    """What is wrong where ``exc`` stopped and how to fix it: "a comma ... is missing; ..."."""
    doc, pos, msg = exc.doc, exc.pos, exc.msg
    found = doc[pos : pos + 1]
    before = doc[:pos].rstrip()[-1:]
    at_end = not doc[pos:].strip()
    container = _open_container(doc, pos)
    if unit == "file":
        cut_off = "save the whole file again if it was cut off"
    else:
        cut_off = "a line must hold the whole object"

    if msg.startswith("Unterminated string"):
        fix = (
            "or save the whole file again if it was cut off"
            if unit == "file"
            else "on this line, since a line must hold the whole object"
        )
        return (
            f'a string starting at column {exc.colno} is never closed; add its closing double quote (") {fix}'
        )
    if at_end and msg.startswith(("Expecting ',' delimiter", "Expecting property name")):
        what = container or "object"
        return f"the {what} is never closed because the {unit} ends too early; {cut_off}"
    if msg.startswith("Expecting ',' delimiter"):
        closer = _CLOSERS.get(container or "", "a closing bracket")
        return f"a comma or {closer} is missing before this point; add the one that belongs there"
    if msg.startswith("Expecting property name"):
        if found == "}":
            return "there is a comma after the last field, which JSON does not allow; remove it"
        if found == "'":
            return "a field name is in single quotes; JSON needs double quotes around it"
        return (
            'a field name in double quotes (such as "title") was expected here; check for a '
            "missing quote or a stray character"
        )
    if msg.startswith("Expecting ':' delimiter"):
        return "a colon (:) is missing between a field name and its value; add it"
    if msg.startswith("Expecting value"):
        if at_end:
            return f"the {unit} ends where a value was expected; {cut_off}"
        if before == "," and found in "]}":
            return "there is a comma after the last item, which JSON does not allow; remove it"
        if before == ":" and found in ",}":
            return "a field has no value after its colon; give it one (null if there is none)"
        if found == "'":
            return "a string is in single quotes; JSON needs double quotes around it"
        return (
            f"a value was expected here but the text has {found!r}; a JSON value is a string "
            "in double quotes, a number, true, false, null, an object or a list"
        )
    if msg.startswith("Extra data"):
        if unit == "line":
            return "more text follows the end of the object; put each article on a line of its own"
        return (
            "more text follows the end of the first JSON value; a .json file holds one value, "
            "so put several articles in a list [...] or use .jsonl for one article per line"
        )
    if msg.startswith("Invalid control character"):
        return "a string holds a raw line break or tab; write it as \\n or \\t inside the quotes"
    if msg.startswith("Invalid \\uXXXX escape"):
        return "a \\u escape is not followed by four hexadecimal digits; fix the escape or remove it"
    if msg.startswith("Invalid \\escape"):
        return "a backslash starts an escape that JSON does not know; write a backslash itself as \\\\"
    # A message this module does not know (a newer Python): still say where to look.
    return f"the JSON parser stopped here ({msg}); fix the syntax at this point"


def _open_container(doc: str, pos: int) -> str | None:
    """The innermost object or list still open at ``pos`` ("object", "list" or None).

    The parser read everything before ``pos`` without complaint, so tracking strings and
    brackets is enough.
    """
    stack: list[str] = []
    in_string = escaped = False
    for char in doc[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("object" if char == "{" else "list")
        elif char in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else None

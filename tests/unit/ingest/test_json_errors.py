"""JSON syntax errors are reported in plain words, with line and column, and what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.ingest.readers import ReadError, read_file

# Python's own messages: none of them may reach the user.
PYTHON_FRAGMENTS = re.compile(r"Expecting|Unterminated|delimiter|enclosed in|Extra data|\bat;")


def json_reason(data: str) -> ReadError:
    with pytest.raises(ReadError) as err:
        read_file(Path("x.json"), data.encode())
    assert not PYTHON_FRAGMENTS.search(err.value.reason), err.value.reason
    return err.value


@pytest.mark.parametrize(
    "data,line,column,words",
    [
        (
            '{\n  "title": "a",\n  "body": "b"\n  "url": "c"\n}',
            4, 3, ["a comma or a closing brace } is missing"],
        ),
        (
            '{"title": "Half a file",\n "body": "The text sto',
            2, 10, ["a string starting at column 10 is never closed", "closing double quote"],
        ),
        ('[{"body": "a"} {"body": "b"}]', 1, 16, ["a comma or a closing bracket ] is missing"]),
        ('{"title": "a", "body": "b",}', 1, 28, ["comma after the last field", "remove it"]),
        ('[{"body": "a"},]', 1, 16, ["comma after the last item", "remove it"]),
        ("{'title': 'a'}", 1, 2, ["single quotes", "double quotes"]),
        ('{"title" "a"}', 1, 10, ["a colon (:) is missing"]),
        ('{"title": }', 1, 11, ["no value after its colon"]),
        ('{"title": , "body": "b"}', 1, 11, ["no value after its colon"]),
        ('{"body": nope}', 1, 10, ["a value was expected", "'n'"]),
        ('{"body": "a"} {"body": "b"}', 1, 15, ["more text follows", "a list [...]", ".jsonl"]),
        ('{"body": "a\tb"}', 1, 12, ["raw line break or tab", "\\t"]),
        ('{"body": "C:\\\\dir\\q"}', 1, 18, ["a backslash starts an escape"]),
        ('{"body": [1, 2', 1, 15, ["the list is never closed", "cut off"]),
        ('{"body": "a"', 1, 13, ["the object is never closed", "cut off"]),
    ],
)  # fmt: skip
def test_json_syntax_errors_in_plain_words(data: str, line: int, column: int, words: list[str]) -> None:
    error = json_reason(data)
    assert error.line == line
    assert error.reason.startswith(f"invalid JSON at line {line}, column {column}: ")
    for word in words:
        assert word in error.reason, (word, error.reason)


@pytest.mark.parametrize(
    "line,words",
    [
        ('{"title": "b"', ["at column 14", "the object is never closed", "line ends too early"]),
        ('{"title": "b", "body": "cut', ["a string starting at column 24 is never closed"]),
        ('{"body": "a"} {"body": "b"}', ["more text follows", "a line of its own"]),
        ("{'body': 'a'}", ["single quotes"]),
    ],
)
def test_json_lines_syntax_errors_in_plain_words(line: str, words: list[str]) -> None:
    good = '{"title": "a", "body": "A text."}'
    result = read_file(Path("x.jsonl"), f"{good}\n{line}\n{good}\n".encode())
    assert len(result.articles) == 2
    (issue,) = result.errors
    assert issue.line == 2
    assert issue.reason.startswith("this line is not valid JSON at column ")
    assert not PYTHON_FRAGMENTS.search(issue.reason), issue.reason
    for word in words:
        assert word in issue.reason, (word, issue.reason)

from __future__ import annotations

import re

from shared.text.whitespace import content_sha256, join_lines, normalize_whitespace


def test_normalize_whitespace() -> None:
    raw = "a\u00a0\u00a0b\t c \u200b\r\n\r\n\r\n\r\nd\u202fe  "
    assert normalize_whitespace(raw) == "a b c\n\nd e"


def test_unicode_line_breaks_become_newlines() -> None:
    assert normalize_whitespace("one\u2028two\u2029three\x0cfour") == "one\ntwo\nthree\nfour"


def test_join_lines_keeps_one_blank_line_and_trims_the_ends() -> None:
    assert join_lines(["", "a", "", "", "", "b", ""]) == "a\n\nb"


def test_content_sha256_ignores_whitespace_only_differences() -> None:
    a = content_sha256("Title", "Body one.\n\nBody two.")
    assert a == content_sha256("Title ", "Body\u00a0one.\r\n\r\nBody two.  ")
    assert a != content_sha256("Title", "Body one.\n\nBody three.")
    assert re.fullmatch("[0-9a-f]{64}", a)

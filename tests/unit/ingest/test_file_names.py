"""File names from arbitrary bytes: stored escaped, always encodable, and reversible."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.documents import source_path_for
from services.ingest.paths import escape_name, file_of, unescape_name

# A Linux file name: any bytes but NUL and "/", at most 255 of them.
NAME_BYTES = st.binary(min_size=1, max_size=255).filter(
    lambda b: b"\0" not in b and b"/" not in b and b not in (b".", b"..")
)


@settings(max_examples=2000, deadline=None)
@given(NAME_BYTES)
def test_every_byte_name_escapes_to_encodable_text_and_back(raw: bytes) -> None:
    name = os.fsdecode(raw)  # what os.listdir and watchdog hand over
    escaped = escape_name(name)
    escaped.encode("utf-8")  # Redis, JSON, Celery and Elasticsearch can all take it
    json.dumps(escaped, ensure_ascii=False).encode("utf-8")
    # No newline to split a log line, no control character.
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in escaped)
    assert os.fsencode(unescape_name(escaped)) == raw


@settings(max_examples=500, deadline=None)
@given(st.lists(NAME_BYTES, min_size=1, max_size=4))
def test_source_paths_of_arbitrary_names_lead_back_to_the_file(parts: list[bytes]) -> None:
    inbox = Path("/srv/inbox")
    path = Path(os.fsdecode(b"/srv/inbox/" + b"/".join(parts)))
    sp = source_path_for(path, inbox)
    sp.encode("utf-8")
    assert file_of(sp, inbox) == path


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=50))
def test_distinct_names_never_share_a_source_path(text: str) -> None:
    # The escape is injective on text too: a name that looks like an escape stays apart
    # from the name it looks like.
    assert unescape_name(escape_name(text)) == text
    assert escape_name(text + "\\xe9") != escape_name(text + os.fsdecode(b"\xe9"))


def test_ordinary_names_are_unchanged() -> None:
    for name in ("Reuters/2024-05-01 Pakistan.txt", "déjà vu – €.json", "新闻.md", "a b(1).html"):
        assert escape_name(name) == name


def test_what_people_see() -> None:
    assert escape_name(os.fsdecode(b"caf\xe9.txt")) == "caf\\xe9.txt"
    assert escape_name("two\nlines.txt") == "two\\x0alines.txt"
    assert escape_name("back\\slash.txt") == "back\\\\slash.txt"


def test_records_cannot_name_files_outside_the_inbox() -> None:
    inbox = Path("/srv/inbox")
    assert file_of("/etc/passwd", inbox) is None
    assert file_of("../etc/passwd", inbox) is None
    assert file_of("a/../../etc/passwd", inbox) is None
    assert file_of("a/b.txt", inbox) == inbox / "a" / "b.txt"

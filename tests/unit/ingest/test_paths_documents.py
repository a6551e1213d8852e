"""Ignore patterns, the symlink rule, folder walks, source paths and documents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.ingest.documents import build_document, folder_source, source_path_for
from services.ingest.paths import absolute, ignored_by, symlink_escape, walk_files
from services.ingest.readers.base import ParsedArticle
from shared.schemas import document_id
from shared.settings import DEFAULT_IGNORE_PATTERNS


@pytest.mark.parametrize(
    "parts,expected",
    [
        (("a.txt",), None),
        (("Reuters", "a.txt"), None),
        (("a.txt.part",), "*.part"),
        (("download.crdownload",), "*.crdownload"),
        (("a.txt~",), "*~"),
        (("~$report.txt",), "~$*"),
        (("#a.txt#",), "#*#"),
        (("drafts.tmp", "a.txt"), "*.tmp"),  # a folder's name counts too
        (("x.lock",), "*.lock"),
        ((".hidden.txt",), "hidden"),
        ((".git", "config"), "hidden"),
        (("Reuters", ".cache", "a.txt"), "hidden"),
    ],
)
def test_ignore_patterns(parts: tuple[str, ...], expected: str | None) -> None:
    found = ignored_by(parts, DEFAULT_IGNORE_PATTERNS)
    assert found == expected or (expected == "hidden" and found in ("hidden", ".*"))


def test_ignore_is_case_sensitive_fnmatch() -> None:
    assert ignored_by(("A.TMP",), ["*.tmp"]) is None
    assert ignored_by(("A.TMP",), ["*.TMP"]) == "*.TMP"


def test_hidden_names_ignored_even_without_patterns() -> None:
    assert ignored_by((".DS_Store",), []) == "hidden"


def test_walk_files_skips_ignored_and_hidden(tmp_path: Path) -> None:
    for rel in ["a.txt", "Reuters/b.json", "Reuters/.c.txt", ".git/d.txt", "x.tmp/e.txt", "f.part"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in walk_files(tmp_path, DEFAULT_IGNORE_PATTERNS)]
    assert found == ["a.txt", "Reuters/b.json"]


def test_symlink_out_of_inbox_is_detected(tmp_path: Path) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    (inbox / "real.txt").write_text("x")
    os.symlink(outside / "secret.txt", inbox / "out.txt")
    os.symlink(inbox / "real.txt", inbox / "in.txt")
    assert symlink_escape(inbox / "out.txt", inbox.resolve()) == (outside / "secret.txt").resolve()
    assert symlink_escape(inbox / "in.txt", inbox.resolve()) is None
    assert symlink_escape(inbox / "real.txt", inbox.resolve()) is None


def test_walk_yields_symlinked_folders_without_entering(tmp_path: Path) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    (outside / "a.txt").write_text("x")
    os.symlink(outside, inbox / "linked")
    assert list(walk_files(inbox, [])) == [inbox / "linked"]


def test_absolute_keeps_the_link_name(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("x")
    os.symlink(tmp_path / "real.txt", tmp_path / "link.txt")
    assert absolute(tmp_path / "link.txt").name == "link.txt"
    assert absolute(tmp_path / "sub" / ".." / "link.txt") == tmp_path.resolve() / "link.txt"


def test_source_paths(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    assert source_path_for(inbox / "Reuters" / "a.txt", inbox) == "Reuters/a.txt"
    assert (
        source_path_for(tmp_path / "elsewhere" / "b.txt", inbox)
        == (tmp_path / "elsewhere" / "b.txt").as_posix()
    )


def test_folder_source(tmp_path: Path) -> None:
    assert folder_source(tmp_path / "Reuters" / "a.txt", tmp_path) == "Reuters"
    assert folder_source(tmp_path / "Reuters" / "2024" / "a.txt", tmp_path) == "Reuters"
    assert folder_source(tmp_path / "a.txt", tmp_path) is None
    assert folder_source(tmp_path / "a.txt", None) is None


def _article(**extra: object) -> ParsedArticle:
    return ParsedArticle(title="T", body="Body text.", format="text", **extra)


def test_build_document() -> None:
    doc = build_document(
        _article(record=2, language_hint="de"),
        source_path="Reuters/a.jsonl",
        revision=7,
        folder="Reuters",
    )
    assert doc.id == document_id("Reuters/a.jsonl", 2)
    assert (doc.record, doc.revision, doc.source, doc.language_hint) == (2, 7, "Reuters", "de")
    assert doc.format == "text"


def test_the_body_is_split_into_sentences_once_here() -> None:
    """The document carries its sentences' offsets; stages and the page read them."""
    body = "Talks resumed in Doha on Monday. Both sides called them constructive.\nMore later."
    doc = build_document(ParsedArticle(title="T", body=body, format="text"), source_path="a.txt", revision=1)
    assert [body[start:end] for start, end in doc.sentences] == [
        "Talks resumed in Doha on Monday.",
        "Both sides called them constructive.",
        "More later.",
    ]


def test_file_metadata_source_wins_over_folder() -> None:
    doc = build_document(_article(source="Dawn"), source_path="Reuters/a.json", revision=1, folder="Reuters")
    assert doc.source == "Dawn"


def test_same_content_same_hash_different_ids() -> None:
    a = build_document(_article(), source_path="a.txt", revision=1)
    b = build_document(_article(), source_path="copy of a.txt", revision=1)
    assert a.content_sha256 == b.content_sha256
    assert a.id != b.id

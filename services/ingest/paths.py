"""Which files ingest looks at: ignore patterns, hidden names, symlinks, folder walks."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

# File names are bytes on Linux; Python hands the bytes that are not UTF-8 (a Latin-1 name
# from a Windows archive) over as lone surrogates U+DC80..U+DCFF ("surrogateescape"), which
# Redis, JSON, Celery and Elasticsearch cannot encode. Source paths escape them reversibly.
_ESCAPED = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def escape_name(name: str) -> str:
    r"""A file name as Dateline stores and shows it: always encodable, and reversible.

    A byte that is not UTF-8 becomes ``\xNN``, and so does a control character (a newline in
    a name would split log lines); a backslash is doubled so that the escape is unambiguous.
    Ordinary names (no backslash, no control character, valid UTF-8) are unchanged.
    """
    if name.isprintable() and "\\" not in name:
        return name  # the common case, in one C-level check
    out = []
    for char in name:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0x80 <= code <= 0x9F or code in (0x2028, 0x2029) or 0xD800 <= code <= 0xDFFF:
            # C1 controls and line separators (they split lines too) and lone surrogates that
            # cannot come from the file system (os.fsdecode gives only U+DC80..U+DCFF).
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def unescape_name(escaped: str) -> str:
    """The file-system name (``os.fsdecode`` form) of a name ``escape_name`` made."""

    def one(match: re.Match[str]) -> str:
        token = match.group(1)
        if token == "\\":
            return "\\"
        code = int(token[1:], 16)
        if token[0] == "u":
            return chr(code)
        return chr(code) if code < 0x80 else chr(0xDC00 + code)

    return _ESCAPED.sub(one, escaped) if "\\" in escaped else escaped


def file_of(source_path: str, inbox: Path) -> Path | None:
    """The file a registry source path names, if it lies inside the inbox.

    Absolute source paths (files backfilled from other folders) and paths climbing out of
    the inbox (``..``) give None: a registry record is never a way to make Dateline read
    an arbitrary file.
    """
    name = unescape_name(source_path)
    if name.startswith("/") or ".." in Path(name).parts:
        return None
    path = inbox / name
    return path if is_within(absolute(path), inbox) else None


def absolute(path: Path | str) -> Path:
    """Absolute path with the folders resolved but not the file itself.

    A symlink keeps its own name (its source path), while ``/tmp/../inbox/x`` and
    symlinked parent folders compare equal to the inbox.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    return path.parent.resolve() / path.name


def is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def ignored_by(parts: Sequence[str], patterns: Iterable[str]) -> str | None:
    """The pattern (or "hidden") that excludes a path given as its components, if any.

    Every component is checked, so ``drafts.tmp/article.txt`` and ``.git/x`` are ignored
    along with their folder.
    """
    patterns = list(patterns)
    for part in parts:
        if part.startswith("."):
            return "hidden"
        for pattern in patterns:
            if fnmatchcase(part, pattern):
                return pattern
    return None


def relative_parts(path: Path, root: Path | None) -> tuple[str, ...]:
    if root is not None and is_within(path, root):
        return path.relative_to(root).parts
    return (path.name,)


def symlink_escape(path: Path, inbox: Path) -> Path | None:
    """Where ``path`` leads if it is a symlink (or under one) pointing outside the inbox."""
    target = path.resolve()
    return None if is_within(target, inbox) else target


def walk_files(root: Path, patterns: Sequence[str]) -> Iterator[Path]:
    """Files under ``root`` (recursively) that are not ignored, in a stable order.

    Symlinked folders are not entered (no loops, no files counted twice); symlinked files
    are yielded so the processor can report links that lead out of the inbox.
    """
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        dirs[:] = sorted(d for d in dirs if not ignored_by(relative_parts(base / d, root), patterns))
        for name in sorted(files):
            path = base / name
            if not ignored_by(relative_parts(path, root), patterns):
                yield path
        # Symlinked folders appear in ``dirs``; os.walk skips them with followlinks=False.
        for d in dirs:
            link = base / d
            if link.is_symlink():
                yield link

"""Which files ingest looks at: ignore patterns, hidden names, symlinks, folder walks."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from fnmatch import fnmatchcase
from pathlib import Path


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
        dirs[:] = sorted(
            d for d in dirs if not ignored_by(relative_parts(base / d, root), patterns)
        )
        for name in sorted(files):
            path = base / name
            if not ignored_by(relative_parts(path, root), patterns):
                yield path
        # Symlinked folders appear in ``dirs``; os.walk skips them with followlinks=False.
        for d in dirs:
            link = base / d
            if link.is_symlink():
                yield link

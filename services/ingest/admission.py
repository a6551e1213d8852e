"""Whether a path may be read at all, decided from its metadata before any byte is read.

The answer is one of:

- :class:`Admitted`: a regular file of a supported type within the size limit, with the
  reader to use;
- :class:`Refused`: a problem a person must fix (too large, unsupported type, a symlink
  leading out of the inbox, a broken link, no permission), with the reason;
- :class:`NotRegular`: a folder - nothing to report (pipes, sockets and devices are
  refused: never opened, since reading them could block intake or never end);
- :class:`Gone`: the path does not exist (any more).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from services.ingest.paths import is_within, symlink_escape
from services.ingest.readers import Reader, ReadError, reader_for
from shared.settings import Settings


@dataclass(frozen=True)
class Admitted:
    reader: Reader
    size: int
    mtime: float


@dataclass(frozen=True)
class Refused:
    """``remembered``: the file is not looked at again until its size or mtime change
    (a permission problem or a broken link is checked again on every scan instead)."""

    reason: str
    remembered: bool
    size: int = 0
    mtime: float = 0.0


@dataclass(frozen=True)
class NotRegular:
    pass


@dataclass(frozen=True)
class Gone:
    pass


Admission = Admitted | Refused | NotRegular | Gone


def admit(path: Path, inbox: Path, settings: Settings) -> Admission:
    """``path`` is absolute and not resolved through symlinks (see ``paths.absolute``).

    A symlink inside the inbox must lead to a file inside it; files outside the inbox
    (a backfill of another folder) may be links to anywhere.
    """
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return Gone()

    if stat.S_ISLNK(lst.st_mode):
        target = symlink_escape(path, inbox) if is_within(path, inbox) else None
        if target is not None:
            return Refused(
                f"The symlink points outside the inbox (to {target}). Dateline reads only files "
                "inside the inbox: copy the file into the inbox instead of linking it.",
                remembered=True,
                size=lst.st_size,
                mtime=lst.st_mtime,
            )
        if not path.exists():
            return Refused(
                f"The symlink is broken: its target {os.readlink(path)} does not exist. "
                "Fix or remove the link.",
                remembered=False,
            )
    try:
        st = os.stat(path)
    except PermissionError:
        return Refused(permission_reason(path), remembered=False)
    if stat.S_ISDIR(st.st_mode):
        return NotRegular()
    if not stat.S_ISREG(st.st_mode):
        return Refused(special_reason(st.st_mode), remembered=True, size=st.st_size, mtime=st.st_mtime)

    if st.st_size > settings.max_file_bytes:
        return too_large(st.st_size, st.st_mtime, settings)
    try:
        reader = reader_for(path)
    except ReadError as exc:
        return Refused(exc.reason, remembered=True, size=st.st_size, mtime=st.st_mtime)
    return Admitted(reader, st.st_size, st.st_mtime)


def read_admitted(path: Path, settings: Settings) -> bytes | Refused | Gone:
    """The bytes of an admitted file, read through one descriptor that is checked again.

    Between ``admit`` and the read the path may have been replaced (by a named pipe, whose
    open would block the whole intake, or by a larger file): the descriptor is opened without
    blocking, must be a regular file, and at most one byte past the limit is read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return Gone()
    except PermissionError:
        return Refused(permission_reason(path), remembered=False)
    except OSError as exc:
        return Refused(
            f"Opening the file failed ({exc.strerror or exc}). Check the disk or share it is on; "
            "it is tried again on the next scan.",
            remembered=False,
        )
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Refused(special_reason(st.st_mode), remembered=True, size=st.st_size, mtime=st.st_mtime)
        limit = settings.max_file_bytes
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        return Refused(
            f"Reading the file failed ({exc.strerror or exc}). Check the disk or share it is on; "
            "it is tried again on the next scan.",
            remembered=False,
        )
    finally:
        os.close(fd)
    if total > limit:
        return too_large(max(total, st.st_size), st.st_mtime, settings)
    return b"".join(chunks)


def too_large(size: int, mtime: float, settings: Settings) -> Refused:
    return Refused(
        f"The file is too large ({size / 1048576:.1f} MB, the limit is {settings.max_file_mb:g} MB). "
        "Split it into smaller files or raise DATELINE_MAX_FILE_MB.",
        remembered=True,
        size=size,
        mtime=mtime,
    )


_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_reason(mode: int) -> str:
    kind = next((name for test, name in _SPECIAL if test(mode)), "not a regular file")
    return (
        f"This is {kind}, not a regular file: Dateline reads only regular files (it never opens pipes, "
        "sockets or devices, which could block it or never end). Save the article as an ordinary file."
    )


def permission_reason(path: Path) -> str:
    return (
        "Reading the file failed: permission denied. Make it readable by the user running Dateline "
        f"(e.g. chmod a+r '{path}')."
    )

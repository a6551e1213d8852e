"""Whether a path may be read at all, decided from its metadata before any byte is read.

The answer is one of:

- :class:`Admitted`: a regular file of a supported type within the size limit, with the
  reader to use;
- :class:`Refused`: a problem a person must fix (too large, unsupported type, a symlink
  leading out of the inbox, a broken link, no permission), with the reason;
- :class:`NotRegular`: a folder, socket or device - nothing to report;
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
                remembered=True, size=lst.st_size, mtime=lst.st_mtime,
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
    if not stat.S_ISREG(st.st_mode):
        return NotRegular()

    if st.st_size > settings.max_file_bytes:
        return Refused(
            f"The file is too large ({st.st_size / 1048576:.1f} MB, the limit is "
            f"{settings.max_file_mb:g} MB). Split it into smaller files or raise DATELINE_MAX_FILE_MB.",
            remembered=True, size=st.st_size, mtime=st.st_mtime,
        )
    try:
        reader = reader_for(path)
    except ReadError as exc:
        return Refused(exc.reason, remembered=True, size=st.st_size, mtime=st.st_mtime)
    return Admitted(reader, st.st_size, st.st_mtime)


def permission_reason(path: Path) -> str:
    return (
        "Reading the file failed: permission denied. Make it readable by the user running Dateline "
        f"(e.g. chmod a+r '{path}')."
    )

"""Files waiting to become stable: the watcher reads a file only once its size and mtime
stayed unchanged for ``stable_seconds`` (a file still being copied is never read
half-written). Pure bookkeeping, safe to call from watchdog's thread and the loop's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Size and mtime stand-ins for files that cannot be stat'ed: they stay stable, so the
# processor gets to look at them and report why (a broken link, a permission problem).
BROKEN_LINK = (-2, -2.0)
UNREADABLE = (-3, -3.0)

Stat = Callable[[Path], tuple[int, float] | None]


def stat_size_mtime(path: Path) -> tuple[int, float] | None:
    """(size, mtime) of ``path``; None when it is gone (and not a dangling symlink)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return BROKEN_LINK if path.is_symlink() else None
    except OSError:
        return UNREADABLE
    return st.st_size, st.st_mtime


@dataclass
class _Seen:
    size: int
    mtime: float
    since: float


class PendingFiles:
    def __init__(self, stable_seconds: float, stat: Stat = stat_size_mtime):
        self.stable_seconds = stable_seconds
        self._stat = stat
        self._lock = threading.Lock()
        self._seen: dict[Path, _Seen] = {}

    def touch(self, path: Path, now: float) -> None:
        """Something happened to ``path``: (re)start its stability clock."""
        with self._lock:
            self._seen[path] = _Seen(-1, -1.0, now)

    def discard(self, path: Path) -> None:
        with self._lock:
            self._seen.pop(path, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def __bool__(self) -> bool:
        return len(self) > 0

    def stable(self, now: float) -> list[Path]:
        """The paths whose size and mtime held still long enough; they leave the set."""
        ready: list[Path] = []
        with self._lock:
            items = list(self._seen.items())
        for path, seen in items:
            current = self._stat(path)  # outside the lock: a slow disk must not block events
            with self._lock:
                if self._seen.get(path) is not seen:
                    continue  # a new event restarted its clock meanwhile
                if current is None:
                    del self._seen[path]  # vanished before it became stable
                elif current != (seen.size, seen.mtime):
                    self._seen[path] = _Seen(current[0], current[1], now)
                elif now - seen.since >= self.stable_seconds:
                    del self._seen[path]
                    ready.append(path)
        return ready

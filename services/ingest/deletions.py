"""Files that vanished from the inbox, held back a moment before their documents go.

Editors save by writing a new file and renaming it over the old one, and people move files
between folders: a vanished path is handled only after ``stable_seconds``, and while new
files are still settling (possibly the same file under its new name) it waits up to
``DELETE_PATIENCE_SECONDS`` longer, so a rename keeps one document instead of deleting and
re-creating it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

DELETE_PATIENCE_SECONDS = 60.0


@dataclass(frozen=True)
class Deletion:
    source_path: str
    due: float
    renamed_to: str | None = None


class PendingDeletions:
    def __init__(self, stable_seconds: float, patience: float = DELETE_PATIENCE_SECONDS):
        self.stable_seconds = stable_seconds
        self.patience = patience
        self._lock = threading.Lock()
        self._due: dict[str, Deletion] = {}

    def vanished(self, source_path: str, now: float, renamed_to: str | None = None) -> None:
        """``source_path`` is gone (``renamed_to``: its new name, when an event said so)."""
        with self._lock:
            self._due[source_path] = Deletion(source_path, now + self.stable_seconds, renamed_to)

    def missing(self, source_path: str, now: float) -> None:
        """A rescan did not find ``source_path``: schedule it unless already scheduled."""
        with self._lock:
            self._due.setdefault(source_path, Deletion(source_path, now + self.stable_seconds))

    def due(self, now: float, files_settling: bool) -> list[Deletion]:
        """Deletions to handle now; they leave the set.

        While files are settling a deletion waits for them (one may be its new name),
        unless a rename event already named the new path or patience ran out.
        """
        with self._lock:
            ready = [
                d
                for d in self._due.values()
                if d.due <= now and (not files_settling or d.renamed_to or now - d.due > self.patience)
            ]
            for deletion in ready:
                del self._due[deletion.source_path]
        return ready

    def __len__(self) -> int:
        with self._lock:
            return len(self._due)

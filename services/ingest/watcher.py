"""The ingest service: watch the inbox, wait until files are stable, process them.

Filesystem events only mark paths as pending (``pending.py``); each step of the loop
handles the pending paths whose size and mtime stayed unchanged for ``stable_seconds``,
then due deletions (``deletions.py``). A full rescan at start and every
``rescan_seconds`` catches anything the events missed, e.g. changes made while the
service was down, or on network and container mounts where events are lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import redis
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from services.ingest.deletions import PendingDeletions
from services.ingest.paths import absolute, is_within, walk_files
from services.ingest.pending import PendingFiles
from services.ingest.processor import Ingestor
from services.ingest.reconciler import build_reconciler
from shared.heartbeat import IngestDetails, ServiceName
from shared.schemas import utcnow
from shared.service import ServiceLoop
from shared.settings import Settings, get_settings

log = logging.getLogger("dateline.ingest")


class _Events(FileSystemEventHandler):
    """Runs in watchdog's thread: only notes what happened (in thread-safe sets)."""

    def __init__(self, watcher: Watcher):
        self.watcher = watcher

    def on_created(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.watcher.request_rescan()  # a folder copied in: its files may predate the watch
        else:
            self.watcher.watch(Path(_str(event.src_path)))

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.watcher.watch(Path(_str(event.src_path)))

    def on_closed(self, event: FileSystemEvent) -> None:
        self.on_modified(event)

    def on_deleted(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.watcher.request_rescan()
        else:
            self.watcher.vanish(Path(_str(event.src_path)))

    def on_moved(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.watcher.request_rescan()
            return
        self.watcher.moved(Path(_str(event.src_path)), Path(_str(event.dest_path)))


def _str(value: str | bytes) -> str:
    return os.fsdecode(value)


class Watcher(ServiceLoop):
    service: ClassVar[ServiceName] = "ingest"

    def __init__(self, ingestor: Ingestor, settings: Settings | None = None, **kwargs: Any):
        super().__init__(settings or ingestor.settings, connect_redis=lambda: ingestor.redis, **kwargs)
        self.ingestor = ingestor
        self.inbox = ingestor.inbox
        self.pending = PendingFiles(self.settings.stable_seconds)
        self.deletions = PendingDeletions(self.settings.stable_seconds)
        self._observer: BaseObserver | None = None
        self._next_rescan = 0.0  # at once
        self._rescan_requested = False
        self._last_rescan: datetime | None = None
        self._counts = {"queued": 0, "failed": 0}

    # --- called from watchdog's thread (and from rescans) ---------------------------------
    def watch(self, path: Path) -> None:
        """Mark ``path`` pending; its stability clock restarts."""
        path = absolute(path)
        if is_within(path, self.inbox) and not self.ingestor.ignored(path):
            self.pending.touch(path, time.monotonic())

    def vanish(self, path: Path, renamed_to: str | None = None) -> None:
        path = absolute(path)
        if is_within(path, self.inbox):
            self.pending.discard(path)
            self.deletions.vanished(self.ingestor.source_path(path), time.monotonic(), renamed_to)

    def moved(self, src: Path, dest: Path) -> None:
        dest = absolute(dest)
        keeps_it = is_within(dest, self.inbox) and not self.ingestor.ignored(dest)
        # Moved within the inbox: the new name carries the documents, the old name's go.
        self.vanish(src, renamed_to=self.ingestor.source_path(dest) if keeps_it else None)
        if keeps_it:
            self.watch(dest)

    def request_rescan(self) -> None:
        self._rescan_requested = True

    # --- the service loop -----------------------------------------------------------------
    def setup(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        if self._observer is None:
            observer = Observer()
            observer.schedule(_Events(self), str(self.inbox), recursive=True)
            observer.start()
            self._observer = observer
        log.info(
            "ingest watching %s (recursive; stable after %gs, rescan every %gs, on_delete=%s)",
            self.inbox,
            self.settings.stable_seconds,
            self.settings.rescan_seconds,
            self.settings.on_delete,
        )

    def step(self) -> None:
        now = time.monotonic()
        if now >= self._next_rescan or self._rescan_requested:
            self._rescan_requested = False
            self.rescan()  # when it fails, the next step (after the guard's back-off) tries again
            self._next_rescan = now + self.settings.rescan_seconds
        self.process_stable()
        self.stop_event.wait(self.settings.ingest_tick_seconds)

    def teardown(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=10)

    def details(self) -> IngestDetails:
        return IngestDetails(
            inbox=str(self.inbox),
            pending=len(self.pending),
            queued=self._counts["queued"],
            failed=self._counts["failed"],
            last_rescan=self._last_rescan,
        )

    def rescan(self) -> None:
        """Queue every new or changed file, and every registered file that vanished."""
        present: set[str] = set()
        for path in walk_files(self.inbox, self.settings.ignore_patterns):
            present.add(self.ingestor.source_path(path))
            if not self._looks_unchanged(path):
                self.watch(path)
        now = time.monotonic()
        for source_path in self.ingestor.vanished(present):
            self.deletions.missing(source_path, now)
        self._last_rescan = utcnow()

    def _looks_unchanged(self, path: Path) -> bool:
        """Per-file isolation in the rescan: a file whose check fails for a reason of its own is
        handed to ``process``, which fails it with the cause; the scan goes on with the others."""
        try:
            return self.ingestor.looks_unchanged(path)
        except (redis.ConnectionError, redis.TimeoutError):
            raise  # Redis is away: the whole step waits (the loop's back-off), nothing is lost
        except Exception:  # noqa: BLE001 - one file must not stop the scan of the others
            log.exception("checking %s failed; it is processed (and failed with the cause) on its own", path)
            return False

    def process_stable(self) -> None:
        """Process the pending files that are stable now, then due deletions."""
        now = time.monotonic()
        for path in self.pending.stable(now):
            outcome = self.ingestor.process(path)
            if outcome.status in self._counts:
                self._counts[outcome.status] += 1
        for deletion in self.deletions.due(now, files_settling=bool(self.pending)):
            source_path = deletion.source_path
            if not source_path.startswith("/") and self.ingestor.still_there(source_path):
                continue  # it came back (an editor's save-by-rename)
            self.ingestor.handle_deleted(source_path, renamed_to=deletion.renamed_to)


def run_service() -> None:
    """Entry point of ``python -m services.ingest``: the watcher, and the reconciler in a
    thread beside it; SIGTERM stops both."""
    settings = get_settings()
    stop = threading.Event()
    reconciler = build_reconciler(settings, stop=stop)
    beside = threading.Thread(target=reconciler.run, name="reconciler", daemon=True)
    beside.start()
    try:
        Watcher(Ingestor.from_settings(settings), stop=stop).run()
    finally:
        stop.set()
        beside.join(timeout=60)

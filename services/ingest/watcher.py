"""The ingest service: watch the inbox, wait until files are stable, process them.

Filesystem events only mark paths as pending; one loop in the main thread checks the
pending paths every tick and handles those whose size and mtime stayed unchanged for
``stable_seconds`` (a file still being copied is never read half-written). A full rescan
at start and every ``rescan_seconds`` catches anything the events missed, e.g. changes
made while the service was down. Nothing in the loop is allowed to stop it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis
from pydantic import BaseModel, Field
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from services.ingest.paths import absolute, is_within, walk_files
from services.ingest.processor import Ingestor
from shared.queues import HEARTBEAT_TTL_SECONDS, SERVICES_KEY
from shared.schemas import utcnow

log = logging.getLogger("dateline.ingest")

# A vanished file waits for pending new files (a possible rename) at most this long.
DELETE_PATIENCE_SECONDS = 60.0
RESCAN_RETRY_SECONDS = 5.0


class Heartbeat(BaseModel):
    service: str = "ingest"
    host: str
    pid: int
    inbox: str
    started_at: datetime
    at: datetime = Field(default_factory=utcnow)
    pending: int = 0
    queued: int = 0
    failed: int = 0
    last_rescan: datetime | None = None


@dataclass
class _Pending:
    size: int
    mtime: float
    since: float


@dataclass
class _Deletion:
    due: float
    renamed_to: str | None = None


class _Events(FileSystemEventHandler):
    """Runs in watchdog's thread: only records what happened, under the watcher's lock."""

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


class Watcher:
    def __init__(self, ingestor: Ingestor):
        self.ingestor = ingestor
        self.settings = ingestor.settings
        self.inbox = ingestor.inbox
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[Path, _Pending] = {}
        self._deletions: dict[str, _Deletion] = {}
        self._rescan_requested = threading.Event()
        self._started_at = utcnow()
        self._last_rescan: datetime | None = None
        self._counts = {"queued": 0, "failed": 0}
        self._heartbeat_ok = True

    # --- called from watchdog's thread (and from rescans) ---------------------------------
    def watch(self, path: Path) -> None:
        """Mark ``path`` pending; its stability clock restarts."""
        path = absolute(path)
        if not is_within(path, self.inbox) or self.ingestor.ignored(path):
            return
        with self._lock:
            self._pending[path] = _Pending(-1, -1.0, time.monotonic())

    def vanish(self, path: Path, renamed_to: str | None = None) -> None:
        path = absolute(path)
        if not is_within(path, self.inbox):
            return
        sp = self.ingestor.source_path(path)
        with self._lock:
            self._pending.pop(path, None)
            self._deletions[sp] = _Deletion(
                time.monotonic() + self.settings.stable_seconds, renamed_to
            )

    def moved(self, src: Path, dest: Path) -> None:
        dest = absolute(dest)
        keeps_it = is_within(dest, self.inbox) and not self.ingestor.ignored(dest)
        # Moved within the inbox: the new name carries the documents, the old name's go.
        self.vanish(src, renamed_to=self.ingestor.source_path(dest) if keeps_it else None)
        if keeps_it:
            self.watch(dest)

    def request_rescan(self) -> None:
        self._rescan_requested.set()

    def stop(self, *_: object) -> None:
        log.info("stopping ingest")
        self.stop_event.set()

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        observer = Observer()
        observer.schedule(_Events(self), str(self.inbox), recursive=True)
        observer.start()
        log.info(
            "ingest watching %s (recursive; stable after %gs, rescan every %gs, on_delete=%s)",
            self.inbox,
            self.settings.stable_seconds,
            self.settings.rescan_seconds,
            self.settings.on_delete,
        )
        next_rescan = 0.0  # at once
        next_heartbeat = 0.0
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                if now >= next_rescan or self._rescan_requested.is_set():
                    self._rescan_requested.clear()
                    ok = self._guard(self.rescan)
                    next_rescan = now + (
                        self.settings.rescan_seconds if ok else RESCAN_RETRY_SECONDS
                    )
                self._guard(self.tick)
                if now >= next_heartbeat:
                    self.heartbeat()
                    next_heartbeat = now + self.settings.ingest_heartbeat_seconds
                self.stop_event.wait(self.settings.ingest_tick_seconds)
        finally:
            observer.stop()
            observer.join(timeout=10)
            self._clear_heartbeat()
            log.info("ingest stopped")

    def _guard(self, step: object) -> bool:
        try:
            step()  # type: ignore[operator]
            return True
        except redis.RedisError as exc:
            log.error(
                "Redis is unreachable (%s): is it running at %s? retrying",
                exc,
                self.settings.redis_url,
            )
        except Exception:  # the service must outlive any one bad file or bug
            log.exception("ingest step failed; continuing")
        return False

    def rescan(self) -> None:
        """Queue every new or changed file, and every registered file that vanished."""
        present: set[str] = set()
        for path in walk_files(self.inbox, self.settings.ignore_patterns):
            present.add(self.ingestor.source_path(path))
            if not self.ingestor.looks_unchanged(path):
                self.watch(path)
        now = time.monotonic()
        for sp in self.ingestor.vanished(present):
            with self._lock:
                self._deletions.setdefault(sp, _Deletion(now + self.settings.stable_seconds))
        self._last_rescan = utcnow()

    def tick(self) -> None:
        """Process the pending files that are stable now, then due deletions."""
        now = time.monotonic()
        for path in self._stable_paths(now):
            outcome = self.ingestor.process(path)
            if outcome.status in self._counts:
                self._counts[outcome.status] += 1
        with self._lock:
            waiting_files = bool(self._pending)
            due = [
                (sp, d)
                for sp, d in self._deletions.items()
                if d.due <= now
                and (not waiting_files or d.renamed_to or now - d.due > DELETE_PATIENCE_SECONDS)
            ]
            for sp, _ in due:
                del self._deletions[sp]
        for sp, deletion in due:
            if (self.inbox / sp).exists() and not sp.startswith("/"):
                continue  # it came back (an editor's save-by-rename)
            self.ingestor.handle_deleted(sp, renamed_to=deletion.renamed_to)

    def _stable_paths(self, now: float) -> list[Path]:
        ready: list[Path] = []
        with self._lock:
            items = list(self._pending.items())
        for path, seen in items:
            try:
                st = os.stat(path)
                size, mtime = st.st_size, st.st_mtime
            except FileNotFoundError:
                if not path.is_symlink():
                    with self._lock:
                        self._pending.pop(path, None)
                    continue
                size, mtime = -2, -2.0  # a broken link: report it once stable
            except OSError:
                size, mtime = -3, -3.0  # unreadable: let process() report why
            with self._lock:
                current = self._pending.get(path)
                if current is not seen:
                    continue  # a new event restarted its clock meanwhile
                if (size, mtime) != (seen.size, seen.mtime):
                    self._pending[path] = _Pending(size, mtime, now)
                elif now - seen.since >= self.settings.stable_seconds:
                    del self._pending[path]
                    ready.append(path)
        return ready

    # --- heartbeat ------------------------------------------------------------------------
    @property
    def heartbeat_key(self) -> str:
        return f"{SERVICES_KEY}ingest:{socket.gethostname()}"

    def heartbeat(self) -> None:
        with self._lock:
            pending = len(self._pending)
        beat = Heartbeat(
            host=socket.gethostname(),
            pid=os.getpid(),
            inbox=str(self.inbox),
            started_at=self._started_at,
            pending=pending,
            last_rescan=self._last_rescan,
            queued=self._counts["queued"],
            failed=self._counts["failed"],
        )
        try:
            self.ingestor.redis.set(
                self.heartbeat_key, beat.model_dump_json(), ex=HEARTBEAT_TTL_SECONDS
            )
            self._heartbeat_ok = True
        except redis.RedisError as exc:
            if self._heartbeat_ok:
                log.warning("cannot write the heartbeat: %s", exc)
            self._heartbeat_ok = False

    def _clear_heartbeat(self) -> None:
        try:
            self.ingestor.redis.delete(self.heartbeat_key)
        except redis.RedisError:
            pass


def run_service() -> None:
    """Entry point of ``python -m services.ingest``."""
    Watcher(Ingestor.from_settings()).run()

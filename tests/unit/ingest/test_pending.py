"""The stability debounce and the rename patience, without a filesystem or a clock."""

from __future__ import annotations

from pathlib import Path

from services.ingest.deletions import PendingDeletions
from services.ingest.pending import PendingFiles

A, B = Path("/inbox/a.txt"), Path("/inbox/b.txt")


class Disk:
    """What ``stat`` sees: path -> (size, mtime); absent paths are gone."""

    def __init__(self) -> None:
        self.files: dict[Path, tuple[int, float]] = {}

    def stat(self, path: Path) -> tuple[int, float] | None:
        return self.files.get(path)


def test_a_file_is_ready_once_it_held_still_for_the_stable_time() -> None:
    disk = Disk()
    pending = PendingFiles(2.0, stat=disk.stat)
    disk.files[A] = (10, 1.0)
    pending.touch(A, now=0.0)
    assert pending.stable(0.5) == []  # first look: its size is noted, the clock starts
    assert pending.stable(2.0) == []  # 1.5 s unchanged: not yet
    assert pending.stable(2.6) == [A]
    assert len(pending) == 0  # handed out once


def test_a_growing_file_restarts_its_clock() -> None:
    disk = Disk()
    pending = PendingFiles(2.0, stat=disk.stat)
    disk.files[A] = (10, 1.0)
    pending.touch(A, now=0.0)
    pending.stable(0.5)
    disk.files[A] = (20, 2.0)  # still being copied
    assert pending.stable(2.6) == []
    assert pending.stable(4.0) == []
    assert pending.stable(4.7) == [A]


def test_an_event_restarts_the_clock_and_a_vanished_file_is_dropped() -> None:
    disk = Disk()
    pending = PendingFiles(1.0, stat=disk.stat)
    disk.files[A] = (1, 1.0)
    disk.files[B] = (1, 1.0)
    pending.touch(A, 0.0)
    pending.touch(B, 0.0)
    pending.stable(0.1)
    pending.touch(A, 0.9)  # modified again
    del disk.files[B]  # deleted before it settled
    assert pending.stable(1.2) == []
    assert len(pending) == 1
    pending.stable(1.3)
    assert pending.stable(2.4) == [A]


def test_a_deletion_waits_for_settling_files_unless_the_new_name_is_known() -> None:
    deletions = PendingDeletions(stable_seconds=1.0, patience=60.0)
    deletions.vanished("old.txt", now=0.0)
    deletions.vanished("moved.txt", now=0.0, renamed_to="Dawn/moved.txt")
    assert deletions.due(0.5, files_settling=False) == []
    due = deletions.due(1.5, files_settling=True)
    assert [d.source_path for d in due] == ["moved.txt"]  # a rename event named the new path
    assert deletions.due(30.0, files_settling=True) == []  # may be a rename still settling
    assert [d.source_path for d in deletions.due(62.0, files_settling=True)] == ["old.txt"]
    assert len(deletions) == 0


def test_a_rescan_does_not_push_back_a_deletion_already_scheduled() -> None:
    deletions = PendingDeletions(stable_seconds=1.0)
    deletions.vanished("a.txt", now=0.0)
    deletions.missing("a.txt", now=5.0)
    assert [d.source_path for d in deletions.due(1.1, files_settling=False)] == ["a.txt"]

"""Ingest given files or folders once (``dateline ingest PATH...``), same rules as the service."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from services.ingest.ledger import STAGE
from services.ingest.paths import absolute, walk_files
from services.ingest.processor import FileOutcome, Ingestor
from shared.registry import Failure

Progress = Callable[[int, int, FileOutcome], None]


class BackfillSummary(BaseModel):
    queued: int = 0
    skipped: int = 0
    ignored: int = 0
    failed: list[Failure] = Field(default_factory=list)
    queued_paths: list[str] = Field(
        default_factory=list, description="Source paths queued, e.g. to wait for indexing."
    )
    articles: int = 0


def expand_paths(
    paths: Iterable[Path | str], ingestor: Ingestor
) -> tuple[list[tuple[Path, Path | None]], list[Failure]]:
    """Every file to look at, with the folder it was found under; missing paths as failures."""
    files: list[tuple[Path, Path | None]] = []
    missing: list[Failure] = []
    for given in paths:
        path = absolute(given)
        if path.is_dir() and not path.is_symlink():
            files.extend((f, path) for f in walk_files(path, ingestor.settings.ignore_patterns))
        elif path.exists() or path.is_symlink():
            files.append((path, None))
        else:
            missing.append(
                Failure(
                    path=str(given),
                    reason="no such file or folder: check the path",
                    stage=STAGE,
                )
            )
    return files, missing


def ingest_paths(
    paths: Iterable[Path | str],
    *,
    progress: Progress | None = None,
    ingestor: Ingestor | None = None,
    force: bool = False,
) -> BackfillSummary:
    """Queue the articles of ``paths`` (files, or folders walked recursively).

    ``progress(done, total, outcome)`` is called after each file. Unchanged files are
    skipped, exactly as the watcher would, unless ``force`` queues them again.
    """
    ingestor = ingestor or Ingestor.from_settings()
    files, missing = expand_paths(paths, ingestor)
    summary = BackfillSummary(failed=missing)
    seen: set[str] = set()
    unchanged: set[str] = set()
    for done, (path, root) in enumerate(files, start=1):
        outcome = ingestor.process(path, root=root, force=force)
        if outcome.path in seen:  # the same file named twice: counted once
            pass
        elif outcome.status == "queued":
            summary.queued += 1
            summary.articles += outcome.articles
            summary.queued_paths.append(outcome.path)
            summary.failed.extend(outcome.failures)  # bad lines next to good ones
        elif outcome.status == "failed":
            summary.failed.extend(
                outcome.failures or [Failure(path=outcome.path, reason=outcome.detail, stage=STAGE)]
            )
        elif outcome.status == "ignored":
            summary.ignored += 1
        else:
            summary.skipped += 1
            unchanged.add(outcome.path)
        seen.add(outcome.path)
        if progress is not None:
            progress(done, len(files), outcome)
    if unchanged:
        # Unchanged files that failed before (or have bad lines) still need fixing.
        summary.failed.extend(
            f for f in ingestor.registry.failures() if f.stage == STAGE and f.path in unchanged
        )
    return summary

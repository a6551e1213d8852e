"""Every figure ``make bench`` measures, written to ``.dateline/bench/results.json`` as flat
``"name": number`` pairs (merged with the figures of earlier parts of the same run, so each
benchmark module records its own and the README quotes them from one file)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tests.support.paths import REPO_DIR

RESULTS = REPO_DIR / ".dateline" / "bench" / "results.json"


def record(figures: dict[str, float], path: Path = RESULTS) -> dict[str, float]:
    """Merge ``figures`` into the results file; returns everything recorded so far."""
    for name, value in figures.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"benchmark figure {name!r} must be a finite number, got {value!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update({name: round(float(value), 4) for name, value in figures.items()})
    path.write_text(json.dumps(dict(sorted(current.items())), indent=2) + "\n")
    return current


def start_run(path: Path = RESULTS) -> None:
    """A new ``make bench`` run starts from an empty file: no figure of an old run survives."""
    path.unlink(missing_ok=True)

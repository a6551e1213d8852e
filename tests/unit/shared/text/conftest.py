"""Fixtures for the text toolkit's tests: the five real seed articles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SEEDS = Path(__file__).parents[3] / "fixtures" / "seeds"


def read_seed(prefix: str) -> str:
    """The text of the seed article whose file name starts with ``prefix`` (e.g. "002")."""
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.fixture
def seed() -> Callable[[str], str]:
    return read_seed

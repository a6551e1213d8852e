"""Documents made from the seed articles, read by the real readers, for tests and benchmarks."""

from __future__ import annotations

from services.ingest.documents import build_document
from services.ingest.readers import reader_for
from shared.schemas import ArticleDocument
from tests.support.paths import SEEDS


def seed_documents(count: int, prefix: str = "bench") -> list[ArticleDocument]:
    """``count`` documents cycling through the seeds, each with its own id and source path."""
    seeds = sorted(SEEDS.glob("*.txt"))
    parsed = [reader_for(p).read(p, p.read_bytes()).articles[0] for p in seeds]
    return [
        build_document(
            parsed[i % len(parsed)], source_path=f"{prefix}/{i:05d}-{seeds[i % len(seeds)].name}", revision=1
        )
        for i in range(count)
    ]

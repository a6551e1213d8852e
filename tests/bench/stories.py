"""Story grouping's cost (``make bench`` part 7; alone: ``python -m tests.bench.stories``).

- ``story_share_of_ner``: the story stage's time per article - the MinHash signature of the
  body and ``StoryIndex.assign`` on a real Redis, as the indexer runs them - against the fast
  NER stand-in's (int8, one thread, as a worker runs it), timed in one loop: the story stage
  over the seeds and their syndicated versions (``make eval``'s set), a fresh index each
  round, each seed tagged right after its own story stage. Each article keeps its fastest round.
- ``story_lookup_ms_10k`` / ``story_lookup_ms_1m``: the assignment of a new article (bucket
  lookup, candidates confirmed on their signatures, the writes) with 10,000 and 1,000,000
  signatures stored, and their ratio ``story_lookup_growth``. Redis is filled with synthetic
  signatures through ``StoryIndex.write`` (exactly the keys assignment writes), pipelined.
- ``story_redis_bytes_per_signature``: Redis memory (``used_memory``) per stored signature at
  1,000,000, and ``story_redis_keys_per_signature``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis
from rich.console import Console
from rich.table import Table

from services.worker.story_evaluation import Doc, labelled_set, throwaway_redis
from shared.settings import get_settings
from shared.stories.index import StoryIndex
from shared.stories.signature import NUM_PERM, signature
from tests.bench.results import record
from tests.support.paths import SEEDS

SIZES = (10_000, 1_000_000)
FILL_BATCH = 2_000  # documents encoded at a time


def _content(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _fastest(work: Callable[[int], object], count: int, rounds: int, between: Callable[[], object]) -> float:
    """Mean over ``count`` items of each item's fastest of ``rounds`` runs, in milliseconds."""
    times: list[list[float]] = [[] for _ in range(count)]
    for _ in range(rounds):
        between()
        for i in range(count):
            started = time.perf_counter()
            work(i)
            times[i].append(time.perf_counter() - started)
    return 1000 * statistics.mean(min(t) for t in times)


def _fast_tagger() -> Any:
    """The fast NER stand-in in int8, one thread, as a worker runs it."""
    import torch

    from services.worker.nlp.quantize import for_cpu
    from tests.bench.standins import build_standin

    torch.set_num_threads(1)  # as a worker process runs (DATELINE_TORCH_THREADS=1)
    tagger, _form = for_cpu(build_standin("fast"), enabled=True, reload=lambda: build_standin("fast"))
    return tagger


def _seed_docs() -> list[Doc]:
    seeds = {p.stem for p in SEEDS.glob("*.txt")}
    return [d for d in labelled_set() if d.base in seeds]


def stage_and_ner_ms(
    client: redis.Redis, docs: Sequence[Doc], threshold: float, rounds: int
) -> tuple[float, float]:
    """Milliseconds per article of the story stage (signature and assignment, a fresh index
    each round) over ``docs``, and of the fast NER over the originals among them, timed in
    one loop (each original tagged right after its story stage), so that both see the same
    machine; each article keeps its fastest round."""
    from tests.support.tagging import token_tags

    index = StoryIndex(client, threshold)
    tagger = _fast_tagger()
    contents = [_content(d.body) for d in docs]
    originals = {i for i, d in enumerate(docs) if d.kind == "original"}
    story: list[list[float]] = [[] for _ in docs]
    ner: dict[int, list[float]] = {i: [] for i in originals}
    index.assign("warm-up", "warm-up", "warm-up", signature(docs[0].body))  # one-off costs
    token_tags(tagger, [docs[0].body])
    for _ in range(rounds):
        client.flushdb()
        for i, doc in enumerate(docs):
            started = time.perf_counter()
            index.assign(doc.id, doc.id, contents[i], signature(doc.body))
            story[i].append(time.perf_counter() - started)
            if i in ner:
                started = time.perf_counter()
                token_tags(tagger, [doc.body])
                ner[i].append(time.perf_counter() - started)
    return (
        1000 * statistics.mean(min(t) for t in story),
        1000 * statistics.mean(min(t) for t in ner.values()),
    )


class _Resp:
    """Stands in for a pipeline in ``StoryIndex.write``: the commands it queues, encoded in
    Redis's protocol for ``redis-cli --pipe`` (redis-py packs and parses ~35 million commands
    many times slower than Redis runs them)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.commands = 0

    def _command(self, *args: object) -> None:
        self.out += b"*%d\r\n" % len(args)
        for arg in args:
            raw = arg if isinstance(arg, bytes) else str(arg).encode()
            self.out += b"$%d\r\n%b\r\n" % (len(raw), raw)
        self.commands += 1

    def hset(
        self, key: str, field: str | None = None, value: object = None, mapping: dict | None = None
    ) -> None:
        pairs = [(field, value)] if field is not None else []
        pairs += list((mapping or {}).items())
        self._command("HSET", key, *(x for pair in pairs for x in pair))

    def hdel(self, key: str, field: str) -> None:
        self._command("HDEL", key, field)

    def sadd(self, key: str, member: str) -> None:
        self._command("SADD", key, member)


def _url(client: redis.Redis) -> str:
    where = client.connection_pool.connection_kwargs
    return f"redis://{where.get('host', '127.0.0.1')}:{where.get('port', 6379)}/{where.get('db', 0)}"


def fill(redis_url: str, index: StoryIndex, start: int, stop: int, seed: int = 7) -> None:
    """Store synthetic documents ``start`` .. ``stop - 1``: random signatures (so, like real
    articles of different stories, they share no bucket), written by ``StoryIndex.write`` as
    assignment writes them, pipelined through ``redis-cli --pipe``."""
    rng = np.random.default_rng(seed + start)
    cli = shutil.which("redis-cli")
    if cli is None:
        raise SystemExit(
            "redis-cli is not installed: `make setup` installs Redis (or apt-get install redis-tools)"
        )
    with subprocess.Popen(
        [cli, "-u", redis_url, "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=False
    ) as pipe:
        assert pipe.stdin is not None
        for low in range(start, stop, FILL_BATCH):
            high = min(low + FILL_BATCH, stop)
            values = rng.integers(0, 2**32, size=(high - low, NUM_PERM), dtype=np.uint32)
            resp = _Resp()
            for n, sig in zip(range(low, high), values, strict=True):
                doc_id = f"{n:032x}"
                path = f"synthetic/{n // 100:07d}.jsonl"  # 100 articles a file
                buckets = {bucket: [doc_id] for bucket in index.buckets(sig)}
                index.write(resp, doc_id, path, doc_id, sig, buckets, doc_id[:24], None, 1)  # type: ignore[arg-type]
            if high == stop:
                resp.hset("dateline:story:stats", "started", stop)  # as if each had started a story
            pipe.stdin.write(bytes(resp.out))
        output, _ = pipe.communicate()
    summary = output.decode(errors="replace")
    if pipe.returncode != 0 or "errors: 0," not in summary:
        raise SystemExit(f"filling Redis with synthetic signatures failed: {summary.strip()}")


def lookup_ms(index: StoryIndex, queries: Sequence[Doc], rounds: int) -> float:
    """A new article's assignment with what is stored; the queries leave again after each
    round, so every round (and every size) sees the same stored set."""
    sigs = [signature(d.body) for d in queries]
    contents = [_content(d.body) for d in queries]
    ids = [f"query-{i}" for i in range(len(queries))]

    def assign(i: int) -> None:
        index.assign(ids[i], f"query/{i}", contents[i], sigs[i])

    return _fastest(assign, len(queries), rounds, lambda: index.remove(ids))


@dataclass
class StoryFigures:
    stage_ms: float
    ner_ms: float
    lookup_ms: dict[int, float]
    bytes_per_signature: float
    keys_per_signature: float
    fill_seconds: float

    def as_record(self) -> dict[str, float]:
        small, large = self.lookup_ms[SIZES[0]], self.lookup_ms[SIZES[1]]
        return {
            "story_ms_per_article": self.stage_ms,
            "story_ner_ms_fast_int8": self.ner_ms,
            "story_share_of_ner": self.stage_ms / self.ner_ms,
            "story_lookup_ms_10k": small,
            "story_lookup_ms_1m": large,
            "story_lookup_growth": large / small,
            "story_redis_bytes_per_signature": self.bytes_per_signature,
            "story_redis_keys_per_signature": self.keys_per_signature,
            "story_fill_signatures_per_s": (SIZES[1] - SIZES[0]) / self.fill_seconds,
        }


def bench_stories(console: Console, rounds: int = 5, redis_url: str | None = None) -> dict[str, float]:
    """Part 7, recorded and printed."""
    threshold = get_settings().story_threshold
    docs = _seed_docs()
    lookups: dict[int, float] = {}
    with throwaway_redis(redis_url) as client:
        stage, ner_ms = stage_and_ner_ms(client, docs, threshold, rounds)
        client.flushdb()
        index = StoryIndex(client, threshold)
        base = int(client.info("memory")["used_memory"])
        stored = 0
        fill_seconds = 0.0
        for size in SIZES:
            started = time.perf_counter()
            fill(_url(client), index, stored, size)
            if stored:
                fill_seconds = time.perf_counter() - started
            stored = size
            lookups[size] = lookup_ms(index, docs, rounds)
        used = int(client.info("memory")["used_memory"]) - base
        keys = int(client.dbsize())
        client.flushdb()
    figures = StoryFigures(stage, ner_ms, lookups, used / stored, keys / stored, fill_seconds).as_record()
    record(figures)
    table = Table("measure", "figure", title="7. Story grouping (real Redis)")
    table.add_row("story stage (signature + assignment), ms / article", f"{stage:.2f}")
    table.add_row("fast int8 NER stand-in, ms / article", f"{ner_ms:.0f}")
    table.add_row(
        "[bold]story_share_of_ner[/bold] (bar <= 0.05)", f"[bold]{figures['story_share_of_ner']:.4f}[/bold]"
    )
    for size, ms in lookups.items():
        table.add_row(f"assignment of a new article, {size:,} signatures stored, ms", f"{ms:.2f}")
    table.add_row(
        "[bold]story_lookup_growth[/bold] (bar <= 2)", f"[bold]{figures['story_lookup_growth']:.2f}[/bold]"
    )
    table.add_row("Redis bytes per stored signature", f"{figures['story_redis_bytes_per_signature']:.0f}")
    table.add_row("Redis keys per stored signature", f"{figures['story_redis_keys_per_signature']:.1f}")
    console.print(table)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--redis-url", help="a Redis database to flush and use (default: a throwaway redis-server)"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bench_stories(Console(), rounds=args.rounds, redis_url=args.redis_url)


if __name__ == "__main__":
    main()

"""The story index: every article's signature in Redis, shared by every process on every host,
and the one place a ``story_id`` is decided.

Layout (all under ``dateline:story:``):

- ``b:<band>:<shard>`` - the LSH buckets of one band, a hash per shard: field ``<hash>`` (the
  bucket), value the ids of the documents whose signature has that band (``rows`` values)
  equal, one per line. Two signatures share a bucket in some band with a probability that
  rises steeply around the threshold (``bands_for``). Why 65,536 hashes per band (shards
  named by the bucket hash's first ``SHARD_HEX`` digits) and not a set per bucket: every stored document has a bucket of its own in every band (32 at
  the default threshold), and a Redis key per bucket cost 33 keys and 10.4 KB of Redis
  memory per document (`make bench`, 100,000 stored), 10 GB at a million articles; small
  hashes are stored packed, one key holds many buckets (see the README's figures).
- ``doc:<id>`` - a hash: the signature (``sig``), its ``story``, the ``content`` hash it was
  made from, the file (``path``) and when the story was joined.
- ``file:<path>`` - a set: the document ids of a file, so a deleted file leaves its stories.
- ``stats`` - a hash of counters: documents that started a story, joined one, left one.

Assignment (``assign``) is one optimistic transaction (WATCH the document and its buckets,
read the candidates, decide, MULTI/EXEC the writes). Two copies assigned at the same moment
on two hosts share buckets, so the second EXEC fails, is retried, and then sees the first
copy with its story: both end in one story, without a lock that a dead process could keep.
Candidates are confirmed on the full signature (estimated Jaccard >= threshold), so a chance
bucket collision never joins two stories.

What a story_id is, and why it stays: a story is named once, when its first member arrives,
after that member (``story_id_for``: its document id and content). Members keep the name they
joined under and newcomers take it from whichever member they match; nothing is renamed
when members leave, so a story whose first member was deleted (or changed into another text)
keeps its id as long as one member remains, and the index in Elasticsearch never needs a
rewrite. A document that matches members of two stories joins the closer one (ties: the
smaller story id); the stories are not merged, for the same reason.

Idempotent: assigning a document again with the same content returns its story and writes
nothing (retries, reprocessing, a replayed index batch). With other content (the file
changed), its old signature leaves its buckets first, then it is assigned afresh.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import redis

from shared.keys import PREFIX
from shared.redis_client import as_text
from shared.schemas import text_story_id
from shared.stories.signature import NUM_PERM, from_bytes, similarity, to_bytes

STORY_PREFIX = PREFIX + ":story:"
BUCKET_KEY = STORY_PREFIX + "b:"
DOC_KEY = STORY_PREFIX + "doc:"
FILE_KEY = STORY_PREFIX + "file:"
STATS_KEY = STORY_PREFIX + "stats"
RedisValue = bytes | bytearray | memoryview | str | int | float  # what redis-py's hset takes
# How often a transaction is tried again when another process wrote the same buckets first.
MAX_ATTEMPTS = 50
# Leading hex digits of a bucket's hash that name its shard (16**4 = 65,536 hashes per band):
# up to ~8 million documents a shard stays under Redis's 128 entries of a packed hash, and two
# assignments at once rarely watch the same shard (1 in 2,000 for 32 bands).
SHARD_HEX = 4
MEMBER_SEPARATOR = "\n"  # document ids never hold a line break
Bucket = tuple[str, str]  # (the shard's key, the bucket's field)


@lru_cache(maxsize=None)
def bands_for(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows) for ``threshold``: datasketch's choice, weighting a missed pair nine times
    as much as a false candidate (candidates are confirmed on the full signature, so a false
    one costs a comparison; a missed one is a copy shown as a story of its own)."""
    from datasketch.lsh import _optimal_param

    bands, rows = _optimal_param(threshold, num_perm, 0.1, 0.9)
    return int(bands), int(rows)


def story_id_for(doc_id: str, content: str) -> str:
    return hashlib.sha256(f"{doc_id}\n{content}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Assignment:
    story_id: str
    joined: bool  # True: matched another document; False: started a story of its own
    matched: str | None = None  # the member it matched
    similarity: float | None = None


class StoryIndex:
    def __init__(self, client: redis.Redis, threshold: float):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(
                f"the story threshold must be in (0, 1], not {threshold} (DATELINE_STORY_THRESHOLD)"
            )
        self.redis = client
        self.threshold = threshold
        self.bands, self.rows = bands_for(threshold)

    def buckets(self, values: np.ndarray) -> list[Bucket]:
        raw = to_bytes(values)
        width = self.rows * 4
        found = []
        for band in range(self.bands):
            digest = hashlib.blake2b(raw[band * width : (band + 1) * width], digest_size=8).hexdigest()
            found.append((f"{BUCKET_KEY}{band}:{digest[:SHARD_HEX]}", digest[SHARD_HEX:]))
        return found

    def _read_members(self, buckets: Sequence[Bucket]) -> dict[Bucket, list[str]]:
        """The ids in each bucket, in one round trip.

        Read on a pipeline of its own connection, after the caller's WATCH of these buckets'
        keys: a bucket changed after the WATCH fails the caller's EXEC whichever connection
        read it, so the optimistic check holds. One HGET per band on the watching pipeline
        was a round trip each (32 per article at the default threshold); with the
        candidates' reads batched too, a profile of the indexer on 180 articles with many
        copies went from 16.5 to 7.8 ms of CPU per article."""
        with self.redis.pipeline(transaction=False) as reads:
            for key, field in buckets:
                reads.hget(key, field)
            replies = reads.execute()
        return {
            bucket: as_text(raw).split(MEMBER_SEPARATOR) if raw else []
            for bucket, raw in zip(buckets, replies, strict=True)
        }

    # --- assignment -------------------------------------------------------------------------
    def assign(
        self, doc_id: str, path: str, content: str, values: np.ndarray | None, revision: int = 0
    ) -> Assignment:
        """The story of ``doc_id`` (``content``: a hash of its text; ``values``: its signature,
        None for a text too short to compare, which is a story of its own; ``revision``: the
        file's, so a late write of an older revision changes nothing, as in Elasticsearch)."""
        doc_key = DOC_KEY + doc_id
        buckets = self.buckets(values) if values is not None else []
        for _ in range(MAX_ATTEMPTS):
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(doc_key, *{key for key, _ in buckets})  # type: ignore[no-untyped-call]  # redis-py: untyped
                    known = {as_text(k): v for k, v in pipe.hgetall(doc_key).items()}
                    older = known and revision < int(known.get("revision", 0))
                    if known and (older or as_text(known.get("content", b"")) == content):
                        matched = known.get("matched")
                        return Assignment(
                            as_text(known["story"]),
                            joined=bool(matched),
                            matched=as_text(matched) if matched else None,
                        )
                    old_sig = known.get("sig")
                    old_buckets = self.buckets(from_bytes(old_sig)) if old_sig else []
                    if old_buckets:
                        pipe.watch(*{key for key, _ in old_buckets})  # type: ignore[no-untyped-call]
                    members = self._read_members([*old_buckets, *buckets])
                    best = (
                        self._best_match(doc_id, [members[b] for b in buckets], values)
                        if values is not None
                        else None
                    )
                    if best:
                        story = best[2]
                    elif values is None:
                        # Too short to compare: its exact text is its story (identical short
                        # texts are still one story, as identical long ones are).
                        story = text_story_id(content)
                    else:
                        story = story_id_for(doc_id, content)
                    # Each bucket it was or will be in, with its members after this write.
                    after = {b: [m for m in ids if m != doc_id] for b, ids in members.items()}
                    for bucket in buckets:
                        after[bucket].append(doc_id)
                    pipe.multi()
                    pipe.delete(doc_key)
                    self.write(
                        pipe, doc_id, path, content, values, after, story, best[0] if best else None, revision
                    )
                    if not known:
                        pipe.hincrby(STATS_KEY, "joined" if best else "started", 1)
                    pipe.execute()
                except redis.WatchError:
                    continue  # another process wrote one of these buckets first: look again
            if best:
                return Assignment(story, joined=True, matched=best[0], similarity=best[1])
            return Assignment(story, joined=False)
        raise RuntimeError(
            f"story assignment of {doc_id} ({path}) lost {MAX_ATTEMPTS} races in a row for its LSH buckets; "
            "something is writing them in a loop (check the indexers' logs)"
        )

    @staticmethod
    def write(
        pipe: redis.client.Pipeline,
        doc_id: str,
        path: str,
        content: str,
        values: np.ndarray | None,
        buckets: Mapping[Bucket, Sequence[str]],
        story: str,
        matched: str | None,
        revision: int,
    ) -> None:
        """Queue the writes that store one document on ``pipe``: ``buckets``, each with its
        members after the write (an empty one is dropped), its record, its file's set. The one
        place the layout is written, so `make bench` fills Redis with what assignment stores."""
        StoryIndex._write_buckets(pipe, buckets)
        record: dict[RedisValue, RedisValue] = {
            "story": story,
            "content": content,
            "path": path,
            "revision": revision,
            "at": f"{time.time():.3f}",
        }
        if values is not None:
            record["sig"] = to_bytes(values)
        if matched:
            record["matched"] = matched
        pipe.hset(DOC_KEY + doc_id, mapping=record)
        pipe.sadd(FILE_KEY + path, doc_id)

    @staticmethod
    def _write_buckets(pipe: redis.client.Pipeline, buckets: Mapping[Bucket, Sequence[str]]) -> None:
        for (key, field), ids in buckets.items():
            if ids:
                pipe.hset(key, field, MEMBER_SEPARATOR.join(ids))
            else:
                pipe.hdel(key, field)

    def _best_match(
        self, doc_id: str, buckets: Iterable[list[str]], values: np.ndarray
    ) -> tuple[str, float, str] | None:
        """(member, similarity, story) of the closest confirmed candidate, if any."""
        candidates: set[str] = set()
        for ids in buckets:
            candidates.update(ids)
        candidates.discard(doc_id)
        members = sorted(candidates)
        # Every candidate's signature and story in one round trip (a copy of a wire story has
        # a candidate per earlier copy: one HMGET each was as many round trips).
        with self.redis.pipeline(transaction=False) as reads:
            for member in members:
                reads.hmget(DOC_KEY + member, "sig", "story")
            replies = reads.execute()
        best: tuple[str, float, str] | None = None
        for member, (sig, story) in zip(members, replies, strict=True):
            if sig is None or story is None:
                continue  # left meanwhile (its bucket entries go in the same transaction)
            score = similarity(values, from_bytes(sig))
            if score < self.threshold:
                continue
            story_id = as_text(story)
            if best is None or score > best[1] or (score == best[1] and story_id < best[2]):
                best = (member, score, story_id)
        return best

    # --- leaving ----------------------------------------------------------------------------
    def remove(self, doc_ids: Iterable[str], revision: int | None = None) -> int:
        """Take documents out of the index (their file was deleted or lost the record); with
        ``revision``, only those written by that revision of their file or an older one."""
        removed = 0
        for doc_id in doc_ids:
            doc_key = DOC_KEY + doc_id
            with self.redis.pipeline() as pipe:
                for _ in range(MAX_ATTEMPTS):
                    try:
                        pipe.watch(doc_key)  # type: ignore[no-untyped-call]  # redis-py: untyped
                        sig, path, stored = pipe.hmget(doc_key, "sig", "path", "revision")
                        if path is None or (revision is not None and int(stored or 0) > revision):
                            pipe.unwatch()
                            break
                        buckets = self.buckets(from_bytes(sig)) if sig is not None else []
                        if buckets:
                            pipe.watch(*{key for key, _ in buckets})  # type: ignore[no-untyped-call]
                        members = self._read_members(buckets)
                        pipe.multi()
                        self._write_buckets(
                            pipe, {b: [m for m in ids if m != doc_id] for b, ids in members.items()}
                        )
                        pipe.delete(doc_key)
                        pipe.srem(FILE_KEY + as_text(path), doc_id)
                        pipe.hincrby(STATS_KEY, "left", 1)
                        pipe.execute()
                        removed += 1
                        break
                    except redis.WatchError:
                        continue
        return removed

    def remove_file(self, path: str, keep: Iterable[str] = (), revision: int | None = None) -> int:
        """Take a file's documents out, all but ``keep`` (the records it still has)."""
        members = {as_text(m) for m in self.redis.smembers(FILE_KEY + path)}
        return self.remove(sorted(members - set(keep)), revision)

    # --- upgrading --------------------------------------------------------------------------
    def pack_old_buckets(self) -> int:
        """Move buckets stored the old way (a set per bucket: ``b:<band>:<16 hex digits>``)
        into their shards; the indexer runs it as it starts (one SCAN, nothing to do once they
        are moved). Returns how many buckets were moved."""
        moved = 0
        for raw in self.redis.scan_iter(match=BUCKET_KEY + "*", count=1000):
            old = as_text(raw)
            digest = old.rsplit(":", 1)[1]
            if len(digest) == SHARD_HEX:
                continue  # a shard already
            bucket = (f"{old[: -len(digest)]}{digest[:SHARD_HEX]}", digest[SHARD_HEX:])
            for _ in range(MAX_ATTEMPTS):
                with self.redis.pipeline() as pipe:
                    try:
                        pipe.watch(old, bucket[0])  # type: ignore[no-untyped-call]  # redis-py: untyped
                        ids = sorted(as_text(m) for m in pipe.smembers(old))
                        current = self._read_members([bucket])[bucket]
                        pipe.multi()
                        self._write_buckets(pipe, {bucket: [*current, *(i for i in ids if i not in current)]})
                        pipe.delete(old)
                        pipe.execute()
                        moved += 1
                        break
                    except redis.WatchError:
                        continue
        return moved

    # --- reading ----------------------------------------------------------------------------
    def story_of(self, doc_id: str) -> str | None:
        story = self.redis.hget(DOC_KEY + doc_id, "story")
        return as_text(story) if story is not None else None

    def stats(self) -> dict[str, int]:
        return {as_text(k): int(v) for k, v in self.redis.hgetall(STATS_KEY).items()}

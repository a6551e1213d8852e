"""The story index on a real Redis: grouping, idempotence, leaving, and two processes
assigning copies of one story at the same moment."""

from __future__ import annotations

import multiprocessing
import random

import pytest
import redis

from shared.schemas import text_story_id
from shared.stories.index import BUCKET_KEY, DOC_KEY, MEMBER_SEPARATOR, SHARD_HEX, StoryIndex
from shared.stories.signature import signature
from tests.support.paths import SEEDS

THRESHOLD = 0.3
VOCABULARY = sorted(
    {
        w.strip(".,\"'():;").lower()
        for path in SEEDS.glob("*.txt")
        for w in path.read_text(encoding="utf-8").split()
    }
    - {""}
)


def story_text(seed: int, words: int = 120) -> str:
    """A text no other seed produces (random words from the seeds' vocabulary)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(VOCABULARY) for _ in range(words)) + "."


def copy_of(text: str, kind: int) -> str:
    """A syndicated version: agency prefix, or the tail trimmed, or a footer appended."""
    if kind == 0:
        return "(Reuters) - " + text
    if kind == 1:
        return " ".join(text.split()[:100])
    return text + " Follow us on Twitter and Facebook for more news from the region."


def db_url(redis_url: str) -> str:
    return redis_url.rsplit("/", 1)[0] + "/14"


@pytest.fixture
def client(redis_url):
    client = redis.Redis.from_url(db_url(redis_url))
    client.flushdb()
    yield client
    client.flushdb()


def assign(index: StoryIndex, doc_id: str, text: str, path: str | None = None, content: str | None = None):
    return index.assign(doc_id, path or f"{doc_id}.txt", content or str(hash(text)), signature(text))


def test_versions_share_a_story_and_different_stories_do_not(client):
    index = StoryIndex(client, THRESHOLD)
    base = story_text(1)
    first = assign(index, "a", base)
    assert not first.joined
    for n, kind in enumerate(range(3)):
        version = assign(index, f"a{n}", copy_of(base, kind))
        assert version.joined and version.story_id == first.story_id
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    stories = {assign(index, f"seed{n}", text).story_id for n, text in enumerate(seeds)}
    assert len(stories) == len(seeds) and first.story_id not in stories
    assert index.stats() == {"started": 6, "joined": 3}


def test_texts_too_short_to_compare_are_the_story_of_their_exact_text(client):
    index = StoryIndex(client, THRESHOLD)
    short = "Markets closed early."
    one = assign(index, "s1", short, content="sha-short")
    two = assign(index, "s2", short, content="sha-short")
    other = assign(index, "s3", "Markets opened late.", content="sha-other")
    # Identical short texts stay one story (search collapses them as before); others do not.
    assert one.story_id == two.story_id == text_story_id("sha-short") != other.story_id
    assert not one.joined and not two.joined


def test_assigning_again_is_idempotent_and_a_changed_text_is_regrouped(client):
    index = StoryIndex(client, THRESHOLD)
    a, b = story_text(2), story_text(3)
    story_a = assign(index, "x", a, content="v1").story_id
    assert assign(index, "x", a, content="v1").story_id == story_a  # a retry: nothing changes
    copy = assign(index, "y", copy_of(a, 0))
    assert copy.story_id == story_a
    # The file of x changed into another text: x leaves the story, y stays in it.
    moved = assign(index, "x", b, content="v2")
    assert moved.story_id != story_a and not moved.joined
    assert index.story_of("y") == story_a
    # A new copy of a finds the story through y, the member that remains.
    assert assign(index, "z", copy_of(a, 2)).story_id == story_a
    assert index.stats() == {"started": 1, "joined": 2}  # a document is counted once, when it first arrives


def test_the_story_id_outlives_its_first_member(client):
    index = StoryIndex(client, THRESHOLD)
    text = story_text(4)
    story = assign(index, "first", text, path="wire/first.txt").story_id
    assert assign(index, "second", copy_of(text, 1), path="paper/second.txt").story_id == story
    assert index.remove_file("wire/first.txt") == 1
    assert not client.exists(DOC_KEY + "first")
    assert assign(index, "third", copy_of(text, 0)).story_id == story
    assert index.remove(["nope"]) == 0


def test_a_file_keeps_the_records_it_still_has(client):
    index = StoryIndex(client, THRESHOLD)
    for n in range(3):
        assign(index, f"r{n}", story_text(10 + n), path="feed.jsonl")
    assert index.remove_file("feed.jsonl", keep=["r0"]) == 2
    assert index.story_of("r0") is not None and index.story_of("r1") is None


def _assign_copies(url: str, kind: int, rounds: int, barrier, out) -> None:
    index = StoryIndex(redis.Redis.from_url(url), THRESHOLD)
    for n in range(rounds):
        text = copy_of(story_text(100 + n), kind)
        barrier.wait()  # both processes start on the same story at the same moment
        out.put(
            (
                n,
                kind,
                index.assign(f"p{kind}-{n}", f"host{kind}/{n}.txt", str(kind), signature(text)).story_id,
            )
        )


def test_two_processes_assigning_copies_at_once_end_in_one_story(client, redis_url):
    rounds = 40
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_assign_copies, args=(db_url(redis_url), kind, rounds, barrier, out))
        for kind in (0, 2)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=120) for _ in range(2 * rounds)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    stories: dict[int, set[str]] = {}
    for n, _kind, story in results:
        stories.setdefault(n, set()).add(story)
    assert all(len(found) == 1 for found in stories.values()), stories
    assert len({next(iter(found)) for found in stories.values()}) == rounds
    assert StoryIndex(client, THRESHOLD).stats() == {"started": rounds, "joined": rounds}


def test_a_late_older_revision_changes_nothing(client):
    index = StoryIndex(client, THRESHOLD)
    new, old = story_text(20), story_text(21)
    story = index.assign("d", "d.txt", "v2", signature(new), revision=2).story_id
    assert index.assign("d", "d.txt", "v1", signature(old), revision=1).story_id == story
    assert index.remove(["d"], revision=1) == 0 and index.story_of("d") == story
    assert index.remove_file("d.txt", revision=2) == 1


def _bucket_entries(client: redis.Redis) -> dict[tuple[bytes, bytes], set[str]]:
    """Every LSH bucket stored, with its members."""
    entries = {}
    for key in client.scan_iter(match=BUCKET_KEY + "*"):
        for field, value in client.hgetall(key).items():
            entries[(key, field)] = set(value.decode().split(MEMBER_SEPARATOR))
    return entries


def test_buckets_are_packed_into_shards_and_leave_with_their_members(client):
    index = StoryIndex(client, THRESHOLD)
    text = story_text(20)
    assign(index, "one", text, path="a.txt")
    assign(index, "two", copy_of(text, 2), path="b.txt")
    entries = _bucket_entries(client)
    # One entry per band for each document (shared buckets list both), each in its band's shard.
    assert sum(len(ids) for ids in entries.values()) == 2 * index.bands
    assert any(ids == {"one", "two"} for ids in entries.values())
    assert all(
        key.decode().count(":") == 4 and len(key.decode().rsplit(":", 1)[1]) == SHARD_HEX
        for key, _ in entries
    )
    # A changed text leaves its old buckets; a removed document leaves every bucket.
    assign(index, "two", story_text(21), path="b.txt", content="changed")
    assert {i for ids in _bucket_entries(client).values() for i in ids} == {"one", "two"}
    assert all(ids in ({"one"}, {"two"}) for ids in _bucket_entries(client).values())
    index.remove_file("a.txt")
    index.remove_file("b.txt")
    assert _bucket_entries(client) == {}
    assert not list(client.scan_iter(match=BUCKET_KEY + "*"))  # an emptied shard is no key at all


def test_buckets_stored_the_old_way_are_moved_into_their_shards(client):
    index = StoryIndex(client, THRESHOLD)
    text = story_text(22)
    assign(index, "new", text)
    # "old" as the set-per-bucket layout stored it: its record, a set per bucket.
    sig = signature(copy_of(text, 0))
    for key, field in index.buckets(sig):
        client.sadd(key + field, "old")
    client.hset(DOC_KEY + "old", mapping={"story": "s-old", "content": "c", "path": "old.txt", "revision": 0})
    client.hset(DOC_KEY + "old", "sig", sig.astype("<u4").tobytes())
    assert index.pack_old_buckets() == index.bands
    assert index.pack_old_buckets() == 0  # nothing left to move
    entries = _bucket_entries(client)
    assert all(len(key.decode().rsplit(":", 1)[1]) == SHARD_HEX for key, _ in entries)
    assert sum("old" in ids for ids in entries.values()) == index.bands
    # Found again: an exact copy of it joins its story (the closest), and it leaves cleanly.
    assert assign(index, "copy", copy_of(text, 0)).story_id == "s-old"
    assert index.remove(["old"]) == 1
    assert not any("old" in ids for ids in _bucket_entries(client).values())

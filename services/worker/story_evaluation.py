"""Story grouping evaluation: pairwise precision and recall per edit kind, and the threshold.

``python -m services.worker.story_evaluation`` (``make eval``) builds the labelled set:

- versions: every base article (the five seeds and tests/fixtures/summaries/articles/) in the
  versions that syndication makes (``EDITS``: a new headline, the tail trimmed, a paragraph
  added, a byline and agency prefix, a site's boilerplate appended, paragraphs reordered,
  sentences rewritten), each cleaned the way ingest cleans a file;
- hard negatives: the five seeds are five different stories on one subject (the Taliban, peace
  talks, Pakistan and the US, with the same people and places), and tests/fixtures/stories/
  holds a different story on the subject of each other base. Versions of different bases carry
  the same boilerplate and agency prefix, which must not join them either.

Every document is assigned by the real ``StoryIndex`` on a real Redis (a throwaway
``redis-server`` on a free port, or ``--redis-url``), in a fixed shuffled order, once per
candidate threshold. A pair is "same story" when both got one story_id; labels say whether
they are. The threshold chosen is the middle of those with the highest recall at precision
>= 0.98 (``choose``); the report then gives the figures at the
configured ``DATELINE_STORY_THRESHOLD``. Exit status 1 when those miss the targets
(precision >= 0.98, recall >= 0.90) or two seeds share a story.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import redis

from shared.settings import get_settings
from shared.stories.index import StoryIndex
from shared.stories.signature import signature
from shared.text.article import clean_text
from shared.text.sentences import split_sentences

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "tests" / "fixtures" / "seeds"
ARTICLES = REPO / "tests" / "fixtures" / "summaries" / "articles"
NEGATIVES = REPO / "tests" / "fixtures" / "stories"
TARGET_PRECISION = 0.98
TARGET_RECALL = 0.90
THRESHOLDS = [round(0.10 + 0.05 * i, 2) for i in range(15)]  # 0.10 ... 0.80
ORIGINAL = "original"

ADDED_PARAGRAPHS = [
    "Our correspondent in the area said residents had been told to stay indoors, and that local "
    "officials were expected to give more details at a news conference later in the day.",
    "The development drew sharp reactions on social media, where opposition politicians accused the "
    "government of failing to plan ahead and demanded a statement in parliament.",
    "Analysts contacted by this newspaper said the coming weeks would show whether the promises made "
    "on the day would be kept, pointing to similar announcements in previous years.",
]
BOILERPLATE = (
    "Copyright 2024 The Daily Example. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed without permission.\n\nFollow us on Facebook, Twitter and "
    "Instagram for the latest news, and download our app to get breaking news alerts on your phone. "
    "For feedback and complaints, write to the editor at the address on our contact page."
)
REWRITES = {
    "said": "told reporters",
    "officials": "authorities",
    "more than": "over",
    "about": "around",
    "people": "residents",
    "on": "during",
    "the": "this",
    "were": "had been",
}


@dataclass(frozen=True)
class Doc:
    id: str
    base: str  # the story it belongs to (its label)
    kind: str  # ORIGINAL, an edit's name, or "negative"
    body: str


# --- the edits ------------------------------------------------------------------------------
def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.splitlines() if p.strip()]  # one line is one paragraph


def _join(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def new_headline(text: str, rng: random.Random) -> str:
    words = _paragraphs(text)[0].split()
    return f"{rng.choice(['Explained', 'Update', 'Breaking'])}: {' '.join(words[1:8]).rstrip(',.')}\n\n{text}"


def trimmed_tail(text: str, rng: random.Random) -> str:
    """Cut after a sentence, keeping 55-70 % of them (an outlet's length, not its paragraphs)."""
    sentences = split_sentences(text)
    keep = max(2, round(len(sentences) * rng.uniform(0.55, 0.7)))
    return text[: sentences[keep - 1].end]


def added_paragraph(text: str, rng: random.Random) -> str:
    paragraphs = _paragraphs(text)
    paragraphs.insert(min(2, len(paragraphs)), rng.choice(ADDED_PARAGRAPHS))
    return _join(paragraphs)


def agency_prefix(text: str, rng: random.Random) -> str:
    agency = rng.choice(["Reuters", "AP", "AFP"])
    paragraphs = _paragraphs(text)
    first = paragraphs[0]
    placed = re.sub(r"^([A-Z][A-Z ]{2,})\s*[:–-]\s*", rf"\1 ({agency}) - ", first, count=1)
    paragraphs[0] = placed if placed != first else f"({agency}) - {first}"
    return _join([f"By {rng.choice(['Staff Reporter', 'Our Correspondent', 'News Desk'])}", *paragraphs])


def boilerplate(text: str, rng: random.Random) -> str:
    return f"{text.rstrip()}\n\n{BOILERPLATE}"


def reordered(text: str, rng: random.Random) -> str:
    paragraphs = _paragraphs(text)
    if len(paragraphs) < 4:
        return _join(paragraphs[::-1])
    middle = paragraphs[1:]
    rng.shuffle(middle)
    return _join([paragraphs[0], *middle])


def _rewrite(sentence: str) -> str:
    words = sentence.split()
    out = []
    for n, word in enumerate(words):
        bare = word.lower().strip(",.\"'")
        if bare in REWRITES:
            out.append(REWRITES[bare])
        elif n % 5 != 3:  # a rewrite drops and changes words all along the sentence
            out.append(word)
    return " ".join(out)


def rewritten(text: str, rng: random.Random) -> str:
    sentences = [s.text for s in split_sentences(text)]
    picks = rng.sample(range(min(len(sentences), 8)), k=min(2, len(sentences)))
    for i in picks:
        text = text.replace(sentences[i], _rewrite(sentences[i]), 1)
    return text


EDITS: dict[str, Callable[[str, random.Random], str]] = {
    "new headline": new_headline,
    "trimmed tail": trimmed_tail,
    "added paragraph": added_paragraph,
    "byline/agency prefix": agency_prefix,
    "boilerplate appended": boilerplate,
    "paragraphs reordered": reordered,
    "sentence rewritten": rewritten,
}


def _body(text: str) -> str:
    return clean_text(text).body  # as ingest stores it: story grouping reads only the body


def labelled_set() -> list[Doc]:
    docs: list[Doc] = []
    for path in sorted(SEEDS.glob("*.txt")) + sorted(ARTICLES.glob("*.txt")):
        # Edits apply to the article as ingest reads it (a web page's trailing menu is not the
        # story's tail); each version is a file of its own and is cleaned again.
        body = _body(path.read_text(encoding="utf-8"))
        rng = random.Random(path.stem)  # the same versions on every run
        docs.append(Doc(f"{path.stem}/{ORIGINAL}", path.stem, ORIGINAL, body))
        for kind, edit in EDITS.items():
            docs.append(Doc(f"{path.stem}/{kind}", path.stem, kind, _body(edit(body, rng))))
    for path in sorted(NEGATIVES.glob("*.txt")):
        docs.append(
            Doc(f"{path.stem}/negative", path.stem, "negative", _body(path.read_text(encoding="utf-8")))
        )
    return docs


# --- grouping and scoring -------------------------------------------------------------------
def group(client: redis.Redis, docs: list[Doc], threshold: float) -> dict[str, str]:
    """doc id -> story id, as the story index assigns them (in a fixed shuffled order)."""
    client.flushdb()
    index = StoryIndex(client, threshold)
    order = list(docs)
    random.Random(17).shuffle(order)
    stories = {}
    for doc in order:
        content = hashlib.sha256(doc.body.encode()).hexdigest()
        stories[doc.id] = index.assign(doc.id, doc.id, content, signature(doc.body)).story_id
    return stories


@dataclass
class Score:
    threshold: float
    precision: float
    recall: float
    recall_by_kind: dict[str, float]
    false_joins: list[tuple[str, str]]
    seeds_joined: list[tuple[str, str]]
    seconds: float


def score(docs: list[Doc], stories: dict[str, str], threshold: float, seconds: float) -> Score:
    true_pos = pred_pos = actual_pos = 0
    by_kind: dict[str, list[int]] = {}
    false_joins = []
    for a, b in combinations(docs, 2):
        same = a.base == b.base
        joined = stories[a.id] == stories[b.id]
        actual_pos += same
        pred_pos += joined
        true_pos += same and joined
        if joined and not same:
            false_joins.append((a.id, b.id))
        if same:
            kind = b.kind if a.kind == ORIGINAL else a.kind if b.kind == ORIGINAL else "between two versions"
            hits = by_kind.setdefault(kind, [0, 0])
            hits[0] += joined
            hits[1] += 1
    seed_names = {p.stem for p in SEEDS.glob("*.txt")}
    seed_originals = [d for d in docs if d.base in seed_names and d.kind == ORIGINAL]
    seeds_joined = [
        (a.base, b.base) for a, b in combinations(seed_originals, 2) if stories[a.id] == stories[b.id]
    ]
    return Score(
        threshold,
        true_pos / pred_pos if pred_pos else 1.0,
        true_pos / actual_pos if actual_pos else 1.0,
        {kind: hits[0] / hits[1] for kind, hits in by_kind.items()},
        false_joins,
        seeds_joined,
        seconds,
    )


def choose(scores: list[Score]) -> Score | None:
    """The middle of the thresholds that reach the highest recall at precision >= the target:
    the most room on both sides (a lower threshold joins more, a higher one misses more)."""
    good = [s for s in scores if s.precision >= TARGET_PRECISION]
    if not good:
        return None
    best = max(s.recall for s in good)
    tied = sorted((s for s in good if s.recall == best), key=lambda s: s.threshold)
    return tied[(len(tied) - 1) // 2]


def passes(s: Score) -> bool:
    return s.precision >= TARGET_PRECISION and s.recall >= TARGET_RECALL and not s.seeds_joined


# --- a Redis to run on ----------------------------------------------------------------------
@contextmanager
def throwaway_redis(url: str | None) -> Iterator[redis.Redis]:
    if url:
        yield redis.Redis.from_url(url)
        return
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit(
            "redis-server is not installed: `make setup` installs it (or apt-get install "
            "redis-server), or pass --redis-url of a Redis database this evaluation may flush"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="dateline-story-eval-") as folder:
        process = subprocess.Popen(
            [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            for _ in range(100):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            yield client
        finally:
            process.terminate()
            process.wait(timeout=10)


# --- the report -----------------------------------------------------------------------------
def report(docs: list[Doc], scores: list[Score], configured: Score) -> bool:
    versions = sum(d.kind not in (ORIGINAL, "negative") for d in docs)
    bases = sum(d.kind == ORIGINAL for d in docs)
    negatives = sum(d.kind == "negative" for d in docs)
    pairs = len(docs) * (len(docs) - 1) // 2
    print(
        f"labelled set: {bases} stories, {versions} versions, {negatives} same-subject negatives; "
        f"{len(docs)} documents, {pairs} pairs"
    )
    print(f"\n{'threshold':>9} {'precision':>9} {'recall':>7} {'false joins':>11}")
    for s in scores:
        print(f"{s.threshold:>9.2f} {s.precision:>9.4f} {s.recall:>7.4f} {len(s.false_joins):>11}")
    chosen = choose(scores)
    if chosen is None:
        print(f"\nno threshold reaches precision {TARGET_PRECISION}")
    else:
        print(
            f"\nchosen by measurement: {chosen.threshold:.2f} (the middle of the thresholds with the "
            f"highest recall at precision >= {TARGET_PRECISION})"
        )
    s = configured
    print(
        f"\nat DATELINE_STORY_THRESHOLD={s.threshold:g}: precision {s.precision:.4f}, recall {s.recall:.4f} "
        f"({s.seconds * 1000 / len(docs):.2f} ms per document to sign and assign)"
    )
    print(f"{'edit kind':<24} {'recall':>7}")
    for kind in [*EDITS, "between two versions"]:
        print(f"{kind:<24} {s.recall_by_kind.get(kind, float('nan')):>7.4f}")
    for a, b in s.false_joins[:10]:
        print(f"false join: {a} + {b}")
    if s.seeds_joined:
        print(f"seeds in one story: {s.seeds_joined}")
    else:
        print("no two of the five seeds in one story")
    if chosen is not None and chosen.threshold != s.threshold:
        print(f"note: the measurement prefers {chosen.threshold:.2f}; the setting is {s.threshold:g}")
    ok = passes(s)
    print(
        "PASS" if ok else "FAIL", f": precision >= {TARGET_PRECISION}, recall >= {TARGET_RECALL}, seeds apart"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--redis-url", help="a Redis database to flush and use (default: a throwaway redis-server)"
    )
    args = parser.parse_args(argv)
    configured = get_settings().story_threshold
    docs = labelled_set()
    scores = []
    with throwaway_redis(args.redis_url) as client:
        for threshold in sorted({*THRESHOLDS, configured}):
            started = time.perf_counter()
            stories = group(client, docs, threshold)
            scores.append(score(docs, stories, threshold, time.perf_counter() - started))
        client.flushdb()
    at_setting = next(s for s in scores if s.threshold == configured)
    return 0 if report(docs, scores, at_setting) else 1


if __name__ == "__main__":
    sys.exit(main())

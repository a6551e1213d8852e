"""What an article's text looks like to story grouping: a MinHash over its word shingles.

Only the body counts (a new headline is the commonest edit syndication makes). Words are
lower-cased runs of letters and digits, so punctuation, quotes and spacing that outlets
change do not matter. A shingle is ``SHINGLE_WORDS`` consecutive words: long enough that
two different stories on one subject (the same people and places) share few shingles, short
enough that a rewritten sentence costs only the shingles around it.

A signature is ``NUM_PERM`` 32-bit minimum hashes (datasketch's MinHash); the fraction of
equal positions estimates the Jaccard similarity of two shingle sets. It travels and is
stored as ``NUM_PERM * 4`` little-endian bytes.
"""

from __future__ import annotations

import re

import numpy as np
from datasketch import MinHash

SHINGLE_WORDS = 3
NUM_PERM = 128
# Fixed, so every worker on every host computes the same permutations.
SEED = 1
# A text with fewer words than this has no shingles worth comparing: it is its own story.
MIN_WORDS = 8

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    tokens = words(text)
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


# datasketch 2's default scheme: 32-bit values, a collision-free permutation step. Named, so
# that a future default cannot silently change what is stored.
SCHEME = "affine32"
_PERMUTATIONS = MinHash(
    num_perm=NUM_PERM, seed=SEED, scheme=SCHEME
).permutations  # computing them is the costly part of MinHash()


def signature(text: str) -> np.ndarray | None:
    """The body's MinHash values (uint32), or None when it is too short to be compared."""
    if len(words(text)) < MIN_WORDS:
        return None
    minhash = MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_PERMUTATIONS, scheme=SCHEME)
    minhash.update_batch([s.encode("utf-8") for s in sorted(shingles(text))])
    values: np.ndarray = minhash.hashvalues.astype(np.uint32)
    return values


def to_bytes(values: np.ndarray) -> bytes:
    return values.astype("<u4").tobytes()


def from_bytes(raw: bytes | str) -> np.ndarray:
    """A stored signature (Redis replies are typed ``bytes | str``; ours are always bytes)."""
    if isinstance(raw, str):
        raise TypeError("a story signature is read as bytes: connect to Redis without decode_responses")
    values = np.frombuffer(raw, dtype="<u4")
    if values.size != NUM_PERM:
        raise ValueError(
            f"a story signature has {NUM_PERM} values; this one has {values.size} "
            "(written by a release with another NUM_PERM: `dateline reprocess` rebuilds them)"
        )
    return values


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.count_nonzero(a == b)) / len(a)

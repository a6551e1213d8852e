"""Extractive sentence selection: centrality + news-lead prior (+ headline similarity)
and MMR redundancy removal - Edmundson's location/title features with a centrality score.

Pure functions over a sentence-similarity matrix, so the same selection runs on MiniLM
embeddings (English) and on character n-gram TF-IDF vectors (any language and script).
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

# A sentence that ends like prose (not a heading, caption or "Updated 16 Apr, 2024" line).
_PROSE_END = re.compile(r"[.!?۔؟।。！？][\"'”’»)\]]*$|[\"”’»]$")
MIN_WORDS = 6
MIN_CHARS_NO_SPACES = 15  # scripts written without spaces (CJK): judge length by characters

CENTRALITY_WEIGHT = 0.5  # the rest is the lead prior (and the headline, when there is one)
TITLE_WEIGHT = 0.2  # a headline is a human summary of the story: sentences like it matter
LEAD_DECAY = 0.5  # prior = 1 / (1 + position) ** LEAD_DECAY
MMR_LAMBDA = 0.7  # relevance vs. novelty
DUPLICATE_SIMILARITY = 0.95
# A sentence that opens with a quotation is someone's words, rarely the news itself.
QUOTE_PENALTY = 0.8
_OPENING_QUOTE = re.compile(r"^[\"'“‘«„]")


def is_content_sentence(sentence: str) -> bool:
    """Prose long enough to carry the story (headings, bylines and captions are not)."""
    words = sentence.split()
    long_enough = len(words) >= MIN_WORDS or (
        len(words) < 3 and len(sentence) >= MIN_CHARS_NO_SPACES
    )
    return long_enough and bool(_PROSE_END.search(sentence.strip()))


def centrality(similarity: np.ndarray) -> np.ndarray:
    """Mean similarity of each sentence to the others, scaled to [0, 1]."""
    n = similarity.shape[0]
    if n < 2:
        return np.ones(n)
    sims = similarity.copy()
    np.fill_diagonal(sims, 0.0)
    scores = np.clip(sims, 0.0, None).sum(axis=1) / (n - 1)
    # Scaled by the maximum, not min-max: the least central sentence is not worth zero.
    top = scores.max()
    return scores / top if top > 0 else np.ones(n)


def lead_prior(n: int) -> np.ndarray:
    """News puts the story first: weight 1 for the first sentence, decaying with position."""
    return np.array([1.0 / (1.0 + i) ** LEAD_DECAY for i in range(n)])


def select(
    sentences: list[str],
    similarity: np.ndarray,
    count: int,
    title_similarity: np.ndarray | None = None,
) -> list[int]:
    """Indexes (ascending) of ``count`` sentences that best summarise ``sentences``.

    ``similarity`` is sentence x sentence; ``title_similarity`` (optional) is each
    sentence's similarity to the headline.
    """
    n = len(sentences)
    if n <= count:
        return list(range(n))
    candidates = [i for i, s in enumerate(sentences) if is_content_sentence(s)]
    if len(candidates) < count:  # few prose sentences: let everything compete
        candidates = list(range(n))
    sub = similarity[np.ix_(candidates, candidates)]
    # Position among the candidates, so a heading or dateline line does not use up the lead.
    relevance = CENTRALITY_WEIGHT * centrality(sub) + (1 - CENTRALITY_WEIGHT) * lead_prior(
        len(candidates)
    )
    if title_similarity is not None and len(title_similarity) == n:
        title = np.clip(title_similarity[candidates], 0.0, None)
        if title.max() > 0:
            relevance = (1 - TITLE_WEIGHT) * relevance + TITLE_WEIGHT * title / title.max()
    relevance *= np.array(
        [QUOTE_PENALTY if _OPENING_QUOTE.match(sentences[i]) else 1.0 for i in candidates]
    )

    chosen: list[int] = []  # positions within ``candidates``
    while len(chosen) < count:
        best, best_score = -1, -math.inf
        for pos in range(len(candidates)):
            if pos in chosen:
                continue
            redundancy = max((sub[pos, c] for c in chosen), default=0.0)
            if redundancy >= DUPLICATE_SIMILARITY:
                continue  # a repeated sentence (e.g. the title printed twice)
            score = MMR_LAMBDA * relevance[pos] - (1 - MMR_LAMBDA) * redundancy
            if score > best_score:
                best, best_score = pos, score
        if best < 0:
            break
        chosen.append(best)
    return sorted(candidates[pos] for pos in chosen)


# --- a language-independent similarity -----------------------------------------------------


def _char_ngrams(sentence: str, sizes: tuple[int, ...] = (3, 4, 5)) -> Counter[str]:
    grams: Counter[str] = Counter()
    for word in re.findall(r"\w+", sentence.casefold()):
        padded = f" {word} "
        for size in sizes:
            grams.update(padded[i : i + size] for i in range(max(1, len(padded) - size + 1)))
    return grams


def tfidf_similarity(sentences: list[str]) -> np.ndarray:
    """Cosine similarity of character n-gram TF-IDF vectors: works for any script.

    To score sentences against a headline, append it as the last "sentence"."""
    bags = [_char_ngrams(s) for s in sentences]
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    n = len(sentences)
    vectors: list[dict[str, float]] = []
    for bag in bags:
        vec = {g: (1 + math.log(c)) * math.log((1 + n) / (1 + df[g])) + 1e-3 for g, c in bag.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors.append({g: v / norm for g, v in vec.items()})
    sims = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            small, large = sorted((vectors[i], vectors[j]), key=len)
            value = sum(w * large.get(g, 0.0) for g, w in small.items())
            sims[i, j] = sims[j, i] = value
    return sims

"""Extractive sentence selection: centrality + news-lead prior (+ headline similarity)
and MMR redundancy removal - Edmundson's location/title features with a centrality score.

Pure functions over a sentence-similarity matrix, so the same selection runs on MiniLM
embeddings (English) and on character n-gram TF-IDF vectors (any language and script).
"""

from __future__ import annotations

import math
import re

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from shared.text.sentences import ends_sentence

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
    long_enough = len(words) >= MIN_WORDS or (len(words) < 3 and len(sentence) >= MIN_CHARS_NO_SPACES)
    # Ends like prose: not a heading, caption or "Updated 16 Apr, 2024" line.
    return long_enough and ends_sentence(sentence)


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
    relevance = CENTRALITY_WEIGHT * centrality(sub) + (1 - CENTRALITY_WEIGHT) * lead_prior(len(candidates))
    if title_similarity is not None and len(title_similarity) == n:
        title = np.clip(title_similarity[candidates], 0.0, None)
        if title.max() > 0:
            relevance = (1 - TITLE_WEIGHT) * relevance + TITLE_WEIGHT * title / title.max()
    relevance *= np.array([QUOTE_PENALTY if _OPENING_QUOTE.match(sentences[i]) else 1.0 for i in candidates])

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

# Character n-grams inside word boundaries: no tokenizer or stemmer per language, and
# inflected forms ("flood", "floods", "flooded") still share most of their n-grams.
_NGRAMS = (3, 5)


def tfidf_similarity(sentences: list[str]) -> np.ndarray:
    """Cosine similarity of character n-gram TF-IDF vectors: works for any script.

    A square matrix with ones on the diagonal. To score sentences against a headline,
    append it as the last "sentence"."""
    n = len(sentences)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=_NGRAMS, sublinear_tf=True)
    try:
        vectors = vectorizer.fit_transform(sentences)
    except ValueError:  # no sentence has a single n-gram (empty or blank text)
        return np.eye(n)
    sims = np.asarray(cosine_similarity(vectors), dtype=float)
    # A sentence without n-grams has a zero vector; it is still identical to itself.
    np.fill_diagonal(sims, 1.0)
    return sims

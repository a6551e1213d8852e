"""Comparing what two forms of a tagger say about the same text, token by token."""

from __future__ import annotations

from typing import Any

from shared.text.sentences import split_sentences


def token_tags(tagger: Any, texts: list[str], batch_size: int = 8) -> list[str]:
    """One tag per token of ``texts`` (each split into sentences and tagged in batches of the
    default ``DATELINE_NER_BATCH_SIZE``, as the entity stage does): the label of the span the
    token is in, or ``O``."""
    from flair.data import Sentence

    sentences = [Sentence(span.text) for text in texts for span in split_sentences(text)]
    tagger.predict(sentences, mini_batch_size=batch_size)
    label_type = getattr(tagger, "label_type", "ner")
    tags: list[str] = []
    for sentence in sentences:
        inside = {
            token.idx: span.get_label(label_type).value
            for span in sentence.get_spans(label_type)
            for token in span.tokens
        }
        tags += [inside.get(token.idx, "O") for token in sentence.tokens]
        sentence.clear_embeddings()
    return tags


def agreement(first: list[str], second: list[str]) -> float:
    """Share of tokens with the same tag (the lists must tag the same tokens)."""
    if len(first) != len(second):
        raise ValueError(f"{len(first)} tokens against {len(second)}: not the same text")
    return sum(a == b for a, b in zip(first, second, strict=True)) / len(first) if first else 1.0

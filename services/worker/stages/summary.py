"""Extractive summary: whole body sentences, in body order.

English (and undetermined Latin-script text) is scored with all-MiniLM-L6-v2 sentence
embeddings; other languages, or a worker whose encoder failed to load, use character
n-gram TF-IDF, which needs no model and treats every script alike. Both feed the same
selection: centrality + news-lead prior, then MMR against redundancy
(``services.worker.nlp.textrank``).

``summary`` is the chosen sentences joined by one space, each exactly as in the body;
``summary_sentences`` are their indexes in ``split_sentences(body)``. An article with
no more than N sentences is its own summary.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np

from services.worker.nlp import textrank
from services.worker.nlp.embeddings import MODEL_NAME, SentenceEncoder, minilm_version
from shared.schemas import ArticleDocument
from shared.settings import Settings
from shared.stage import Stage, StageResult
from shared.text.sentences import split_sentences

EMBEDDING_LANGUAGES = {"en"}
EMBEDDING_METHOD = f"{MODEL_NAME}+lead-prior+mmr"
FALLBACK_METHOD = "char-ngram-tfidf+lead-prior+mmr"
WHOLE_BODY = "whole-body"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def _mostly_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) / len(letters) > 0.9


class SummaryStage(Stage):
    name = "summary"

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.count = self.settings.summary_sentences
        self._encoder: SentenceEncoder | None = None

    def load(self) -> None:
        import torch

        from services.worker.nlp.embeddings import shared_encoder

        torch.set_num_threads(self.settings.torch_threads)
        self._encoder = shared_encoder()

    def describe(self) -> tuple[str | None, str | None]:
        return self._method_version(EMBEDDING_METHOD if self._encoder is not None else FALLBACK_METHOD)

    @staticmethod
    def _method_version(method: str) -> tuple[str, str]:
        if method == EMBEDDING_METHOD:
            return method, f"{minilm_version()}; transformers {_version('transformers')}"
        return method, f"dateline-textrank 1; numpy {np.__version__}"

    def uses_embeddings(self, document: ArticleDocument) -> bool:
        if self._encoder is None:
            return False
        if document.language in EMBEDDING_LANGUAGES:
            return True
        return document.language in (None, "und") and _mostly_latin(document.body)

    def summarise(self, document: ArticleDocument) -> tuple[str, list[int], str]:
        """(summary, sentence indexes, method) for ``document.body``."""
        spans = split_sentences(document.body)
        if not spans:
            raise NoText("the article has no body text to summarise")
        sentences = [s.text for s in spans]
        if len(sentences) <= self.count:
            return document.body.strip(), list(range(len(sentences))), WHOLE_BODY
        # The headline rides along as one more row; ingest may have made it from the first
        # sentence, which then simply counts twice for the lead.
        title = " ".join(document.title.split())
        texts = sentences + [title] if title else sentences
        if self.uses_embeddings(document):
            assert self._encoder is not None
            vectors = self._encoder.encode(texts)
            full, method = vectors @ vectors.T, EMBEDDING_METHOD
        else:
            full, method = textrank.tfidf_similarity(texts), FALLBACK_METHOD
        n = len(sentences)
        title_similarity = full[:n, n] if title else None
        chosen = textrank.select(sentences, full[:n, :n], self.count, title_similarity)
        return " ".join(sentences[i] for i in chosen), chosen, method

    def process(self, document: ArticleDocument) -> StageResult:
        try:
            summary, indexes, method = self.summarise(document)
        except NoText as empty:
            return StageResult(status="skipped", reason=str(empty))
        document.summary = summary
        document.summary_sentences = indexes
        model, version = self._method_version(method)
        return StageResult(model=model, version=version)


class NoText(ValueError):
    """The article has no body sentences to choose from."""

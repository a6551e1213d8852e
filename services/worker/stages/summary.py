"""Extractive summary: whole body sentences, in body order.

English (and undetermined Latin-script text) is scored with all-MiniLM-L6-v2 sentence
embeddings; other languages, or a worker whose encoder failed to load, use character
n-gram TF-IDF, which needs no model and treats every script alike. Both feed the same
selection: centrality + news-lead prior, then MMR against redundancy
(``services.worker.nlp.textrank``).

Only the first ``MAX_CANDIDATES`` prose sentences compete: news puts the story first, the
lead prior already all but rules out later sentences, and every sentence encoded costs
time (README, "Summaries": the cap and the int8 encoder keep the stage under a tenth of
the NER stage's time with `make eval` at or above its previous score).

``summary`` is the chosen sentences joined by one space, each exactly as in the body;
``summary_spans`` are their offsets into the body (of the sentences split once at ingest),
so the article page marks them without splitting again. An article with
no more than N sentences is its own summary.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from services.worker.nlp import textrank
from services.worker.nlp.embeddings import MODEL_NAME, SentenceEncoder, minilm_version
from shared.schemas import ArticleDocument
from shared.settings import Settings
from shared.stage import Stage, StageResult
from shared.text.sentences import offsets, sentence_spans

EMBEDDING_LANGUAGES = {"en"}
MAX_CANDIDATES = 12
EMBEDDING_METHOD = f"{MODEL_NAME}+lead-prior+mmr"
FALLBACK_METHOD = "char-ngram-tfidf+lead-prior+mmr"
WHOLE_BODY = "whole-body"


@lru_cache(maxsize=None)  # package metadata is read from disk: once per process, not per article
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

    def _method_version(self, method: str) -> tuple[str, str]:
        if method == EMBEDDING_METHOD:
            form = self._encoder.form if self._encoder is not None else "fp32"
            return method, (
                f"{minilm_version()}; transformers {_version('transformers')}; {form}, "
                f"{self._encoder.max_tokens if self._encoder else 0} tokens per sentence; "
                f"first {MAX_CANDIDATES} sentences"
            )
        return method, f"dateline-textrank 1; numpy {np.__version__}"

    def uses_embeddings(self, document: ArticleDocument) -> bool:
        if self._encoder is None:
            return False
        if document.language in EMBEDDING_LANGUAGES:
            return True
        return document.language in (None, "und") and _mostly_latin(document.body)

    def summarise(self, document: ArticleDocument) -> tuple[str, list[tuple[int, int]], str]:
        """(summary, its sentences' offsets into the body, method) for ``document.body``; sets
        ``document.vector`` when the sentences are encoded (None otherwise: a stale one would
        mislead)."""
        document.vector = None
        spans = sentence_spans(document.body, document.sentences)
        if not spans:
            raise NoText("the article has no body text to summarise")
        every = [s.text for s in spans]
        if len(every) <= self.count:
            if self.uses_embeddings(document):
                assert self._encoder is not None
                document.vector = article_vector(self._encoder.encode(every))
            return document.body.strip(), offsets(spans), WHOLE_BODY
        positions = candidates(every, self.count)
        sentences = [every[i] for i in positions]
        # The headline rides along as one more row; ingest may have made it from the first
        # sentence, which then simply counts twice for the lead.
        title = " ".join(document.title.split())
        texts = sentences + [title] if title else sentences
        if self.uses_embeddings(document):
            assert self._encoder is not None
            vectors = self._encoder.encode(texts)
            full, method = vectors @ vectors.T, EMBEDDING_METHOD
            # The article as one vector, for related articles: no second model, no second pass.
            document.vector = article_vector(vectors[: len(sentences)])
        else:
            full, method = textrank.tfidf_similarity(texts), FALLBACK_METHOD
        n = len(sentences)
        title_similarity = full[:n, n] if title else None
        chosen = [
            positions[i] for i in textrank.select(sentences, full[:n, :n], self.count, title_similarity)
        ]
        return " ".join(every[i] for i in chosen), offsets([spans[i] for i in chosen]), method

    def process(self, document: ArticleDocument) -> StageResult:
        try:
            summary, spans, method = self.summarise(document)
        except NoText as empty:
            return StageResult(status="skipped", code="no_text", reason=str(empty))
        document.summary = summary
        document.summary_spans = spans
        model, version = self._method_version(method)
        return StageResult(model=model, version=version)


def article_vector(vectors: np.ndarray) -> list[float]:
    """The mean of an article's (unit) sentence vectors, made a unit vector again; rounded, as
    a float32 in Elasticsearch keeps no more."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return [round(float(x), 6) for x in (mean / norm if norm > 0 else mean)]


def candidates(sentences: list[str], count: int) -> list[int]:
    """Positions of the sentences that compete: the first ``MAX_CANDIDATES`` prose ones
    (all of the first ``MAX_CANDIDATES`` when too few are prose)."""
    prose = [i for i, s in enumerate(sentences) if textrank.is_content_sentence(s)][:MAX_CANDIDATES]
    return prose if len(prose) >= count else list(range(min(len(sentences), MAX_CANDIDATES)))


class NoText(ValueError):
    """The article has no body sentences to choose from."""

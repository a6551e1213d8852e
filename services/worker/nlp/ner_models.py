"""Which languages a NER model was trained for, and the defaults chosen for CPUs.

A model never tags a language it was not trained for. Its languages come from, in order:

1. ``DATELINE_NER_MODELS``: a language mapped to a model is that model's, whatever it declares;
2. the model itself: ``dateline ner train --language xx`` records the language in the saved
   model's card (``model_card["dateline"]["languages"]``);
3. flair's hub models, by name: the catalogue below (from the models' published cards).

A default model that declares no languages cannot be used safely: loading it fails with
what to do (retrain with ``--language`` or map it in ``DATELINE_NER_MODELS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CARD_KEY = "dateline"


@dataclass(frozen=True, slots=True)
class HubModel:
    languages: tuple[str, ...]
    f1: str  # published F1 on the model card, per language
    embeddings: str  # what sets its speed on a CPU


# flair's NER models on the model hub (name -> what its card says). Short names that flair
# resolves to the same model are listed below.
CATALOGUE: dict[str, HubModel] = {
    "flair/ner-english": HubModel(("en",), "93.06 (CoNLL-03)", "character LMs, hidden 2048"),
    "flair/ner-english-fast": HubModel(("en",), "92.92 (CoNLL-03)", "character LMs, hidden 1024"),
    "flair/ner-english-large": HubModel(("en",), "94.36 (CoNLL-03)", "XLM-R large transformer"),
    "flair/ner-english-ontonotes": HubModel(("en",), "OntoNotes, 18 classes", "character LMs, hidden 2048"),
    "flair/ner-english-ontonotes-fast": HubModel(
        ("en",), "89.3 (OntoNotes, 18 classes)", "character LMs, hidden 1024"
    ),
    "flair/ner-english-ontonotes-large": HubModel(
        ("en",), "90.93 (OntoNotes, 18 classes)", "XLM-R large transformer"
    ),
    "flair/ner-german": HubModel(("de",), "87.94 (CoNLL-03 German)", "character LMs, hidden 2048"),
    "flair/ner-german-large": HubModel(("de",), "92.31 (CoNLL-03 German)", "XLM-R large transformer"),
    "flair/ner-french": HubModel(("fr",), "90.61 (WikiNER)", "character LMs, hidden 2048"),
    "flair/ner-dutch": HubModel(("nl",), "92.58 (CoNLL-02)", "BERT-base transformer"),
    "flair/ner-dutch-large": HubModel(("nl",), "95.25 (CoNLL-02)", "XLM-R large transformer"),
    "flair/ner-spanish-large": HubModel(("es",), "90.54 (CoNLL-02)", "XLM-R large transformer"),
    "flair/ner-multi": HubModel(
        ("en", "de", "nl", "es"), "en 92.16, de 87.33, nl 88.96, es 86.65", "character LMs, hidden 2048"
    ),
    "flair/ner-multi-fast": HubModel(
        ("en", "de", "nl", "es"), "en 91.51, de 85.72, nl 86.22, es 85.78", "character LMs, hidden 1024"
    ),
    "flair/ner-danish": HubModel(("da",), "DaNE", "character LMs"),
}
SHORT_NAMES = {
    "ner": "flair/ner-english",
    "ner-fast": "flair/ner-english-fast",
    "ner-large": "flair/ner-english-large",
    "ner-ontonotes": "flair/ner-english-ontonotes",
    "ner-ontonotes-fast": "flair/ner-english-ontonotes-fast",
    "ner-ontonotes-large": "flair/ner-english-ontonotes-large",
    "de-ner": "flair/ner-german",
    "de-ner-large": "flair/ner-german-large",
    "fr-ner": "flair/ner-french",
    "nl-ner": "flair/ner-dutch",
    "nl-ner-large": "flair/ner-dutch-large",
    "es-ner-large": "flair/ner-spanish-large",
    "ner-multi": "flair/ner-multi",
    "multi-ner": "flair/ner-multi",
    "ner-multi-fast": "flair/ner-multi-fast",
    "da-ner": "flair/ner-danish",
}

# The model per language chosen for CPUs (README, "Which NER model"): among the models that
# are not large transformers, the fastest within one F1 point of the most accurate one.
CPU_DEFAULTS: dict[str, str] = {
    "en": "flair/ner-english-fast",
    "de": "flair/ner-german",
    "fr": "flair/ner-french",
    "nl": "flair/ner-dutch",
    "es": "flair/ner-multi-fast",
}


def hub_entry(name: str) -> HubModel | None:
    return CATALOGUE.get(SHORT_NAMES.get(name, name))


def recorded_languages(tagger: Any) -> tuple[str, ...] | None:
    """The languages a model trained by ``dateline ner train`` says it was trained for."""
    card = getattr(tagger, "model_card", None)
    if not isinstance(card, dict) or not isinstance(card.get(CARD_KEY), dict):
        return None
    languages = card[CARD_KEY].get("languages")
    if isinstance(languages, (list, tuple)) and languages and all(isinstance(x, str) for x in languages):
        return tuple(languages)
    return None


def record_languages(tagger: Any, languages: list[str]) -> None:
    """Write ``languages`` into the model card (saved with the model)."""
    card = tagger.model_card if isinstance(getattr(tagger, "model_card", None), dict) else {}
    card[CARD_KEY] = {**card.get(CARD_KEY, {}), "languages": list(languages)}
    tagger.model_card = card


def declared_languages(name: str, tagger: Any) -> tuple[str, ...] | None:
    """What ``name`` (loaded as ``tagger``) declares: its own record, else the catalogue."""
    recorded = recorded_languages(tagger)
    if recorded:
        return recorded
    entry = hub_entry(name)
    return entry.languages if entry else None

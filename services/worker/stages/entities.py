"""Named entities with a flair ``SequenceTagger``, canonicalised per document.

- Model per language: ``settings.ner_model_for(document.language)`` - a hub name (fetched
  by flair, so it needs the internet) or a local ``.pt`` path. ``und`` or a missing
  language uses the default model; a language mapped to "" in ``ner_models`` is skipped.
- ``load`` loads the default model once per worker process; other languages' models load
  on first use and stay cached (failures too, so a broken model is not retried per article).
- Only the body is tagged: mention offsets then point into ``document.body`` and never
  need to say which field they came from. The title's entities are nearly always repeated
  in the body.
- Sentences come from ``split_sentences`` (offsets kept) and are tagged in batches of
  ``settings.ner_batch_size``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from services.worker.nlp.canonical import RawMention, canonicalise
from shared.schemas import ArticleDocument
from shared.settings import Settings
from shared.stage import Stage, StageResult
from shared.text.sentences import split_sentences

# flair resolves hub names through huggingface_hub: fail at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger(__name__)

HOW_TO_FIX = (
    "set DATELINE_NER_MODEL to a local .pt file, e.g. one trained offline with "
    "`dateline ner train tests/fixtures/ner --out models/ner` "
    "(then DATELINE_NER_MODEL=models/ner/final-model.pt)"
)


class ModelUnavailable(RuntimeError):
    """The NER model for a document cannot be used; the message says what to do."""


def _is_local(name: str) -> bool:
    return name.endswith((".pt", ".pth", ".bin")) or os.sep in name and Path(name).exists()


def _load_tagger(name: str) -> Any:
    from flair.models import SequenceTagger

    if _is_local(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelUnavailable(f"NER model file {path} does not exist: {HOW_TO_FIX}")
        try:
            return SequenceTagger.load(str(path))
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
            raise ModelUnavailable(
                f"NER model file {path} could not be loaded ({type(exc).__name__}: {exc}): "
                f"{HOW_TO_FIX}"
            ) from exc
    try:
        return SequenceTagger.load(name)
    except Exception as exc:  # noqa: BLE001 - usually: no internet to fetch the hub model
        raise ModelUnavailable(
            f"NER model {name!r} could not be loaded from the model hub "
            f"({type(exc).__name__}: {str(exc)[:200]}); without internet access {HOW_TO_FIX}"
        ) from exc


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class EntityStage(Stage):
    name = "entities"

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self._taggers: dict[str, Any] = {}  # model name -> SequenceTagger
        self._failures: dict[str, str] = {}  # model name -> why it cannot be used
        self._versions: dict[str, str] = {}

    # --- models -------------------------------------------------------------------------
    def load(self) -> None:
        import torch

        torch.set_num_threads(self.settings.torch_threads)
        default = self.settings.ner_model
        if not default:
            return  # no default model: only languages with their own model are tagged
        self._tagger(default)

    def _tagger(self, name: str) -> Any:
        if name in self._taggers:
            return self._taggers[name]
        if name in self._failures:
            raise ModelUnavailable(self._failures[name])
        try:
            tagger = _load_tagger(name)
        except ModelUnavailable as exc:
            self._failures[name] = str(exc)
            raise
        self._taggers[name] = tagger
        log.info("NER model %s loaded (%s)", name, self._version(name))
        return tagger

    def _model_name(self, document: ArticleDocument | None) -> str | None:
        language = (document.language if document is not None else None) or "und"
        return self.settings.ner_model_for(language)

    def _version(self, name: str) -> str:
        if name not in self._versions:
            import flair

            version = f"flair {flair.__version__}"
            path = Path(name).expanduser()
            if _is_local(name) and path.is_file():
                version += f"; sha256 {_file_sha256(path)[:12]}"
            else:
                version += "; model hub"
            self._versions[name] = version
        return self._versions[name]

    def describe(self) -> tuple[str | None, str | None]:
        name = self._model_name(None)
        return (name, self._version(name)) if name else (None, None)

    # --- tagging ------------------------------------------------------------------------
    def process(self, document: ArticleDocument) -> StageResult:
        name = self._model_name(document)
        if name is None:
            return StageResult(
                status="skipped",
                reason=f"no NER model for language {document.language!r}; map it in "
                'DATELINE_NER_MODELS (e.g. {"de": "/models/ner-de.pt"}) to tag it',
            )
        tagger = self._tagger(name)  # raises ModelUnavailable with the fix in its message
        mentions = self.tag(tagger, document.body)
        result = canonicalise(mentions, document.body)
        document.entities = result.entities
        document.entity_list = result.entity_list
        document.mentions = result.mentions
        return StageResult(model=name, version=self._version(name))

    def tag(self, tagger: Any, body: str) -> list[RawMention]:
        """Tagger spans as RawMentions with character offsets into ``body``."""
        from flair.data import Sentence

        spans = split_sentences(body)
        sentences = [Sentence(span.text) for span in spans]
        if not sentences:
            return []
        tagger.predict(sentences, mini_batch_size=self.settings.ner_batch_size)
        found: list[RawMention] = []
        label_type = getattr(tagger, "label_type", "ner")
        for span, sentence in zip(spans, sentences, strict=True):
            for entity in sentence.get_spans(label_type):
                start = span.start + entity.start_position
                end = span.start + entity.end_position
                label = entity.get_label(label_type)
                found.append(RawMention(body[start:end], label.value, float(label.score), start, end))
            sentence.clear_embeddings()  # the article is done; free the vectors
        return merge_adjacent(found, body)


def merge_adjacent(mentions: list[RawMention], body: str) -> list[RawMention]:
    """Join same-label spans separated by a single space ("Shah" "Mehmood" "Qureshi").

    A tagger without a CRF decides each token alone and may cut one name into single-token
    spans; two different names of one type are virtually never written side by side with
    nothing but a space between them.
    """
    merged: list[RawMention] = []
    for mention in sorted(mentions, key=lambda m: m.start):
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.label == mention.label
            and body[previous.end : mention.start] == " "
        ):
            merged[-1] = RawMention(
                body[previous.start : mention.end],
                previous.label,
                min(previous.score, mention.score),
                previous.start,
                mention.end,
            )
        else:
            merged.append(mention)
    return merged

"""Named entities with flair ``SequenceTagger``s, canonicalised per document and named
once across the archive.

- Which model tags a document (``services.worker.nlp.ner_models``): the model mapped to its
  language in ``DATELINE_NER_MODELS``, else ``DATELINE_NER_MODEL`` if that model was trained
  for the language (or the language is undetermined). A document in a language no
  configured model covers is not tagged: the stage is ``skipped`` with the reason and the
  setting that fixes it, and the worker counts it per language for ``dateline status``.
- ``load`` loads the default model once per worker process; other languages' models load
  on first use and stay cached (failures too, so a broken model is not retried per article).
  On CPU each model is quantized to int8 (``services.worker.nlp.quantize``); provenance's
  version says which form ran.
- Only the body is tagged: mention offsets then point into ``document.body`` and never
  need to say which field they came from. The title's entities are nearly always repeated
  in the body.
- Sentences come from the document (split once at ingest, with their offsets) and go to flair in one call:
  ``predict`` sorts them by length and tags them in batches of ``settings.ner_batch_size``,
  so each batch pads little.
- A long body is tagged up to ``settings.ner_max_chars`` characters, whole sentences from
  the start (``covered_sentences``), and provenance's ``covered_chars`` says where it
  stopped: NER's time grows with the text, and an article that outran the task's time
  limit would get no entities at all.
- Names: ``canonicalise`` with the archive's alias table (``shared.names``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.worker.nlp import ner_models, quantize
from services.worker.nlp.canonical import canonicalise
from services.worker.nlp.mentions import RawMention
from shared.heartbeat import StageState
from shared.names.aliases import alias_table
from shared.schemas import ArticleDocument
from shared.search.outcomes import UNDETERMINED_LANGUAGE
from shared.settings import Settings
from shared.stage import ModelUnavailable, Stage, StageResult
from shared.text.sentences import Span, sentence_spans

# flair resolves hub names through huggingface_hub: fail at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger(__name__)

HOW_TO_FIX = (
    "set DATELINE_NER_MODEL to a .pt file in the model folder (DATELINE_MODEL_DIR, default "
    "<DATELINE_DATA_DIR>/models), e.g. one trained offline with `dateline ner train "
    "tests/fixtures/ner` (it writes <model folder>/ner/final-model.pt)"
)


# The start of every "no model covers this language" sentence: for people only; status
# counts these documents by the record's code (no_model_for_language), never by this text.
NO_MODEL_FOR_LANGUAGE = "no NER model for language"


def _is_local(name: str) -> bool:
    # flair loads any name that exists as a path from that path, so such a name is local
    # whatever it looks like (a folder "flair/ner-english" in the working directory included).
    return name.endswith((".pt", ".pth", ".bin")) or Path(name).expanduser().exists()


def model_roots(settings: Settings) -> list[Path]:
    """The folders model files may be loaded from: the model folder and the model hubs'
    caches (where `dateline ner fetch` and flair put what they download)."""
    import flair

    roots = [settings.model_path, (Path(flair.cache_root) / "models").expanduser().resolve()]
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover - flair depends on it
        return roots
    return [*roots, Path(HF_HUB_CACHE).expanduser().resolve()]


def check_model_file(path: Path, settings: Settings) -> Path:
    """``path`` resolved (symlinks followed), if it is inside a folder of ``model_roots``;
    otherwise ``ModelUnavailable`` saying where to put it and why. Called before the file
    is opened: a flair model is a pickle, and unpickling runs whatever code it names."""
    resolved = path.expanduser().resolve()
    roots = model_roots(settings)
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved
    folder = settings.model_path
    raise ModelUnavailable(
        f"NER model file {path} (resolves to {resolved}) is outside the model folder {folder} and "
        f"the model hub caches ({', '.join(str(r) for r in roots[1:])}), so it was not loaded: a flair "
        "model is a Python pickle, and loading one runs any code it contains, so models are only "
        f"loaded from folders you put them in on purpose. Move it into {folder} (or set "
        f"DATELINE_MODEL_DIR to the folder it is in) and set DATELINE_NER_MODEL={folder / path.name}"
    )


def _load_tagger(name: str, settings: Settings) -> Any:
    from flair.models import SequenceTagger

    if _is_local(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelUnavailable(f"NER model file {path} does not exist: {HOW_TO_FIX}")
        check_model_file(path, settings)
        try:
            return SequenceTagger.load(str(path))
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
            raise ModelUnavailable(
                f"NER model file {path} could not be loaded ({type(exc).__name__}: {exc}): {HOW_TO_FIX}"
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


def how_to_tag(language: str) -> str:
    """The setting that would get ``language`` tagged."""
    suggestion = ner_models.CPU_DEFAULTS.get(language)
    if suggestion:
        return f"set DATELINE_NER_MODELS='{json.dumps({language: suggestion})}' to tag it"
    return (
        f"train a model for it (`dateline ner train CORPUS --language {language}`) and set "
        f"DATELINE_NER_MODELS='{json.dumps({language: '/models/ner-' + language + '.pt'})}' to tag it"
    )


@dataclass
class LoadedModel:
    tagger: Any
    form: quantize.Form
    languages: tuple[str, ...] | None  # None: the model does not say


class EntityStage(Stage):
    name = "entities"

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self._models: dict[str, LoadedModel] = {}
        self._failures: dict[str, str] = {}  # model name -> why it cannot be used
        self._versions: dict[str, str] = {}

    # --- models -------------------------------------------------------------------------
    def load(self) -> None:
        import torch

        torch.set_num_threads(self.settings.torch_threads)
        alias_table(self.settings.entity_aliases)  # a bad alias file is reported at start
        default = self.settings.ner_model
        if not default:
            return  # no default model: only languages with their own model are tagged
        self._languages_of_default(self._model(default))

    def _model(self, name: str) -> LoadedModel:
        if name in self._models:
            return self._models[name]
        if name in self._failures:
            raise ModelUnavailable(self._failures[name])
        try:
            tagger = _load_tagger(name, self.settings)
        except ModelUnavailable as exc:
            self._failures[name] = str(exc)
            raise
        tagger, form = quantize.for_cpu(
            tagger, self.settings.ner_quantize, reload=lambda: _load_tagger(name, self.settings)
        )
        model = LoadedModel(tagger, form, ner_models.declared_languages(name, tagger))
        self._models[name] = model
        log.info("NER model %s loaded (%s; languages %s)", name, self._version(name), model.languages)
        return model

    def _languages_of_default(self, model: LoadedModel) -> tuple[str, ...]:
        if model.languages is None:
            name = self.settings.ner_model
            raise ModelUnavailable(
                f"NER model {name} does not say which languages it was trained for, so it cannot "
                "be the default model (DATELINE_NER_MODEL): retrain it with `dateline ner train "
                f"CORPUS --language xx`, or map it to its languages in DATELINE_NER_MODELS, e.g. "
                f"{json.dumps({'en': name})}"
            )
        return model.languages

    def _default_languages(self) -> tuple[str, ...]:
        """The default model's languages: from the catalogue for hub names (no loading),
        otherwise from the loaded model."""
        name = self.settings.ner_model
        entry = ner_models.hub_entry(name)
        if entry is not None and not _is_local(name):
            return entry.languages
        return self._languages_of_default(self._model(name))

    def choose(self, language: str) -> tuple[str | None, str | None]:
        """(model name, None) for a document in ``language``, or (None, why not)."""
        mapped = self.settings.ner_models
        if language in mapped:
            if mapped[language]:
                return mapped[language], None
            return None, (
                f'{NO_MODEL_FOR_LANGUAGE} {language!r}: DATELINE_NER_MODELS maps it to ""; '
                f"{how_to_tag(language)}"
            )
        default = self.settings.ner_model
        if not default:
            return (
                None,
                f"{NO_MODEL_FOR_LANGUAGE} {language!r} and no DATELINE_NER_MODEL; {how_to_tag(language)}",
            )
        if language == UNDETERMINED_LANGUAGE:
            return default, None
        languages = self._default_languages()
        if language in languages:
            return default, None
        return None, (
            f"{NO_MODEL_FOR_LANGUAGE} {language!r}: {default} is trained for {', '.join(languages)}, not "
            f"{language!r}, and DATELINE_NER_MODELS names none for it; {how_to_tag(language)}"
        )

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
        form = self._models[name].form if name in self._models else None
        return f"{self._versions[name]}; {form}" if form else self._versions[name]

    def describe(self) -> tuple[str | None, str | None]:
        name = self.settings.ner_model
        return (name, self._version(name)) if name else (None, None)

    def status(self) -> StageState:
        info = super().status()
        name = self.settings.ner_model
        if name in self._models:
            info.form = str(self._models[name].form)
        return info

    # --- tagging ------------------------------------------------------------------------
    def process(self, document: ArticleDocument) -> StageResult:
        name, reason = self.choose(document.language or UNDETERMINED_LANGUAGE)
        if name is None:
            return StageResult(status="skipped", code="no_model_for_language", reason=reason)
        model = self._model(name)  # raises ModelUnavailable with the fix in its message
        spans, covered = covered_sentences(
            sentence_spans(document.body, document.sentences), self.settings.ner_max_chars
        )
        mentions = self.tag(model.tagger, document.body, spans)
        # Per article (cached while the file is unchanged): an edited alias file applies to
        # the next article, and `dateline reprocess --stage entities` to indexed ones.
        result = canonicalise(mentions, document.body, alias_table(self.settings.entity_aliases))
        document.entities = result.entities
        document.entity_list = result.entity_list
        document.mentions = result.mentions
        return StageResult(model=name, version=self._version(name), covered_chars=covered)

    def tag(self, tagger: Any, body: str, spans: Sequence[Span]) -> list[RawMention]:
        """Tagger spans as RawMentions with character offsets into ``body``, in its sentences
        ``spans``."""
        from flair.data import Sentence

        sentences = [Sentence(span.text) for span in spans]
        if not sentences:
            return []
        # One call for the article: flair sorts the sentences by length and batches them.
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


def covered_sentences(spans: Sequence[Span], max_chars: int) -> tuple[list[Span], int | None]:
    """What the entity stage tags of a body whose sentences are ``spans``: the sentences from
    the start that end within ``max_chars`` characters, and where the last of them ends
    (None when that is all of them). Whole sentences: a name cut in half would be tagged as
    something else. A first sentence longer than ``max_chars`` (a text without sentence
    ends) is the exception: it is cut at its last space before there (or there, if it has
    none), so some of it is tagged."""
    kept = [span for span in spans if span.end <= max_chars]
    if len(kept) == len(spans):
        return kept, None
    if not kept and spans[0].start < max_chars:
        first = spans[0]
        text = first.text[: max_chars - first.start].rsplit(None, 1)[0]  # a span starts at a word
        kept = [Span(first.start, first.start + len(text), text)]
    return kept, kept[-1].end if kept else 0


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

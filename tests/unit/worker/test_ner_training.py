from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.worker.ner_training import (
    bracket_to_conll,
    convert_annotated,
    ner_train_command,
    train_ner,
)
from tests.support.paths import NER_CORPUS as CORPUS


def test_bracket_notation_to_bio() -> None:
    tokens = bracket_to_conll("Ambassador [PER Zalmay Khalilzad] met the [ORG TTP] in [LOC Kabul] .")
    assert tokens == [
        ("Ambassador", "O"),
        ("Zalmay", "B-PER"),
        ("Khalilzad", "I-PER"),
        ("met", "O"),
        ("the", "O"),
        ("TTP", "B-ORG"),
        ("in", "O"),
        ("Kabul", "B-LOC"),
        (".", "O"),
    ]
    with pytest.raises(ValueError):
        bracket_to_conll("[XYZ Someone] arrived .")


def test_committed_corpus_matches_its_annotated_source(tmp_path: Path) -> None:
    counts = convert_annotated(CORPUS / "annotated.txt", tmp_path)
    assert counts["train"] >= 60 and counts["dev"] >= 10 and counts["test"] >= 10
    for split in ("train", "dev", "test"):
        assert (tmp_path / f"{split}.txt").read_text() == (CORPUS / f"{split}.txt").read_text()


def test_corpus_uses_the_seed_names() -> None:
    text = (CORPUS / "train.txt").read_text()
    for name in ("Khalilzad", "Janjua", "Qureshi", "Yusufzai", "Durrani", "Baloch", "Kabir", "TTP"):
        assert f"{name} B-PER" in text or f"{name} I-PER" in text or f"{name} B-ORG" in text


def test_missing_corpus_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("Kabul B-LOC\n")
    with pytest.raises(FileNotFoundError, match="dev.txt, test.txt"):
        train_ner(tmp_path, tmp_path / "out", epochs=1)


def test_tiny_model_is_a_real_trained_tagger(ner_model_path: Path) -> None:
    from flair.data import Sentence
    from flair.models import SequenceTagger

    stamp = json.loads((ner_model_path.parent / "tiny-model.json").read_text())
    assert stamp["test_f1"] >= 0.6  # measured on held-out sentences by flair's evaluator
    tagger = SequenceTagger.load(str(ner_model_path))
    # A sentence that is not in the corpus.
    sentence = Sentence("Rahimullah Yusufzai said the Taliban would not talk to Islamabad.")
    tagger.predict(sentence)
    spans = {(s.text, s.tag) for s in sentence.get_spans("ner")}
    assert ("Taliban", "ORG") in spans and ("Islamabad", "LOC") in spans


def test_train_command_prints_f1_path_and_env_line(tmp_path: Path, capsys) -> None:
    ner_train_command(CORPUS, out=tmp_path / "model", epochs=2, char_features=False)
    out = capsys.readouterr().out
    model = (tmp_path / "model" / "final-model.pt").resolve()
    assert model.is_file()
    assert "test F1: " in out
    assert f"export DATELINE_NER_MODEL={model}" in out
    # Outside the model folder (the tests' is the tiny model's): says the workers would refuse it.
    assert "is outside the model folder" in out and "DATELINE_MODEL_DIR=" in out


def test_train_command_writes_into_the_model_folder_by_default(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.settings import get_settings

    monkeypatch.setenv("DATELINE_MODEL_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    try:
        ner_train_command(CORPUS, epochs=1, char_features=False)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    out = capsys.readouterr().out
    model = (tmp_path / "models" / "ner" / "final-model.pt").resolve()
    assert model.is_file() and f"export DATELINE_NER_MODEL={model}" in out
    assert "outside the model folder" not in out

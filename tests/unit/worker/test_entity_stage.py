from __future__ import annotations

from pathlib import Path

import pytest

from services.worker.nlp.canonical import RawMention
from services.worker.stages.entities import EntityStage, merge_adjacent
from shared.settings import get_settings


@pytest.fixture
def tiny_stage(ner_model_path: Path, settings_env: pytest.MonkeyPatch) -> EntityStage:
    settings_env.setenv("DATELINE_NER_MODEL", str(ner_model_path))
    settings_env.setenv("DATELINE_NER_MODELS", '{"de": ""}')
    get_settings.cache_clear()
    stage = EntityStage()
    stage.warm_up()
    assert stage.load_error is None
    return stage


def test_seed_002_khalilzad_is_one_canonical_person(tiny_stage, document, seed) -> None:
    doc = document(seed("002"), language="en")
    tiny_stage.run(doc)
    assert doc.provenance.entities is not None
    assert doc.provenance.entities.status == "ok", doc.provenance.entities.error
    counts = {(e.name, e.type): e.count for e in doc.entity_list}
    assert counts.get(("Zalmay Khalilzad", "person"), 0) >= 3
    assert "Zalmay Khalilzad" in doc.entities.person
    assert "Khalilzad" not in doc.entities.person
    assert "Pakistan" in doc.entities.location
    assert "Taliban" in doc.entities.organization
    for mention in doc.mentions:
        assert doc.body[mention.start : mention.end] == mention.text
    khalilzad = [m for m in doc.mentions if m.canonical == "Zalmay Khalilzad"]
    assert {m.label for m in khalilzad} <= {"PER"}
    # entity_list counts every mention: the sum matches the mentions kept.
    assert sum(e.count for e in doc.entity_list) == len(doc.mentions)


def test_seed_003_acronym_joins_its_expansion(tiny_stage, document, seed) -> None:
    doc = document(seed("003"), language="en")
    tiny_stage.run(doc)
    ttp = [m for m in doc.mentions if m.text == "TTP"]
    assert ttp, "the tiny model should find TTP in seed 003"
    assert {m.canonical for m in ttp} == {"Tehreek-e-Taliban Pakistan"}
    assert "TTP" not in doc.entities.organization


def test_provenance_names_the_model_file_and_version(tiny_stage, ner_model_path, document) -> None:
    doc = document("Zalmay Khalilzad met Tehmina Janjua in Islamabad.", language="und")
    tiny_stage.run(doc)
    record = doc.provenance.entities
    assert record is not None and record.status == "ok"
    assert record.model == str(ner_model_path)
    assert record.version is not None and "flair" in record.version and "sha256" in record.version


def test_language_without_model_is_skipped(tiny_stage, document) -> None:
    doc = document("Außenminister Scholz traf in Berlin ein.", language="de")
    tiny_stage.run(doc)
    record = doc.provenance.entities
    assert record is not None and record.status == "skipped"
    assert "'de'" in (record.error or "") and "DATELINE_NER_MODELS" in (record.error or "")
    assert doc.mentions == []


def test_unloadable_model_fails_clearly_and_does_not_raise(
    settings_env: pytest.MonkeyPatch, tmp_path: Path, document
) -> None:
    settings_env.setenv("DATELINE_NER_MODEL", str(tmp_path / "missing.pt"))
    get_settings.cache_clear()
    stage = EntityStage()
    stage.warm_up()
    assert stage.load_error and "DATELINE_NER_MODEL" in stage.load_error
    assert "dateline ner train" in stage.load_error
    doc = stage.run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    record = doc.provenance.entities
    assert record is not None and record.status == "failed"
    assert "missing.pt" in (record.error or "") and "DATELINE_NER_MODEL" in (record.error or "")
    assert stage.status()["loaded"] is False


def test_hub_model_without_internet_fails_with_advice(
    settings_env: pytest.MonkeyPatch, document
) -> None:
    settings_env.setenv("DATELINE_NER_MODEL", "flair/ner-english")
    get_settings.cache_clear()
    stage = EntityStage()
    stage.warm_up()
    assert stage.load_error and "DATELINE_NER_MODEL" in stage.load_error
    doc = stage.run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    assert doc.provenance.entities is not None and doc.provenance.entities.status == "failed"


def test_corrupt_model_file_fails_clearly(
    settings_env: pytest.MonkeyPatch, tmp_path: Path, document
) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a model")
    settings_env.setenv("DATELINE_NER_MODEL", str(bad))
    get_settings.cache_clear()
    stage = EntityStage()
    doc = stage.run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    assert doc.provenance.entities is not None and doc.provenance.entities.status == "failed"
    assert "could not be loaded" in (doc.provenance.entities.error or "")


def test_merge_adjacent_single_token_spans() -> None:
    body = "Foreign Minister Shah Mehmood Qureshi met Khalilzad, Janjua today."
    def at(text: str, label: str) -> RawMention:
        start = body.index(text)
        return RawMention(text, label, 0.9, start, start + len(text))

    merged = merge_adjacent(
        [at("Shah", "PER"), at("Mehmood", "PER"), at("Qureshi", "PER"),
         at("Khalilzad", "PER"), at("Janjua", "PER")],
        body,
    )
    assert [m.text for m in merged] == ["Shah Mehmood Qureshi", "Khalilzad", "Janjua"]
    assert all(body[m.start : m.end] == m.text for m in merged)

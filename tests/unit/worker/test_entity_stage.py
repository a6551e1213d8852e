from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.worker.nlp.mentions import RawMention
from services.worker.stages.entities import (
    EntityStage,
    check_model_file,
    covered_sentences,
    merge_adjacent,
    model_roots,
)
from shared.settings import get_settings
from shared.text.sentences import split_sentences


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


def test_a_long_body_is_tagged_up_to_the_limit_and_provenance_says_how_far(
    tiny_stage, document, seed, settings_env
) -> None:
    body = "\n\n".join(seed(prefix) for prefix in ("002", "003", "000"))
    whole = document(body, language="en")
    tiny_stage.run(whole)
    assert whole.provenance.entities.covered_chars is None  # type: ignore[union-attr]

    limit = len(seed("002")) + 10  # seed 002 and none of 003
    settings_env.setenv("DATELINE_NER_MAX_CHARS", str(limit))
    get_settings.cache_clear()
    stage = EntityStage()
    stage.warm_up()
    cut = document(body, language="en")
    stage.run(cut)
    record = cut.provenance.entities
    assert record is not None and record.status == "ok"
    assert record.covered_chars is not None and limit - 200 < record.covered_chars <= limit
    # The mentions of the covered part, as if it were the whole article.
    alone = document(body[: record.covered_chars], language="en")
    tiny_stage.run(alone)
    assert alone.provenance.entities.covered_chars is None  # type: ignore[union-attr]
    assert cut.mentions and cut.mentions == alone.mentions
    assert "Zalmay Khalilzad" in cut.entities.person
    assert "Tehreek-e-Taliban Pakistan" not in cut.entities.organization  # seed 003's


@given(
    st.lists(
        st.text(st.sampled_from("ab .!\n"), min_size=0, max_size=40),
        max_size=12,
    ).map("".join),
    st.integers(min_value=1, max_value=200),
)
def test_covered_sentences_are_a_prefix_of_the_body_within_the_limit(text: str, limit: int) -> None:
    spans = split_sentences(text)
    kept, covered = covered_sentences(spans, limit)
    if covered is None:  # all of it
        assert kept == spans and (not spans or spans[-1].end <= limit)
        return
    assert 0 <= covered <= limit and spans[-1].end > limit
    for span in kept:
        assert text[span.start : span.end] == span.text and span.text.strip() == span.text
    whole = [s for s in spans if s.end <= covered]
    assert kept[: len(whole)] == whole  # whole sentences from the start...
    if kept != whole:  # ...or the first sentence cut, when even it is too long
        (first,) = kept
        assert first.start == spans[0].start and first.end <= limit < spans[0].end
        assert spans[0].text.startswith(first.text) and first.text
    assert covered == (kept[-1].end if kept else 0)


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
    assert record is not None and record.status == "skipped" and record.code == "no_model_for_language"
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
    assert record is not None and record.status == "failed" and record.code == "model_unavailable"
    assert "missing.pt" in (record.error or "") and "DATELINE_NER_MODEL" in (record.error or "")
    assert stage.status().loaded is False


def test_hub_model_without_internet_fails_with_advice(settings_env: pytest.MonkeyPatch, document) -> None:
    settings_env.setenv("DATELINE_NER_MODEL", "flair/ner-english")
    get_settings.cache_clear()
    stage = EntityStage()
    stage.warm_up()
    assert stage.load_error and "DATELINE_NER_MODEL" in stage.load_error
    doc = stage.run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    assert doc.provenance.entities is not None and doc.provenance.entities.status == "failed"


def test_corrupt_model_file_fails_clearly(settings_env: pytest.MonkeyPatch, tmp_path: Path, document) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a model")
    settings_env.setenv("DATELINE_MODEL_DIR", str(tmp_path))
    settings_env.setenv("DATELINE_NER_MODEL", str(bad))
    get_settings.cache_clear()
    stage = EntityStage()
    doc = stage.run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    assert doc.provenance.entities is not None and doc.provenance.entities.status == "failed"
    assert "could not be loaded" in (doc.provenance.entities.error or "")


class _Payload:
    """Unpickling this creates ``marker``: what a hostile model file could do instead."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def _hostile_model(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(_Payload(marker)))
    return path


def test_a_model_file_outside_the_model_folder_is_refused_before_it_is_unpickled(
    settings_env: pytest.MonkeyPatch, tmp_path: Path, document
) -> None:
    models, elsewhere = tmp_path / "models", tmp_path / "downloads"
    marker = tmp_path / "code-ran"
    hostile = _hostile_model(elsewhere / "evil.pt", marker)
    settings_env.setenv("DATELINE_MODEL_DIR", str(models))
    settings_env.setenv("DATELINE_NER_MODEL", str(hostile))
    get_settings.cache_clear()
    stage = EntityStage()
    stage.warm_up()
    assert not marker.exists()
    error = stage.load_error or ""
    assert "outside the model folder" in error and str(models) in error and "pickle" in error
    assert f"DATELINE_NER_MODEL={models / 'evil.pt'}" in error
    doc = stage.run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    assert doc.provenance.entities is not None and doc.provenance.entities.status == "failed"
    assert not marker.exists()

    # A symlink inside the folder that points outside it is refused too (resolved first).
    models.mkdir()
    (models / "linked.pt").symlink_to(hostile)
    settings_env.setenv("DATELINE_NER_MODEL", str(models / "linked.pt"))
    get_settings.cache_clear()
    linked = EntityStage()
    linked.warm_up()
    assert "outside the model folder" in (linked.load_error or "") and not marker.exists()

    # The same file inside the folder is loaded (and its code runs: the check is what stops it).
    inside = _hostile_model(models / "evil.pt", marker)
    settings_env.setenv("DATELINE_NER_MODEL", str(inside))
    get_settings.cache_clear()
    trusted = EntityStage()
    trusted.warm_up()
    assert marker.exists()
    assert "could not be loaded" in (trusted.load_error or "")


def test_model_roots_are_the_model_folder_and_the_hub_caches(
    settings_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import flair

    settings_env.setenv("DATELINE_MODEL_DIR", str(tmp_path / "m"))
    get_settings.cache_clear()
    roots = model_roots(get_settings())
    assert roots[0] == (tmp_path / "m").resolve()
    assert (Path(flair.cache_root) / "models").resolve() in roots
    assert check_model_file(tmp_path / "m" / "x.pt", get_settings()) == (tmp_path / "m" / "x.pt").resolve()


def test_merge_adjacent_single_token_spans() -> None:
    body = "Foreign Minister Shah Mehmood Qureshi met Khalilzad, Janjua today."

    def at(text: str, label: str) -> RawMention:
        start = body.index(text)
        return RawMention(text, label, 0.9, start, start + len(text))

    merged = merge_adjacent(
        [
            at("Shah", "PER"),
            at("Mehmood", "PER"),
            at("Qureshi", "PER"),
            at("Khalilzad", "PER"),
            at("Janjua", "PER"),
        ],
        body,
    )
    assert [m.text for m in merged] == ["Shah Mehmood Qureshi", "Khalilzad", "Janjua"]
    assert all(body[m.start : m.end] == m.text for m in merged)


# --- languages: a model never tags a language it was not trained for -----------------------

GERMAN = (
    "Selon Angaben der Regierung sollen die Mittel in die Grundversorgung fließen. Das "
    "Mädchen wurde in Berlin von Außenministerin Annalena Baerbock empfangen."
)
FRENCH = (
    "Selon le ministre des Affaires étrangères, Amir Khan Muttaqi, le régime de Kaboul "
    "veut être reconnu. Les Nations unies ont rappelé leurs conditions à Doha."
)
ARABIC = (
    "وقال المبعوث الأمريكي زلماي خليل زاد إن المحادثات مع حركة طالبان في الدوحة ستستمر. "
    "وقال مصدر مطلع إن الجانبين ناقشا تبادل الأسرى."
)


@pytest.fixture
def english_stage(ner_model_path: Path, settings_env: pytest.MonkeyPatch) -> EntityStage:
    """The stage as a user who trained an English model has it: no per-language map."""
    settings_env.setenv("DATELINE_NER_MODEL", str(ner_model_path))
    settings_env.delenv("DATELINE_NER_MODELS", raising=False)
    get_settings.cache_clear()
    stage = EntityStage()
    stage.warm_up()
    assert stage.load_error is None
    return stage


@pytest.mark.parametrize(("language", "text"), [("de", GERMAN), ("fr", FRENCH), ("ar", ARABIC)])
def test_language_the_model_was_not_trained_for_is_skipped(english_stage, document, language, text) -> None:
    doc = document(text, language=language)
    english_stage.run(doc)
    record = doc.provenance.entities
    assert record is not None and record.status == "skipped"
    reason = record.error or ""
    assert f"'{language}'" in reason and "trained for en" in reason and "DATELINE_NER_MODELS" in reason
    assert doc.mentions == [] and doc.entity_list == [] and doc.entities.person == []


def test_skipped_reason_names_the_cpu_default_for_the_language(english_stage, document) -> None:
    doc = english_stage.run(document(GERMAN, language="de"))
    assert '"de": "flair/ner-german"' in (doc.provenance.entities.error or "")  # type: ignore[union-attr]


def test_undetermined_language_goes_to_the_default_model(english_stage, document) -> None:
    doc = english_stage.run(document("Zalmay Khalilzad met Tehmina Janjua in Islamabad.", language="und"))
    assert doc.provenance.entities is not None and doc.provenance.entities.status == "ok"
    assert doc.entity_list


def test_the_five_seeds_get_entities_with_one_facet_value_per_entity(english_stage, document, seed) -> None:
    from shared.names.aliases import build_table

    table = build_table(None)
    facets: dict[str, set[str]] = {}
    for prefix in ("000", "001", "002", "003", "004"):
        doc = english_stage.run(document(seed(prefix), language="en"))
        assert doc.provenance.entities is not None and doc.provenance.entities.status == "ok"
        assert doc.entity_list, prefix
        for kind, names in doc.entities.model_dump().items():
            facets.setdefault(kind, set()).update(names)
        if prefix == "002":  # says "US", never "United States"
            assert "United States" not in doc.body and "United States" in doc.entities.location
    for kind, names in facets.items():
        assert len({n.casefold() for n in names}) == len(names), f"{kind}: values equal but for case: {names}"
        assert all(table.facet_value(n) == n for n in names), f"{kind}: a value is another's alias: {names}"
        assert not [n for n in names if n.endswith("-") or n.islower()], names


def test_dateline_ner_train_records_the_language(ner_model_path: Path) -> None:
    from flair.models import SequenceTagger

    from services.worker.nlp.ner_models import recorded_languages

    assert recorded_languages(SequenceTagger.load(str(ner_model_path))) == ("en",)


def test_hub_models_declare_their_languages() -> None:
    from services.worker.nlp.ner_models import CATALOGUE, CPU_DEFAULTS, hub_entry

    assert hub_entry("flair/ner-english-fast").languages == ("en",)  # type: ignore[union-attr]
    assert hub_entry("de-ner").languages == ("de",)  # type: ignore[union-attr]  # flair's short name
    assert set(hub_entry("flair/ner-multi-fast").languages) == {"en", "de", "nl", "es"}  # type: ignore[union-attr]
    for language, model in CPU_DEFAULTS.items():
        assert language in CATALOGUE[model].languages


def test_a_model_that_declares_no_language_cannot_be_the_default_but_can_be_mapped(
    ner_model_path: Path, settings_env: pytest.MonkeyPatch, tmp_path: Path, document
) -> None:
    from flair.models import SequenceTagger

    tagger = SequenceTagger.load(str(ner_model_path))
    tagger.model_card.pop("dateline")
    anonymous = tmp_path / "anonymous.pt"
    tagger.save(anonymous)

    settings_env.setenv("DATELINE_MODEL_DIR", str(tmp_path))
    settings_env.setenv("DATELINE_NER_MODEL", str(anonymous))
    settings_env.delenv("DATELINE_NER_MODELS", raising=False)
    get_settings.cache_clear()
    stage = EntityStage()
    stage.warm_up()
    assert stage.load_error and "--language" in stage.load_error and "DATELINE_NER_MODELS" in stage.load_error

    settings_env.setenv("DATELINE_NER_MODEL", "")
    settings_env.setenv("DATELINE_NER_MODELS", f'{{"en": "{anonymous}"}}')  # the map declares it
    get_settings.cache_clear()
    doc = EntityStage().run(document("Zalmay Khalilzad arrived in Kabul.", language="en"))
    assert doc.provenance.entities is not None and doc.provenance.entities.status == "ok"
    fr = EntityStage().run(document(FRENCH, language="fr"))
    assert fr.provenance.entities is not None and fr.provenance.entities.status == "skipped"

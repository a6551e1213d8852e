"""Entities through real worker processes, with a model trained by `dateline ner train`
(English): the five seeds get entities; German, French and Arabic articles are skipped with
the reason and counted per language by `dateline status`; facet values are one per entity;
`dateline search --entity` finds aliases; `dateline reprocess --stage entities` applies a
changed alias file to indexed articles."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from tests.support.paths import REPO_DIR, SEEDS
from tests.support.processes import wait_until

SEED_FILES = sorted(SEEDS.glob("*.txt"))
FOREIGN = {
    "de": (
        "Khalilzad wirbt in Berlin für Friedensgespräche",
        "Der US-Sondergesandte Zalmay Khalilzad hat am Mittwoch in Berlin mit Außenministerin "
        "Annalena Baerbock über den Friedensprozess in Afghanistan gesprochen. Beide Seiten "
        "forderten die Taliban auf, direkte Gespräche mit Vertretern der afghanischen "
        "Zivilgesellschaft aufzunehmen. Ein Sprecher sagte, die Mittel sollen in die "
        "Grundversorgung fließen, auch für jedes Mädchen in Kabul.",
    ),
    "fr": (
        "Les talibans réclament une reconnaissance internationale",
        "Selon le ministre des affaires étrangères du gouvernement taliban, Amir Khan Muttaqi, "
        "la communauté internationale doit reconnaître le régime de Kaboul. Lors d'une "
        "conférence de presse, il a affirmé que l'Afghanistan ne représentait une menace pour "
        "aucun pays. Les Nations unies ont rappelé leurs conditions avant une réunion à Doha.",
    ),
    "ar": (
        "محادثات في الدوحة بشأن مستقبل أفغانستان",
        "التقى المبعوث الأمريكي زلماي خليل زاد اليوم الأربعاء وفدا من حركة طالبان في العاصمة "
        "القطرية، في جولة جديدة من المحادثات بشأن الانسحاب والأمن في أفغانستان. وقالت مصادر "
        "مطلعة إن الجانبين ناقشا تبادل الأسرى ووقف إطلاق النار. وقال المتحدث إن الجولة "
        "المقبلة ستعقد الشهر المقبل.",
    ),
}


def _cli(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=REPO_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_uncovered_languages_are_skipped_counted_and_aliases_apply(make_stack, tmp_path):
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("# canonical name: [aliases]\n", encoding="utf-8")
    stack = make_stack(extra_env={"DATELINE_ENTITY_ALIASES": str(aliases)})
    processes = [*stack.start_workers(), stack.start_indexer(), stack.start_ingest()]
    for seed in SEED_FILES:
        shutil.copy(seed, stack.inbox / seed.name)
    for language, (title, body) in FOREIGN.items():
        (stack.inbox / f"{language}.json").write_text(
            json.dumps({"title": title, "body": body, "language": language}, ensure_ascii=False),
            encoding="utf-8",
        )
    total = len(SEED_FILES) + len(FOREIGN)
    wait_until(lambda: stack.count() == total, timeout=900, what="every article indexed", processes=processes)

    documents = {d["source_path"]: d for d in stack.documents()}
    for seed in SEED_FILES:
        doc = documents[seed.name]
        assert doc["language"] == "en" and doc["provenance"]["entities"]["status"] == "ok", seed.name
        assert any(doc["entities"].values()), seed.name
    for language in FOREIGN:
        doc = documents[f"{language}.json"]
        assert doc["language"] == language
        entities = doc["provenance"]["entities"]
        assert entities["status"] == "skipped"
        assert f"'{language}'" in entities["error"] and "DATELINE_NER_MODELS" in entities["error"]
        assert not any(doc["entities"].values()) and doc["mentions"] == []

    # One facet value per entity across the samples: none equal to another but for case.
    for kind in ("person", "organization", "location", "misc"):
        values = {v for d in documents.values() for v in d["entities"][kind]}
        assert len({v.casefold() for v in values}) == len(values), (kind, values)

    status = json.loads(_cli(stack, "status", "--json").stdout)
    assert status["untagged_languages"] == {"ar": 1, "de": 1, "fr": 1}
    assert status["failures"] == []
    readable = _cli(stack, "status").stdout
    assert "Not tagged: no NER model for the language" in readable and "de 1" in readable

    # Seed 002 only ever says "US": the alias table makes it "United States".
    only_us = next(
        p
        for p, d in documents.items()
        if "US" in d["body"]
        and "United States" not in d["body"]
        and "United States" in d["entities"]["location"]
    )
    found = json.loads(_cli(stack, "search", "--entity", "United States", "--json", "--size", "20").stdout)
    assert only_us in {hit["source_path"] for hit in found["hits"]}

    # A changed alias file reaches indexed articles through reprocess.
    tagged_taliban = {p for p, d in documents.items() if "Taliban" in d["entities"]["organization"]}
    assert tagged_taliban
    aliases.write_text("Islamic Emirate of Afghanistan: [Taliban]\n", encoding="utf-8")
    result = _cli(stack, "reprocess", "--stage", "entities", "--language", "en")
    assert result.returncode == 0, result.stderr
    assert f"Queued {len(SEED_FILES)}" in result.stdout

    def renamed() -> bool:
        now = {d["source_path"]: d for d in stack.documents()}
        return all(
            "Islamic Emirate of Afghanistan" in now[p]["entities"]["organization"]
            and "Taliban" not in now[p]["entities"]["organization"]
            for p in tagged_taliban
        )

    wait_until(renamed, timeout=600, what="the alias applied by reprocess", processes=processes)
    found = json.loads(_cli(stack, "search", "--entity", "organization=Taliban", "--json").stdout)
    assert {hit["source_path"] for hit in found["hits"]} >= tagged_taliban  # the alias finds them
    assert json.loads(_cli(stack, "status", "--json").stdout)["untagged_languages"] == {
        "ar": 1,
        "de": 1,
        "fr": 1,
    }

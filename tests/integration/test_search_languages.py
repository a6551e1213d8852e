"""Searching a multilingual archive from the CLI and the API: both must answer alike.

The corpus goes through the same path as production: the seed files and JSON articles in
six more languages are parsed by the ingest readers, built with ``build_document``, enriched
(language, entities, summary, provenance) and written by the indexer's ``BulkWriter``. One
German article is syndicated under another path (same text, same ``content_sha256``).

Every query is run twice, through ``python -m services.cli.main search --json`` in a
subprocess and through the FastAPI app, and the two JSON bodies must be equal before the
test looks at what they say.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.indexer.writer import BulkWriter
from services.ingest.documents import build_document, folder_source
from services.ingest.readers import reader_for
from shared.schemas import (
    ArticleDocument,
    Entities,
    Entity,
    IndexRequest,
    Provenance,
    StageRecord,
)
from shared.search.client import make_client
from shared.search.index import ensure_index
from shared.search.models import FACET_FIELDS
from shared.settings import Settings
from tests.support.indices import drop_dateline_index
from tests.support.paths import REPO_DIR, SEEDS

FACET_SIZE = 10  # SearchParams.facet_size default: what the CLI and API ask for


@dataclass
class Seed:
    """How a seed file is filed and what enrichment found in it."""

    folder: str
    person: list[str]
    organization: list[str]
    location: list[str]


SEED_ENRICHMENT = {
    "000_22d70851a12d5b22.txt": Seed(
        "The Nation",
        ["Hina Rabbani Khar", "Hillary Clinton", "Zalmai Rasool"],
        ["Taliban", "NATO"],
        ["Islamabad", "Pakistan", "Afghanistan", "United States", "Brussels"],
    ),
    "001_1cac760c224c0b45.txt": Seed(
        "Reuters",
        ["Osama bin Laden", "Rahimullah Yusufzai"],
        ["Taliban", "Tehrik-e-Taliban Pakistan", "Reuters", "NATO"],
        ["Islamabad", "Pakistan", "South Waziristan", "Afghanistan", "United States"],
    ),
    "002_731e6515b98b7c79.txt": Seed(
        "Business Recorder",
        ["Zalmay Khalilzad", "Tehmina Janjua", "Mohammad Faisal", "Shah Mehmood Qureshi"],
        ["Taliban", "Foreign Office"],
        ["Pakistan", "Kabul", "Abu Dhabi", "Afghanistan"],
    ),
    "003_6e75951bac204442.txt": Seed(
        "The Express Tribune",
        ["Asad Durrani", "Amir Khan Muttaqi", "Mumtaz Zahra Baloch"],
        ["Taliban", "Tehrik-e-Taliban Pakistan", "Foreign Office"],
        ["Kabul", "Islamabad", "Pakistan", "Afghanistan"],
    ),
    "004_1218bd919b24eab8.txt": Seed(
        "The Nation",
        ["Nasser Khan Janjua"],
        ["Taliban"],
        ["Islamabad", "Pakistan", "United States", "Afghanistan"],
    ),
}


@dataclass
class Foreign:
    """A JSON article in another language, as an exporter would drop it."""

    path: str
    language: str
    source: str
    published: str
    title: str
    body: str
    entities: dict[str, list[str]] = field(default_factory=dict)


FOREIGN = [
    Foreign(
        "dw/khalilzad-berlin.json",
        "de",
        "Deutsche Welle",
        "2024-02-14T09:30:00Z",
        "Khalilzad wirbt in Berlin für Friedensgespräche",
        "Der US-Sondergesandte Zalmay Khalilzad hat am Mittwoch in Berlin mit Außenministerin "
        "Annalena Baerbock über den Friedensprozess in Afghanistan gesprochen. Beide Seiten "
        "forderten die Taliban auf, direkte Gespräche mit Vertretern der afghanischen "
        "Zivilgesellschaft aufzunehmen. Ein Sprecher des Auswärtigen Amts sagte, Deutschland "
        "werde die humanitäre Hilfe für die Menschen in Kabul fortsetzen.",
        {
            "person": ["Zalmay Khalilzad", "Annalena Baerbock"],
            "organization": ["Taliban", "Auswärtiges Amt"],
            "location": ["Berlin", "Afghanistan", "Kabul"],
        },
    ),
    Foreign(
        "lemonde/talibans-reconnaissance.json",
        "fr",
        "Le Monde",
        "2024-03-05T16:00:00Z",
        "Les talibans réclament une reconnaissance internationale",
        "Le ministre des affaires étrangères du gouvernement taliban, Amir Khan Muttaqi, a appelé "
        "mardi la communauté internationale à reconnaître le régime de Kaboul. Lors d'une "
        "conférence de presse, il a affirmé que l'Afghanistan ne représentait une menace pour "
        "aucun pays. Les Nations unies ont rappelé que l'éducation des filles restait une "
        "condition essentielle, avant une réunion prévue à Doha.",
        {
            "person": ["Amir Khan Muttaqi"],
            "organization": ["Taliban", "United Nations"],
            "location": ["Kabul", "Afghanistan", "Doha"],
        },
    ),
    Foreign(
        "elpais/pakistan-fmi.json",
        "es",
        "El País",
        "2024-03-20T11:15:00Z",
        "Pakistán negocia un nuevo rescate con el FMI",
        "El primer ministro de Pakistán, Shehbaz Sharif, anunció el lunes que su Gobierno ha "
        "alcanzado un acuerdo preliminar con el Fondo Monetario Internacional para un nuevo "
        "programa de rescate. Las autoridades esperan que los fondos estabilicen la economía y "
        "frenen la inflación, que superó el 20 % el año pasado.",
        {
            "person": ["Shehbaz Sharif"],
            "organization": ["International Monetary Fund"],
            "location": ["Pakistan"],
        },
    ),
    Foreign(
        "bbcurdu/sarhadi-muzakrat.json",
        "ur",
        "BBC Urdu",
        "2024-04-02T07:45:00Z",
        "پاکستان اور افغانستان کے درمیان سرحدی مذاکرات",
        "وزیر اعظم شہباز شریف نے منگل کو اسلام آباد میں کہا کہ حکومت کالعدم تحریک طالبان "
        "پاکستان کے خلاف کارروائی جاری رکھے گی۔ انہوں نے کہا کہ افغانستان کی عبوری حکومت کو "
        "اپنی سرزمین دہشت گردی کے لیے استعمال ہونے سے روکنا ہوگا۔ دفتر خارجہ کے مطابق دونوں "
        "ممالک کے حکام نے سرحدی تجارت اور مہاجرین کی واپسی پر بھی بات چیت کی۔",
        {
            "person": ["Shehbaz Sharif"],
            "organization": ["Tehrik-e-Taliban Pakistan", "Foreign Office"],
            "location": ["Islamabad", "Pakistan", "Afghanistan"],
        },
    ),
    Foreign(
        "aljazeera/doha-talks.json",
        "ar",
        "Al Jazeera",
        "2024-04-18T13:00:00Z",
        "محادثات في الدوحة بشأن مستقبل أفغانستان",
        "التقى المبعوث الأمريكي زلماي خليل زاد اليوم الأربعاء وفدا من حركة طالبان في العاصمة "
        "القطرية، في جولة جديدة من المحادثات بشأن الانسحاب والأمن في أفغانستان. وقالت مصادر "
        "مطلعة إن الجانبين ناقشا تبادل الأسرى ووقف إطلاق النار.",
        {
            "person": ["Zalmay Khalilzad"],
            "organization": ["Taliban"],
            "location": ["Doha", "Qatar", "Afghanistan"],
        },
    ),
    Foreign(
        "ria/moscow-format.json",
        "ru",
        "RIA Novosti",
        "2024-05-07T10:20:00Z",
        "В Москве прошли консультации по Афганистану",
        "Министр иностранных дел России Сергей Лавров во вторник принял делегацию движения "
        "«Талибан» во главе с Амиром Ханом Муттаки. Стороны обсудили гуманитарную помощь, "
        "торговлю и безопасность на границах Афганистана. Следующий раунд переговоров в "
        "московском формате запланирован на осень.",
        {
            "person": ["Sergey Lavrov", "Amir Khan Muttaqi"],
            "organization": ["Taliban"],
            "location": ["Moscow", "Afghanistan"],
        },
    ),
]
# The DW story as syndicated by a wire service: same text, another file and source.
DUPLICATE = Foreign(
    "dpa/khalilzad-berlin-wire.json",
    "de",
    "dpa",
    FOREIGN[0].published,
    FOREIGN[0].title,
    FOREIGN[0].body,
    FOREIGN[0].entities,
)
LANGUAGES = {"en": 5, "de": 2, "fr": 1, "es": 1, "ur": 1, "ar": 1, "ru": 1}


def enrich(doc: ArticleDocument, language: str, entities: dict[str, list[str]]) -> ArticleDocument:
    """What the three worker stages would have added."""
    now = datetime.now(timezone.utc)
    names = Entities(**entities)
    first_sentence = doc.body.split(". ")[0].split("۔")[0].rstrip(".") + "."
    return doc.model_copy(
        update={
            "language": language,
            "language_confidence": 0.99,
            "entities": names,
            "entity_list": [
                Entity(name=name, type=kind, count=1 + doc.body.count(name))
                for kind, found in entities.items()
                for name in found
            ],
            "summary": first_sentence,
            "summary_spans": [(0, len(first_sentence))],
            "provenance": Provenance(
                language=StageRecord(model="lingua", version="1.3", status="ok", seconds=0.01),
                entities=StageRecord(model="flair/ner-multi", version="0.13", status="ok", seconds=0.4),
                summary=StageRecord(model="textrank", version="1", status="ok", seconds=0.02),
            ),
            "enriched_at": now,
        }
    )


def corpus() -> list[ArticleDocument]:
    docs: list[ArticleDocument] = []
    for path in sorted(SEEDS.iterdir()):
        seed = SEED_ENRICHMENT[path.name]
        source_path = f"{seed.folder}/{path.name}"
        inbox_path = Path("/inbox") / source_path
        articles = reader_for(path).read(path, path.read_bytes()).articles
        assert len(articles) == 1, path
        doc = build_document(
            articles[0], source_path=source_path, revision=1, folder=folder_source(inbox_path, Path("/inbox"))
        )
        docs.append(
            enrich(
                doc,
                "en",
                {"person": seed.person, "organization": seed.organization, "location": seed.location},
            )
        )
    for item in [*FOREIGN, DUPLICATE]:
        raw = json.dumps(
            {
                "title": item.title,
                "body": item.body,
                "source": item.source,
                "published_at": item.published,
                "language": item.language,
            },
            ensure_ascii=False,
        ).encode("utf-8")
        path = Path(item.path)
        articles = reader_for(path).read(path, raw).articles
        assert len(articles) == 1, item.path
        doc = build_document(articles[0], source_path=item.path, revision=1)
        docs.append(enrich(doc, item.language, item.entities))
    return docs


DOCS = corpus()
BY_PATH = {doc.source_path: doc for doc in DOCS}


def ids(*paths: str) -> set[str]:
    return {BY_PATH[p].id for p in paths}


SEED_PATHS = [doc.source_path for doc in DOCS[:5]]
DW, LEMONDE, ELPAIS, URDU, ARABIC, RUSSIAN = (item.path for item in FOREIGN)
DPA = DUPLICATE.path


@pytest.fixture(scope="module")
def es(es_url: str) -> Elasticsearch:
    return make_client(es_url)


@pytest.fixture(scope="module")
def settings(es: Elasticsearch, es_url: str) -> Iterator[Settings]:
    alias = f"test-{uuid.uuid4().hex[:12]}"
    cfg = Settings(elasticsearch_url=es_url, index=alias)
    ensure_index(es, alias, cfg)  # what the indexer does at start
    requests = [
        (
            f"{1700000000000 + n}-0",
            IndexRequest(action="upsert", source_path=doc.source_path, revision=doc.revision, document=doc),
        )
        for n, doc in enumerate(DOCS)
    ]
    result = BulkWriter(es, alias, cfg).write(requests)
    assert not result.rejected, result.rejected
    assert len(result.written) == len(DOCS)
    es.indices.refresh(index=alias)
    yield cfg
    drop_dateline_index(es, alias)


@pytest.fixture(scope="module")
def api(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), base_url="http://127.0.0.1")


def cli_args(q: str, params: dict[str, Any]) -> list[str]:
    args = [q]
    for name in ("lang", "source", "entity"):
        for value in params.get(name, []):
            args += [f"--{name}", value]
    for name in ("since", "until", "size", "page"):
        if name in params:
            args += [f"--{name}", str(params[name])]
    if params.get("collapse") is False:
        args.append("--no-collapse")
    return args


def api_params(q: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    found = [("q", q)]
    for name in ("lang", "source", "entity"):
        found += [(name, value) for value in params.get(name, [])]
    for name in ("since", "until", "size", "page"):
        if name in params:
            found.append((name, str(params[name])))
    if "collapse" in params:
        found.append(("collapse", "true" if params["collapse"] else "false"))
    return found


@pytest.fixture(scope="module")
def ask(settings: Settings, api: TestClient):
    """Run one search through the CLI and the API; return the body once both agree."""

    def run(q: str = "*", **params: Any) -> dict[str, Any]:
        env = {
            **os.environ,
            "DATELINE_ELASTICSEARCH_URL": settings.elasticsearch_url,
            "DATELINE_INDEX": settings.index,
            "PYTHONIOENCODING": "utf-8",
        }
        done = subprocess.run(
            [sys.executable, "-m", "services.cli.main", "search", "--json", *cli_args(q, params)],
            cwd=REPO_DIR,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        from_cli = json.loads(done.stdout)
        response = api.get("/search", params=api_params(q, params))
        assert response.status_code == 200, response.text
        from_api = response.json()
        # The same question gets the same answer: totals, hits in order, highlights, facets.
        assert from_cli["total"] == from_api["total"]
        assert [h["id"] for h in from_cli["hits"]] == [h["id"] for h in from_api["hits"]]
        assert from_cli["facets"] == from_api["facets"]
        assert from_cli == from_api
        return from_cli

    return run


def hit_ids(body: dict[str, Any]) -> set[str]:
    return {hit["id"] for hit in body["hits"]}


def expected_facet(docs: list[ArticleDocument], field: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for doc in docs:
        if field.startswith("entities."):
            counts.update(getattr(doc.entities, field.split(".", 1)[1]))
        else:
            value = getattr(doc, field)
            if value is not None:
                counts[value] += 1
    return counts


def assert_top_terms(returned: dict[str, int], expected: Counter[str]) -> None:
    """A terms facet of size FACET_SIZE: the most frequent names with exact counts."""
    assert len(returned) == min(FACET_SIZE, len(expected)), (returned, expected)
    for name, count in returned.items():
        assert expected[name] == count, (name, returned, expected)
    left_out = [count for name, count in expected.items() if name not in returned]
    if left_out:
        assert min(returned.values()) >= max(left_out)


# --- the corpus as a whole -----------------------------------------------------------------


def test_corpus_has_one_exact_duplicate():
    shas = Counter(doc.content_sha256 for doc in DOCS)
    assert len(DOCS) == 12 and len(shas) == 11
    assert BY_PATH[DW].content_sha256 == BY_PATH[DPA].content_sha256
    assert {doc.language for doc in DOCS} == set(LANGUAGES)


def test_everything_has_facets_over_the_whole_corpus(ask):
    body = ask(size=100)
    assert body["total"] == 11 and len(body["hits"]) == 11  # the wire copy collapses
    # Facets count what the hits show: the copy (dpa's, of DW's German text) counts once.
    assert body["facets"]["language"] == {**LANGUAGES, "de": 1}
    distinct = list({doc.content_sha256: doc for doc in reversed(DOCS)}.values())
    for facet in FACET_FIELDS:
        assert_top_terms(body["facets"][facet], expected_facet(distinct, facet))
    assert body["facets"]["entities.organization"]["Taliban"] == 9
    assert body["facets"]["entities.person"]["Zalmay Khalilzad"] == 3
    assert body["facets"]["entities.location"]["Afghanistan"] == 10

    # Without collapsing, facets count documents, copies included.
    every = ask(size=100, collapse=False)
    assert every["facets"]["language"] == LANGUAGES
    for facet in FACET_FIELDS:
        assert_top_terms(every["facets"][facet], expected_facet(DOCS, facet))
    assert every["facets"]["entities.organization"]["Taliban"] == 10
    assert every["facets"]["entities.person"]["Zalmay Khalilzad"] == 4
    assert every["facets"]["entities.location"]["Afghanistan"] == 11


def test_facets_follow_the_filters(ask):
    body = ask(lang=["ur", "ar"])
    assert hit_ids(body) == ids(URDU, ARABIC)
    members = [BY_PATH[URDU], BY_PATH[ARABIC]]
    for facet in FACET_FIELDS:
        assert_top_terms(body["facets"][facet], expected_facet(members, facet))


# --- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lang, paths",
    [
        (["ur"], [URDU]),
        (["ar"], [ARABIC]),
        (["ru"], [RUSSIAN]),
        (["de"], [DW]),  # the copy collapses into the original
        (["FR", "es"], [LEMONDE, ELPAIS]),  # codes are case-insensitive, several are OR-ed
        (["en"], SEED_PATHS),
    ],
)
def test_lang_filter(ask, lang, paths):
    body = ask(lang=lang)
    assert hit_ids(body) == ids(*paths)
    assert body["total"] == len(paths)
    assert set(body["facets"]["language"]) == {code.lower() for code in lang}


def test_source_filter(ask):
    assert hit_ids(ask(source=["The Nation"])) == ids(SEED_PATHS[0], SEED_PATHS[4])
    both = ask(source=["dpa", "Le Monde"], collapse=False)
    assert hit_ids(both) == ids(DPA, LEMONDE) and both["total"] == 2
    assert ask(source=["the nation"])["total"] == 0  # source names are exact


def test_entity_filters_are_anded(ask):
    khalilzad = ask(entity=["person=Zalmay Khalilzad"], collapse=False)
    assert hit_ids(khalilzad) == ids(SEED_PATHS[2], DW, DPA, ARABIC)
    assert khalilzad["facets"]["entities.person"]["Zalmay Khalilzad"] == 4
    in_doha = ask(entity=["person=Zalmay Khalilzad", "location=Doha"])
    assert hit_ids(in_doha) == ids(ARABIC)
    muttaqi = ask(entity=["person=Amir Khan Muttaqi", "location=Moscow", "organization=Taliban"])
    assert hit_ids(muttaqi) == ids(RUSSIAN)
    assert ask(entity=["person=Shehbaz Sharif", "location=Doha"])["total"] == 0
    urdu = ask(entity=["person=Shehbaz Sharif"], lang=["ur"])
    assert hit_ids(urdu) == ids(URDU)


def test_date_range_is_inclusive_and_skips_undated(ask):
    spring = ask(since="2024-03", until="2024-04")
    assert hit_ids(spring) == ids(LEMONDE, ELPAIS, URDU, ARABIC)
    assert hit_ids(ask(until="2023")) == ids(SEED_PATHS[3])  # the one seed with a date line
    assert hit_ids(ask(since="2024-05-07")) == ids(RUSSIAN)
    assert hit_ids(ask(since="2024-04-18T13:00:00Z", until="2024-04-18T13:00:00Z")) == ids(ARABIC)
    early = ask(until="2024-02-14", collapse=False)
    assert hit_ids(early) == ids(SEED_PATHS[3], DW, DPA)
    assert ask(until="2024-02-14")["total"] == 2
    # Undated seeds match no date range, but everything without one.
    assert ask(since="1900")["total"] == 11 - 4


# --- text in several scripts, highlights --------------------------------------------------------


@pytest.mark.parametrize(
    "word, path",
    [
        ("مہاجرین", URDU),  # Urdu: refugees
        ("الأسرى", ARABIC),  # Arabic: prisoners
        ("переговоров", RUSSIAN),  # Russian: of talks
        ("Friedensprozess", DW),
        ("Kaboul", LEMONDE),
        ("inflación", ELPAIS),
    ],
)
def test_query_in_each_script_finds_its_article(ask, word, path):
    body = ask(word)
    assert hit_ids(body) == ids(path), body["hits"]
    marked = " ".join(f for fragments in body["hits"][0]["highlight"].values() for f in fragments)
    assert f"<em>{word}</em>" in marked


def test_highlights_mark_the_query_term_in_every_hit(ask):
    body = ask("Taliban", size=20)
    assert hit_ids(body) == ids(*SEED_PATHS, DW, LEMONDE)  # "taliban" in French too; DPA collapses
    for hit in body["hits"]:
        assert hit["highlight"], hit["id"]
        fragments = [f for found in hit["highlight"].values() for f in found]
        assert all("<em>" in f for f in fragments)
        assert any("<em>taliban</em>" in f.lower() for f in fragments), fragments
        assert set(hit["highlight"]) <= {"title", "body", "summary"}  # sub-fields merged


def test_urdu_query_with_filters_from_both_ways(ask):
    body = ask("طالبان", lang=["ur"], entity=["organization=Tehrik-e-Taliban Pakistan"])
    assert hit_ids(body) == ids(URDU)
    assert "<em>طالبان</em>" in " ".join(body["hits"][0]["highlight"]["body"])


# --- paging and collapse --------------------------------------------------------------------------


@pytest.mark.parametrize("collapse, total", [(True, 11), (False, 12)])
def test_paging_walks_every_article_once(ask, collapse, total):
    pages = []
    page = 1
    while True:
        body = ask(size=2, page=page, collapse=collapse)
        assert body["total"] == total and body["page"] == page and body["size"] == 2
        if not body["hits"]:
            break
        pages.append([hit["id"] for hit in body["hits"]])
        page += 1
    seen = [doc_id for found in pages for doc_id in found]
    assert len(seen) == len(set(seen)) == total  # no overlap, nothing missed
    assert [len(found) for found in pages] == [2] * (total // 2) + ([1] if total % 2 else [])
    four = ask(size=4, page=1, collapse=collapse)
    assert [hit["id"] for hit in four["hits"]][2:] == pages[1]  # page 2 of 2 = items 3-4
    if collapse:
        assert not ids(DW, DPA) <= set(seen)  # one of the two copies
        assert ids(DW, DPA) & set(seen)
    else:
        assert ids(DW, DPA) <= set(seen)


def test_duplicate_counted_once_unless_asked(ask):
    once = ask("Baerbock")
    assert once["total"] == 1 and len(once["hits"]) == 1
    assert once["hits"][0]["id"] in ids(DW, DPA)
    assert once["facets"]["source"] == {"Deutsche Welle": 1, "dpa": 1}  # facets count documents
    both = ask("Baerbock", collapse=False)
    assert both["total"] == 2 and hit_ids(both) == ids(DW, DPA)
    assert {hit["source_path"] for hit in both["hits"]} == {DW, DPA}
    assert len({hit["content_sha256"] for hit in both["hits"]}) == 1

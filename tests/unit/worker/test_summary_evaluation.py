from __future__ import annotations

from services.worker.evaluation import clean_article, lead, load_articles
from shared.text.sentences import split_sentences


def test_every_evaluation_article_has_an_abstractive_reference() -> None:
    articles = load_articles()
    assert len(articles) >= 8
    assert {a.name[:3] for a in articles} >= {"000", "001", "002", "003", "004"}
    for article in articles:
        sentences = split_sentences(article.reference)
        assert 2 <= len(sentences) <= 4, article.name
        # Written in our own words: no reference sentence is copied from the article.
        for sentence in sentences:
            assert sentence.text not in article.body, (article.name, sentence.text)


def test_lead_baseline_uses_the_same_splitter() -> None:
    body = "First one here.\nSecond one, Dr. Faisal said. Third.\nFourth."
    assert lead(body) == "First one here. Second one, Dr. Faisal said. Third."


def test_clean_article_returns_title_and_body() -> None:
    title, body = clean_article("Headline of the story\n\nISLAMABAD: The story starts here.\n")
    assert "The story starts here." in body
    assert isinstance(title, str)

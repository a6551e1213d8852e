"""Every format gets the one cleaning: the same text gives the same article in a .txt file,
a JSON record, a JSON Lines line and an HTML page."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.ingest.readers import ParsedArticle, read_file
from shared.text.article import CleanedText, clean_text

SEEDS = Path(__file__).parents[2] / "fixtures" / "seeds"

DATED = (
    "date 2023-07-22 ISLAMABAD: The Afghan Taliban has asked the Pakistan government to "
    "hold talks with the banned TTP, officials said on Saturday.\n\n"
    "The request was made during a meeting in Kabul last week, they said.\n\n"
    "- File Photo\n\n"
    "Officials expect a reply within days.\n\n"
    "Foreign Policy"
)
HEADLINE_FIRST = (
    "Talks resume in Kabul\n\n"
    "Published: 3 March 2022\n\n"
    "KABUL – Afghan and Pakistani officials resumed talks on border trade on Monday.\n\n"
    "Photo: AFP\n\n"
    "The two sides will meet again next week, the foreign office said."
)


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def as_txt(text: str) -> ParsedArticle:
    (article,) = read_file(Path("a.txt"), text.encode()).articles
    return article


def as_json(text: str, **fields: object) -> ParsedArticle:
    (article,) = read_file(Path("a.json"), json.dumps({"text": text, **fields}).encode()).articles
    return article


def as_jsonl(text: str, **fields: object) -> ParsedArticle:
    line = json.dumps({"body": text, **fields}) + "\n"
    result = read_file(Path("a.jsonl"), (line + line).encode())
    assert result.errors == [] and len(result.articles) == 2
    return result.articles[1]


def as_json_list_item(text: str) -> ParsedArticle:
    data = json.dumps({"articles": [{"content": "First story here."}, {"content": text}]})
    return read_file(Path("a.json"), data.encode()).articles[1]


def cleaned(article: ParsedArticle) -> tuple[object, ...]:
    return article.title, article.body, article.published_at, article.dateline


@pytest.mark.parametrize(
    "text",
    [DATED, HEADLINE_FIRST, seed("000"), seed("001"), seed("003"), seed("004")],
    ids=["dated", "headline-first", "seed-000", "seed-001", "seed-003", "seed-004"],
)
def test_txt_json_and_jsonl_give_the_same_article(text: str) -> None:
    expected = cleaned(as_txt(text))
    assert cleaned(as_json(text)) == expected
    assert cleaned(as_jsonl(text)) == expected
    assert cleaned(as_json_list_item(text)) == expected


def test_a_dated_record_gets_date_dateline_and_a_clean_body() -> None:
    for article in (as_txt(DATED), as_json(DATED), as_jsonl(DATED)):
        assert article.published_at == datetime(2023, 7, 22, tzinfo=timezone.utc)
        assert article.dateline == "Islamabad"
        assert article.title == (
            "The Afghan Taliban has asked the Pakistan government to hold talks with the "
            "banned TTP, officials said on Saturday"
        )
        assert article.body.startswith("The Afghan Taliban has asked")
        assert article.body.endswith("Officials expect a reply within days.")
        for chrome in ("date 2023", "ISLAMABAD", "File Photo", "Foreign Policy"):
            assert chrome not in article.body


def test_the_records_own_date_wins_over_the_date_in_its_text() -> None:
    for article in (
        as_json(DATED, date="2024-01-05T08:00:00Z"),
        as_jsonl(DATED, published_at="2024-01-05T08:00:00Z"),
    ):
        assert article.published_at == datetime(2024, 1, 5, 8, tzinfo=timezone.utc)
        # The date line still leaves the body, and the dateline is still found.
        assert "date 2023" not in article.body and article.dateline == "Islamabad"


def test_a_record_with_a_title_gets_its_text_cleaned_the_same_way() -> None:
    article = as_json(HEADLINE_FIRST, title="Talks resume in Kabul")
    assert cleaned(article) == cleaned(as_txt(HEADLINE_FIRST))
    assert article.published_at == datetime(2022, 3, 3, tzinfo=timezone.utc)
    assert article.body == (
        "Afghan and Pakistani officials resumed talks on border trade on Monday.\n\n"
        "The two sides will meet again next week, the foreign office said."
    )


def test_html_body_gets_the_same_cleaning() -> None:
    html = """<html><head><title>Talks resume in Kabul</title></head><body><article>
<h1>Talks resume in Kabul</h1>
<p>Published: 3 March 2022</p>
<p>KABUL – Afghan and Pakistani officials resumed talks on border trade on Monday.</p>
<p>Photo: AFP</p>
<p>The two sides will meet again next week, the foreign office said.</p>
</article></body></html>"""
    (article,) = read_file(Path("a.html"), html.encode()).articles
    assert cleaned(article) == cleaned(as_txt(HEADLINE_FIRST))


# --- one document shape ---------------------------------------------------------------------


def test_a_parsed_article_is_the_cleaned_text_plus_what_the_file_says() -> None:
    text = clean_text(DATED)
    article = ParsedArticle.from_cleaned(text, format="json", source="Dawn", record=3)
    assert isinstance(article, CleanedText)
    assert article.model_dump(include=set(CleanedText.model_fields)) == text.model_dump()
    assert (article.format, article.source, article.record) == ("json", "Dawn", 3)
    # A date the file states wins; without one, the text's date stays.
    stated = datetime(2024, 1, 5, tzinfo=timezone.utc)
    assert ParsedArticle.from_cleaned(text, format="json", published_at=stated).published_at == stated
    assert article.published_at == text.published_at


def test_from_cleaned_requires_the_format() -> None:
    with pytest.raises(ValueError, match="format"):
        ParsedArticle.from_cleaned(clean_text(DATED), source="Dawn")  # no format

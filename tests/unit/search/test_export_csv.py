"""Writing exports, without a cluster: CSV cells a spreadsheet cannot run, the rows' fields,
JSON Lines, and the export's parameters."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.search.export import (
    EXPORT_FIELDS,
    FORMULA_STARTS,
    ExportParams,
    ExportRow,
    csv_chunks,
    csv_values,
    encode,
    filename,
    safe_cell,
)

HIT = {
    "_id": "a" * 32,
    "_source": {
        "title": '=HYPERLINK("http://evil.example", "click")',
        "url": "https://news.example/a",
        "source": "@Wire",
        "published_at": "2024-03-05T14:00:00Z",
        "dateline": "ISLAMABAD",
        "language": "en",
        "entities": {"person": ["Imran Khan", "-Someone"], "organization": ["UN"], "location": ["Pakistan"]},
        "summary": "+1 for the summary",
        "source_path": "inbox/a.txt",
        "story_id": "text-abc",
    },
}


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_rows_fields_come_from_the_document():
    row = ExportRow.from_hit(HIT)
    assert EXPORT_FIELDS == (
        "id",
        "title",
        "url",
        "source",
        "published_at",
        "dateline",
        "language",
        "people",
        "organisations",
        "places",
        "summary",
        "path",
    )
    assert (
        row.people == ["Imran Khan", "-Someone"]
        and row.organisations == ["UN"]
        and row.places == ["Pakistan"]
    )
    assert row.path == "inbox/a.txt" and row.published_at == datetime(2024, 3, 5, 14, tzinfo=timezone.utc)
    bare = ExportRow.from_hit({"_id": "b" * 32, "_source": {"source_path": "b.txt"}})
    assert bare.title == "" and bare.people == [] and bare.summary is None


def test_csv_cells_never_start_like_a_formula():
    (header, cells) = _read("".join(encode([ExportRow.from_hit(HIT)], "csv")))
    assert tuple(header) == EXPORT_FIELDS
    values = dict(zip(header, cells, strict=True))
    assert values["title"] == '\'=HYPERLINK("http://evil.example", "click")'
    assert values["source"] == "'@Wire"
    assert values["summary"] == "'+1 for the summary"
    # Lists are one cell; the joined text is checked, not only each name.
    assert values["people"] == "Imran Khan; -Someone"
    assert values["published_at"] == "2024-03-05T14:00:00Z"
    assert values["url"] == "https://news.example/a" and values["dateline"] == "ISLAMABAD"
    for start in FORMULA_STARTS:
        assert safe_cell(start + "x") == "'" + start + "x"
    assert safe_cell(["-a", "b"]) == "'-a; b"
    assert safe_cell(None) == "" and safe_cell(3) == "3" and safe_cell("plain") == "plain"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(max_size=40), min_size=3, max_size=3), max_size=30))
def test_csv_reads_back_cell_for_cell(rows):
    """Whatever the text (quotes, commas, newlines, formulas), the CSV reads back to the same
    cells, each made safe, in rows of the same length."""
    text = "".join(csv_chunks(("a", "b", "c"), rows))
    back = _read(text)
    assert back[0] == ["a", "b", "c"]
    assert back[1:] == [[safe_cell(cell) for cell in row] for row in rows]
    for row in back[1:]:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row)


def test_large_output_comes_in_several_chunks_that_join_to_one_csv(monkeypatch):
    monkeypatch.setattr("shared.search.export.CHUNK_CHARS", 100)
    rows = [ExportRow(id=f"{i:032x}", title=f"title, {i}", path=f"{i}.txt") for i in range(50)]
    chunks = list(encode(rows, "csv"))
    assert len(chunks) > 5
    back = _read("".join(chunks))
    assert len(back) == 51 and [r[0] for r in back[1:]] == [row.id for row in rows]
    assert back[1] == [safe_cell(v) for v in csv_values(rows[0])]


def test_json_lines_are_one_object_per_line_in_utf8():
    rows = [ExportRow.from_hit(HIT), ExportRow(id="c" * 32, title="Zürich – «Streik»", path="c.txt")]
    lines = "".join(encode(rows, "jsonl")).splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert list(first) == list(EXPORT_FIELDS)
    # JSON is not a spreadsheet: the text is kept as it is, lists stay lists.
    assert first["title"].startswith("=HYPERLINK") and first["people"] == ["Imran Khan", "-Someone"]
    assert "Zürich – «Streik»" in lines[1] and second["published_at"] is None


def test_export_parameters_are_the_search_pages_plus_format():
    params = ExportParams.model_validate({"q": "flood", "lang": ["en"], "page": 3, "size": 20})
    assert params.collapse is False and params.format == "csv"  # every document by default
    assert params.query == "flood" and params.lang == ["en"]
    assert ExportParams.model_validate({"format": "jsonl", "collapse": "true"}).collapse is True
    with pytest.raises(ValidationError, match="csv"):
        ExportParams.model_validate({"format": "xlsx"})
    with pytest.raises(ValidationError):
        ExportParams.model_validate({"entity": ["planet=Mars"]})
    with pytest.raises(ValidationError):
        ExportParams.model_validate({"unknown": "x"})


def test_download_names():
    moment = datetime(2024, 3, 5, 14, 0, 9, tzinfo=timezone.utc)
    assert filename("export", "jsonl", moment) == "dateline-export-20240305-140009.jsonl"


def test_exports_are_not_ranked():
    """Ranking would score every match again for each page: newest first or the archive's order."""
    from shared.search.export import NEWEST_FIRST, export_order

    assert export_order(ExportParams(sort="date")) == NEWEST_FIRST
    assert export_order(ExportParams(query="flood")) == []

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from shared.text.dates import extract_leading_date, parse_date


@pytest.mark.parametrize(
    "line,when,rest",
    [
        (
            "date 2023-07-22 ISLAMABAD: x",
            datetime(2023, 7, 22, tzinfo=timezone.utc),
            "ISLAMABAD: x",
        ),
        ("Date: 2023-07-22", datetime(2023, 7, 22, tzinfo=timezone.utc), ""),
        ("Published: 22 July 2023 | Kabul", datetime(2023, 7, 22, tzinfo=timezone.utc), "Kabul"),
        ("July 22, 2023", datetime(2023, 7, 22, tzinfo=timezone.utc), ""),
        ("Updated 16 Apr, 2024", datetime(2024, 4, 16, tzinfo=timezone.utc), ""),
        ("2023-07-22T10:30:00+05:00", datetime(2023, 7, 22, 5, 30, tzinfo=timezone.utc), ""),
    ],
)
def test_leading_dates(line: str, when: datetime, rest: str) -> None:
    assert extract_leading_date(line) == (when, rest)


@pytest.mark.parametrize("line", ["2023-07-22 was a hot day in Lahore.", "Dates of the talks were set."])
def test_not_leading_dates(line: str) -> None:
    assert extract_leading_date(line) == (None, line)


def test_leading_date_keeps_its_time_and_zone() -> None:
    # Pakistan Standard Time is UTC+5: the hand-written format list knew no zones.
    when, rest = extract_leading_date("Published: July 22, 2023, 10:30 am PKT | KARACHI: x")
    assert when == datetime(2023, 7, 22, 5, 30, tzinfo=timezone.utc)
    assert rest == "KARACHI: x"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2023-07-22", datetime(2023, 7, 22, tzinfo=timezone.utc)),
        ("2023-07-22T10:00:00Z", datetime(2023, 7, 22, 10, tzinfo=timezone.utc)),
        ("2023-09-15T08:30:00+0500", datetime(2023, 9, 15, 3, 30, tzinfo=timezone.utc)),
        ("Sat, 22 Jul 2023 10:00:00 GMT", datetime(2023, 7, 22, 10, tzinfo=timezone.utc)),
        ("July 22nd, 2023", datetime(2023, 7, 22, tzinfo=timezone.utc)),
        (1690020000, datetime(2023, 7, 22, 10, 0, tzinfo=timezone.utc)),
        ("not a date", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_date(value: object, expected: datetime | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("16 Apr, 2024", datetime(2024, 4, 16, tzinfo=timezone.utc)),
        ("Sept. 3 2021 10:30", datetime(2021, 9, 3, 10, 30, tzinfo=timezone.utc)),
        (1690020000000, datetime(2023, 7, 22, 10, 0, tzinfo=timezone.utc)),  # JavaScript ms
        ("2023-07-22 10:00 UTC", datetime(2023, 7, 22, 10, tzinfo=timezone.utc)),
        # Exporters in other languages write month names in their own language.
        ("22 juillet 2023", datetime(2023, 7, 22, tzinfo=timezone.utc)),
        ("22. Juli 2023", datetime(2023, 7, 22, tzinfo=timezone.utc)),
        # YAML front matter gives dates and datetimes, not text.
        (date(2024, 2, 1), datetime(2024, 2, 1, tzinfo=timezone.utc)),
        (datetime(2024, 2, 1, 9, 30), datetime(2024, 2, 1, 9, 30, tzinfo=timezone.utc)),
    ],
)
def test_parse_date_more_forms(value: object, expected: datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is not None


@pytest.mark.parametrize("value", ["May 2024", "2024", "Monday", "2 hours ago", "yesterday"])
def test_partial_and_relative_dates_are_refused(value: str) -> None:
    # Filling the missing day from today, or counting back from the day of ingest, would
    # invent a publication date.
    assert parse_date(value) is None

"""Date ranges and lift tests as users state them."""

from __future__ import annotations

from datetime import date

import pytest

from engine.causal.data import DataError
from engine.causal.periods import LiftTestInput, parse_date_range


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)),
        ("2023-q4", date(2023, 10, 1), date(2023, 12, 31)),
        ("2024-H2", date(2024, 7, 1), date(2024, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("2024-W05", date(2024, 1, 29), date(2024, 2, 4)),
        ("2020-W53", date(2020, 12, 28), date(2021, 1, 3)),
        (" 2024-03-05 ", date(2024, 3, 5), date(2024, 3, 5)),
        ("2024-01-15..2024-02-10", date(2024, 1, 15), date(2024, 2, 10)),
        ("2024-01-15/2024-02-10", date(2024, 1, 15), date(2024, 2, 10)),
    ],
)
def test_parse_date_range(text: str, first: date, last: date) -> None:
    assert parse_date_range(text) == (first, last)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2024-Q5", "no quarter 5"),
        ("2024-H3", "no half 3"),
        ("2024-13", "no month 13"),
        ("2023-W53", "2023-W53"),
        ("2024-02-30", "day is out of range"),
        ("2024-03-01..2024-02-01", "after its end"),
        ("last quarter", "is not a period"),
    ],
)
def test_parse_date_range_rejects(text: str, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment) as info:
        parse_date_range(text)
    assert info.value.field == "date_range"


def test_lift_test_input_is_checked() -> None:
    with pytest.raises(DataError, match="ends 2024-01-01 before") as info:
        LiftTestInput("tv", date(2024, 1, 5), date(2024, 1, 1), 1.0, 1.0)
    assert info.value.field == "lift_tests"
    with pytest.raises(DataError, match="standard_error must be positive"):
        LiftTestInput("tv", date(2024, 1, 1), date(2024, 1, 5), 1.0, 0.0)
    with pytest.raises(DataError, match="incremental_kpi"):
        LiftTestInput("tv", date(2024, 1, 1), date(2024, 1, 5), float("nan"), 1.0)

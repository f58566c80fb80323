"""Date ranges and lift tests as users state them (in dates, not period indices)."""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from engine.causal.data import DataError

_RANGE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d{4})"), "year"),
    (re.compile(r"(\d{4})-Q(\d)"), "quarter"),
    (re.compile(r"(\d{4})-H(\d)"), "half"),
    (re.compile(r"(\d{4})-W(\d{1,2})"), "week"),
    (re.compile(r"(\d{4})-(\d{1,2})"), "month"),
    (re.compile(r"(\d{4}-\d{2}-\d{2})"), "day"),
    (re.compile(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/)\s*(\d{4}-\d{2}-\d{2})"), "between"),
)


def parse_date_range(value: str) -> tuple[date, date]:
    """Inclusive first and last day of ``2024``, ``2024-Q1``, ``2024-H2``, ``2024-03``,
    ``2024-W05`` (ISO week), ``2024-03-05`` or ``2024-01-01..2024-03-31`` (``/`` also works)."""
    text = value.strip().upper()
    for pattern, kind in _RANGE_PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        try:
            return _range_of(kind, match.groups())
        except ValueError as error:
            raise DataError("date_range", f"{value!r}: {error}") from None
    raise DataError(
        "date_range",
        f"{value!r} is not a period: use 2024, 2024-Q1, 2024-H2, 2024-03, 2024-W05, "
        "2024-03-05 or 2024-01-01..2024-03-31",
    )


def _range_of(kind: str, groups: Sequence[str]) -> tuple[date, date]:
    if kind == "day":
        day = date.fromisoformat(groups[0])
        return day, day
    if kind == "between":
        first, last = date.fromisoformat(groups[0]), date.fromisoformat(groups[1])
        if first > last:
            raise ValueError(f"starts {first}, after its end {last}")
        return first, last
    year, number = int(groups[0]), int(groups[1]) if len(groups) > 1 else 0
    if kind == "year":
        return date(year, 1, 1), date(year, 12, 31)
    if kind == "week":
        monday = date.fromisocalendar(year, number, 1)  # ValueError names a week out of range
        return monday, monday + timedelta(days=6)
    months_per_part = {"quarter": 3, "half": 6, "month": 1}[kind]
    if not 1 <= number <= 12 // months_per_part:
        raise ValueError(f"there is no {kind} {number} in a year")
    first_month = (number - 1) * months_per_part + 1
    last_month = first_month + months_per_part - 1
    return date(year, first_month, 1), date(
        year, last_month, calendar.monthrange(year, last_month)[1]
    )


@dataclass(frozen=True)
class LiftTestInput:
    """An experiment as a user states it: dates, the KPI it added and its standard error."""

    channel: str
    start: date
    end: date
    incremental_kpi: float
    standard_error: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DataError(
                "lift_tests", f"{self.channel}: ends {self.end} before it starts {self.start}"
            )
        if not math.isfinite(self.incremental_kpi):
            raise DataError("lift_tests", f"{self.channel}: incremental_kpi must be a number")
        if not (math.isfinite(self.standard_error) and self.standard_error > 0):
            raise DataError(
                "lift_tests",
                f"{self.channel}: standard_error must be positive, got {self.standard_error}",
            )

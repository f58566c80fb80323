"""Calendar controls for the MMM: aligned to periods, constant columns dropped."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from engine.calendar import CalendarError, calendar_controls

MONDAYS_2023 = [date(2023, 1, 2) + timedelta(weeks=i) for i in range(52)]


def column(names: tuple[str, ...], values: np.ndarray, name: str) -> np.ndarray:
    return values[:, names.index(name)]


def test_weekly_controls_count_days_in_each_week() -> None:
    names, values = calendar_controls(MONDAYS_2023, "weekly")
    assert names == ("holiday_days", "cyber_five_days", "prime_day_days", "q4_peak_share")
    assert values.shape == (52, 4)
    assert values.dtype == np.float64
    thanksgiving_week = MONDAYS_2023.index(date(2023, 11, 20))
    cyber = column(names, values, "cyber_five_days")
    assert cyber[thanksgiving_week] == 4  # Thu 23 - Sun 26 Nov
    assert cyber[thanksgiving_week + 1] == 1  # Cyber Monday, 27 Nov
    assert cyber.sum() == 5
    assert column(names, values, "holiday_days")[thanksgiving_week] == 1
    prime = column(names, values, "prime_day_days")
    assert prime[MONDAYS_2023.index(date(2023, 7, 10))] == 2
    assert prime.sum() == 2
    q4 = column(names, values, "q4_peak_share")
    assert q4[MONDAYS_2023.index(date(2023, 10, 30))] == pytest.approx(5 / 7)
    assert q4[MONDAYS_2023.index(date(2023, 12, 25))] == 1.0
    # The 11 US federal holidays of 2023 as days: New Year's Day only as observed (Mon 2 Jan;
    # Sunday 1 Jan precedes the first week), Veterans Day on Sat 11 Nov and observed Fri 10 Nov.
    holidays = column(names, values, "holiday_days")
    assert holidays.sum() == 12
    assert holidays[MONDAYS_2023.index(date(2023, 11, 6))] == 2


def test_daily_controls_keep_the_weekend_and_drop_constants() -> None:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(31)]
    names, values = calendar_controls(days, "daily")
    # January has no Cyber Five, no Prime Day and no Q4 peak: those cannot be identified.
    assert names == ("holiday_days", "weekend_days")
    assert values.shape == (31, 2)
    holidays = column(names, values, "holiday_days")
    assert np.flatnonzero(holidays).tolist() == [0, 14]  # New Year's Day, MLK Day
    assert column(names, values, "weekend_days")[5:7].tolist() == [1.0, 1.0]


def test_rows_follow_the_given_order() -> None:
    shuffled = [date(2023, 11, 27), date(2023, 1, 2), date(2023, 11, 20)]
    names, values = calendar_controls(shuffled, "weekly")
    assert column(names, values, "cyber_five_days").tolist() == [1.0, 0.0, 4.0]


def test_a_single_period_identifies_nothing() -> None:
    names, values = calendar_controls([date(2024, 11, 25)], "weekly")
    assert names == ()
    assert values.shape == (1, 0)


def test_other_country() -> None:
    names, values = calendar_controls(MONDAYS_2023, "weekly", country="GB", subdivision="SCT")
    assert "holiday_days" in names
    # St Andrew's Day (Thu 30 Nov) is a Scottish bank holiday.
    assert column(names, values, "holiday_days")[MONDAYS_2023.index(date(2023, 11, 27))] == 1


@pytest.mark.parametrize(
    ("dates", "frequency", "kwargs", "field"),
    [
        ([], "weekly", {}, "dates"),
        ([datetime(2024, 1, 1)], "weekly", {}, "dates"),
        (["2024-01-01"], "daily", {}, "dates"),
        ([date(2024, 1, 1)], "monthly", {}, "frequency"),
        ([date(2024, 1, 1)], "weekly", {"country": "XX"}, "country"),
        ([date(2024, 1, 1)], "weekly", {"subdivision": "XX"}, "subdivision"),
        ([date(1990, 1, 1), date(2040, 1, 1)], "daily", {}, "end"),
    ],
)
def test_errors_name_their_parameter(
    dates: list[Any], frequency: Any, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(CalendarError) as caught:
        calendar_controls(dates, frequency, **kwargs)
    assert caught.value.field == field

"""Per-year retail rules against published dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.calendar import retail


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((2024, 11, retail.THURSDAY, 4), date(2024, 11, 28)),
        ((2024, 5, retail.SUNDAY, 2), date(2024, 5, 12)),
        ((2024, 5, retail.MONDAY, -1), date(2024, 5, 27)),  # Memorial Day
        ((2024, 12, 1, -1), date(2024, 12, 31)),  # last Tuesday
        ((2026, 2, retail.SUNDAY, 1), date(2026, 2, 1)),
    ],
)
def test_nth_weekday(args: tuple[int, int, int, int], expected: date) -> None:
    assert retail.nth_weekday(*args) == expected


def test_easter_matches_published_dates() -> None:
    published = [
        date(1961, 4, 2),
        date(2000, 4, 23),
        date(2008, 3, 23),
        date(2011, 4, 24),
        date(2019, 4, 21),
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2038, 4, 25),
    ]
    assert [retail.easter_sunday(day.year) for day in published] == published
    for year in range(1700, 2300):
        easter = retail.easter_sunday(year)
        assert easter.weekday() == retail.SUNDAY
        assert date(year, 3, 22) <= easter <= date(year, 4, 25)


def test_super_bowl_dates() -> None:
    played = [
        date(1990, 1, 28),
        date(1999, 1, 31),
        date(2001, 1, 28),
        date(2002, 2, 3),
        date(2003, 1, 26),
        date(2004, 2, 1),
        date(2009, 2, 1),
        date(2015, 2, 1),
        date(2021, 2, 7),
        date(2022, 2, 13),
        date(2024, 2, 11),
        date(2026, 2, 8),
    ]
    assert [retail.super_bowl_sunday(day.year) for day in played] == played
    assert retail.super_bowl_sunday(1985) is None


def test_nrf_year_ends_and_53_week_years() -> None:
    assert retail.nrf_year_end(2022) == date(2023, 1, 28)
    assert retail.nrf_year_end(2023) == date(2024, 2, 3)
    assert retail.nrf_year_end(2024) == date(2025, 2, 1)
    assert retail.nrf_year_end(2025) == date(2026, 1, 31)
    years = retail.retail_years(2000, 2030)
    long_years = years.filter(years.get_column("is_53_week_year")).get_column("retail_year")
    assert long_years.to_list() == [2000, 2006, 2012, 2017, 2023, 2028]
    assert years.get_column("retail_year_start").dt.weekday().unique().to_list() == [7]


def test_mothers_and_fathers_day_by_country() -> None:
    assert retail.mothers_day(2024, "US") == date(2024, 5, 12)
    assert retail.mothers_day(2025, "GB") == date(2025, 3, 30)
    assert retail.mothers_day(2024, "MX") == date(2024, 5, 10)
    assert retail.mothers_day(2024, "FR") == date(2024, 5, 26)
    assert retail.mothers_day(2004, "FR") == date(2004, 6, 6)  # last May Sunday was Pentecost
    assert retail.fathers_day(2024, "US") == date(2024, 6, 16)
    assert retail.fathers_day(2024, "AU") == date(2024, 9, 1)
    assert retail.fathers_day(2024, "DE") == date(2024, 5, 9)
    assert retail.fathers_day(2024, "IT") == date(2024, 3, 19)


def test_prime_day_table_is_consistent() -> None:
    for year, days in retail.PRIME_DAY_DATES.items():
        assert days, year
        assert all(day.year == year for day in days)
        assert list(days) == [days[0] + timedelta(days=i) for i in range(len(days))]
    assert retail.prime_days(2019, 2020).to_list() == [
        date(2019, 7, 15),
        date(2019, 7, 16),
        date(2020, 10, 13),
        date(2020, 10, 14),
    ]
    assert retail.prime_days(2000, 2014).len() == 0


def test_yearly_events_flag_unknown_years() -> None:
    events = retail.yearly_events(1980, 2030, "US").to_dicts()
    by_year = {row["year"]: row for row in events}
    assert by_year[2024]["black_friday"] == date(2024, 11, 29)
    assert by_year[2024]["cyber_monday"] == date(2024, 12, 2)
    assert by_year[2024]["next_black_friday"] == date(2025, 11, 28)
    assert by_year[2024]["labor_day"] == date(2024, 9, 2)
    assert not by_year[1980]["super_bowl_known"]
    assert by_year[1990]["super_bowl_known"]
    assert by_year[2026]["prime_day_known"]
    assert not by_year[2027]["prime_day_known"]

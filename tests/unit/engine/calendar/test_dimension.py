"""The calendar dimension against dates a marketer can check on a calendar."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engine.calendar import CALENDAR_FIELDS, CalendarError, calendar_dimension
from engine.calendar.dimension import MARKETING_SEASONS, POLARS_TYPES

DOCS = Path(__file__).resolve().parents[4] / "docs" / "calendar.md"


@pytest.fixture(scope="module")
def us() -> pl.DataFrame:
    return calendar_dimension(date(2019, 1, 1), date(2027, 12, 31))


def row(frame: pl.DataFrame, day: date) -> dict[str, Any]:
    rows = frame.filter(pl.col("date") == day).to_dicts()
    assert len(rows) == 1, f"{day} not in frame"
    return rows[0]


def dates_where(frame: pl.DataFrame, column: str) -> list[date]:
    return frame.filter(pl.col(column)).get_column("date").to_list()


def test_exactly_the_61_documented_columns_in_order_and_type(us: pl.DataFrame) -> None:
    assert len(CALENDAR_FIELDS) == 61
    assert us.columns == [field.name for field in CALENDAR_FIELDS]
    assert len(set(us.columns)) == 61
    assert {"date", "day_of_week", "is_holiday", "marketing_season", "fiscal_quarter"} <= set(
        us.columns
    )
    for field in CALENDAR_FIELDS:
        assert us.schema[field.name] == POLARS_TYPES[field.type], field.name
        assert field.description


def test_docs_list_every_field_in_order() -> None:
    columns_section = DOCS.read_text(encoding="utf-8").split("\n## Columns\n")[1].split("\n## ")[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", columns_section, flags=re.MULTILINE)
    assert documented == [field.name for field in CALENDAR_FIELDS]


def test_one_row_per_day_across_years(us: pl.DataFrame) -> None:
    days = us.get_column("date")
    assert days.len() == (date(2027, 12, 31) - date(2019, 1, 1)).days + 1
    assert days.diff().drop_nulls().dt.total_days().unique().to_list() == [1]


def test_thanksgiving_black_friday_cyber_monday_2024(us: pl.DataFrame) -> None:
    assert row(us, date(2024, 11, 28))["holiday_name"] == "Thanksgiving Day"
    assert [d for d in dates_where(us, "is_black_friday") if d.year == 2024] == [date(2024, 11, 29)]
    assert [d for d in dates_where(us, "is_cyber_monday") if d.year == 2024] == [date(2024, 12, 2)]
    cyber_five = [d for d in dates_where(us, "is_cyber_five") if d.year == 2024]
    assert cyber_five == [date(2024, 11, 28) + timedelta(days=i) for i in range(5)]
    assert row(us, date(2024, 11, 29))["retail_event"] == "black_friday"
    assert row(us, date(2024, 11, 30))["days_to_black_friday"] == 363  # to 28 Nov 2025


def test_super_bowl_sunday(us: pl.DataFrame) -> None:
    assert dates_where(us, "is_super_bowl_sunday") == [
        date(2019, 2, 3),
        date(2020, 2, 2),
        date(2021, 2, 7),
        date(2022, 2, 13),
        date(2023, 2, 12),
        date(2024, 2, 11),
        date(2025, 2, 9),
        date(2026, 2, 8),
        date(2027, 2, 14),
    ]
    # Super Bowl LXI falls on Valentine's Day; the bigger ad event names the day.
    assert row(us, date(2027, 2, 14))["retail_event"] == "super_bowl_sunday"
    assert row(us, date(2027, 2, 14))["is_valentines_day"] is True


def test_independence_day_on_a_saturday_is_observed_on_friday(us: pl.DataFrame) -> None:
    friday, saturday = row(us, date(2026, 7, 3)), row(us, date(2026, 7, 4))
    assert friday["is_holiday"]
    assert friday["is_observed_holiday"]
    assert friday["holiday_name"] == "Independence Day (observed)"
    assert not friday["is_business_day"]
    assert saturday["is_holiday"]
    assert not saturday["is_observed_holiday"]
    assert saturday["holiday_name"] == "Independence Day"
    assert row(us, date(2026, 7, 2))["is_business_day"]


def test_iso_week_53(us: pl.DataFrame) -> None:
    for day, iso_year, iso_week in [
        (date(2020, 12, 31), 2020, 53),
        (date(2021, 1, 3), 2020, 53),
        (date(2021, 1, 4), 2021, 1),
        (date(2026, 12, 28), 2026, 53),
        (date(2027, 1, 3), 2026, 53),
        (date(2027, 1, 4), 2027, 1),
        (date(2019, 12, 30), 2020, 1),
    ]:
        values = row(us, day)
        assert (values["iso_year"], values["iso_week"]) == (iso_year, iso_week), day
    assert row(us, date(2021, 1, 3))["iso_week_start"] == date(2020, 12, 28)
    assert row(us, date(2021, 1, 3))["iso_weekday"] == 7
    assert row(us, date(2021, 1, 3))["day_of_week"] == 6
    years_with_week_53 = us.filter(pl.col("iso_week") == 53).get_column("iso_year").unique()
    assert sorted(years_with_week_53.to_list()) == [2020, 2026]


def test_leap_day(us: pl.DataFrame) -> None:
    leap_day = row(us, date(2024, 2, 29))
    assert leap_day["day_of_year"] == 60
    assert leap_day["days_in_month"] == 29
    assert leap_day["is_leap_year"]
    assert leap_day["is_month_end"]
    assert row(us, date(2024, 12, 31))["day_of_year"] == 366
    assert row(us, date(2023, 2, 28))["is_month_end"]
    assert not row(us, date(2023, 2, 28))["is_leap_year"]


def test_boundaries(us: pl.DataFrame) -> None:
    first_days = us.filter(pl.col("is_quarter_start")).get_column("date")
    assert first_days.dt.month().unique().sort().to_list() == [1, 4, 7, 10]
    assert first_days.dt.day().unique().to_list() == [1]
    assert us.filter(pl.col("is_year_end")).height == 9
    assert row(us, date(2024, 6, 30))["is_quarter_end"]
    assert row(us, date(2024, 12, 31))["is_year_end"]
    assert row(us, date(2024, 11, 29))["weekday_occurrence_in_month"] == 5


def test_nrf_4_5_4_retail_calendar(us: pl.DataFrame) -> None:
    first = row(us, date(2023, 1, 29))
    assert (first["retail_year"], first["retail_week"], first["retail_period"]) == (2023, 1, 1)
    last = row(us, date(2024, 2, 3))
    assert (last["retail_year"], last["retail_week"], last["retail_period"]) == (2023, 53, 12)
    assert (last["retail_quarter"], last["retail_week_of_period"]) == (4, 5)
    assert last["is_53_week_year"]
    assert row(us, date(2024, 2, 4))["retail_year"] == 2024
    assert row(us, date(2024, 2, 4))["retail_week"] == 1
    assert row(us, date(2023, 1, 28))["retail_year"] == 2022
    assert row(us, date(2023, 1, 28))["retail_week"] == 52
    assert row(us, date(2024, 12, 1))["retail_period"] == 11  # NRF December 2024 starts 1 Dec
    weeks_53 = us.filter(pl.col("is_53_week_year")).get_column("retail_year").unique()
    assert weeks_53.to_list() == [2023]
    period_days = (
        us.filter(pl.col("retail_year") == 2024)
        .group_by("retail_period")
        .agg(pl.len())
        .sort("retail_period")
        .get_column("len")
    )
    assert period_days.to_list() == [28, 35, 28] * 4


def test_business_days_and_paydays(us: pl.DataFrame) -> None:
    november = row(us, date(2024, 11, 25))
    assert november["business_days_in_month"] == 19  # 21 weekdays - Veterans Day - Thanksgiving
    assert november["business_day_of_month"] == 16
    assert november["business_days_remaining_in_month"] == 3
    assert dates_where(us.filter(pl.col("month") == 11, pl.col("year") == 2024), "is_bridge_day")
    # 1 Dec 2024 is a Sunday: pay on Friday 29 Nov. 1 Jan 2025 is a holiday: pay on 31 Dec.
    assert row(us, date(2024, 11, 29))["is_payday_1st"]
    assert row(us, date(2024, 12, 31))["is_payday_1st"]
    assert row(us, date(2024, 10, 1))["is_payday_1st"]
    # 15 Sep 2024 is a Sunday: pay on Friday 13 Sep.
    assert row(us, date(2024, 9, 13))["is_payday_15th"]
    assert not row(us, date(2024, 9, 16))["is_payday_15th"]
    per_month = us.group_by("year", "month").agg(
        pl.col("is_payday_15th").sum(), pl.col("is_last_business_day_of_month").sum()
    )
    assert per_month.get_column("is_payday_15th").unique().to_list() == [1]
    assert per_month.get_column("is_last_business_day_of_month").unique().to_list() == [1]
    assert us.get_column("is_payday_1st").sum() == 9 * 12
    assert row(us, date(2024, 11, 29))["is_last_business_day_of_month"]


def test_bridge_days(us: pl.DataFrame) -> None:
    assert row(us, date(2024, 11, 29))["is_bridge_day"]  # Friday after Thanksgiving
    assert row(us, date(2023, 7, 3))["is_bridge_day"]  # Monday before Tuesday 4 July
    assert row(us, date(2026, 1, 2))["is_bridge_day"]  # Friday after Thursday 1 January
    assert not row(us, date(2024, 12, 26))["is_bridge_day"]  # Thursday; Friday is a workday
    bridges = us.filter(pl.col("is_bridge_day"))
    assert bridges.get_column("is_business_day").all()


def test_holiday_distances_look_beyond_the_range() -> None:
    tail = calendar_dimension(date(2024, 12, 26), date(2024, 12, 31))
    assert tail.get_column("days_to_next_holiday").to_list() == [6, 5, 4, 3, 2, 1]
    head = calendar_dimension(date(2025, 1, 2), date(2025, 1, 3))
    assert head.get_column("days_since_previous_holiday").to_list() == [1, 2]
    assert head.get_column("days_to_next_holiday").to_list() == [18, 17]  # MLK Day, 20 Jan


def test_one_day_range_matches_the_long_range(us: pl.DataFrame) -> None:
    one = calendar_dimension(date(2024, 2, 29), date(2024, 2, 29))
    assert one.height == 1
    assert one.row(0, named=True) == row(us, date(2024, 2, 29))
    assert one.row(0, named=True)["business_days_in_month"] == 20


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2020, 12, 31), date(2021, 1, 1)),
        (date(2023, 2, 3), date(2024, 2, 4)),
        (date(2026, 7, 3), date(2026, 7, 3)),
        (date(2019, 1, 1), date(2019, 1, 1)),
        (date(2027, 12, 31), date(2027, 12, 31)),
    ],
)
def test_sub_ranges_equal_the_long_range(us: pl.DataFrame, start: date, end: date) -> None:
    # Edges must not change any value: month counts, neighbours and distances see past them.
    expected = us.filter(pl.col("date").is_between(start, end))
    assert calendar_dimension(start, end).equals(expected)


def test_retail_and_marketing_events(us: pl.DataFrame) -> None:
    y2024 = us.filter(pl.col("year") == 2024)
    assert dates_where(y2024, "is_mothers_day") == [date(2024, 5, 12)]
    assert dates_where(y2024, "is_fathers_day") == [date(2024, 6, 16)]
    assert dates_where(y2024, "is_easter_sunday") == [date(2024, 3, 31)]
    assert dates_where(y2024, "is_valentines_day") == [date(2024, 2, 14)]
    assert dates_where(y2024, "is_singles_day") == [date(2024, 11, 11)]
    assert dates_where(y2024, "is_halloween") == [date(2024, 10, 31)]
    assert dates_where(y2024, "is_prime_day") == [date(2024, 7, 16), date(2024, 7, 17)]
    assert row(us, date(2020, 10, 13))["is_prime_day"]
    assert row(us, date(2026, 6, 26))["retail_event"] == "prime_day"
    # Years after the maintained table are unknown, not "no Prime Day".
    assert us.filter(pl.col("year") == 2027).get_column("is_prime_day").null_count() == 365
    school = dates_where(y2024, "is_back_to_school_season")
    assert (school[0], school[-1]) == (date(2024, 7, 15), date(2024, 9, 2))


def test_prime_day_is_false_before_it_existed() -> None:
    frame = calendar_dimension(date(2014, 1, 1), date(2014, 12, 31))
    assert frame.get_column("is_prime_day").null_count() == 0
    assert not frame.get_column("is_prime_day").any()


def test_marketing_seasons(us: pl.DataFrame) -> None:
    expected = {
        date(2024, 1, 1): "post_holiday_lull",
        date(2024, 2, 29): "post_holiday_lull",
        date(2024, 3, 1): "spring",
        date(2024, 6, 1): "summer",
        date(2024, 7, 14): "summer",
        date(2024, 7, 15): "back_to_school",
        date(2024, 9, 2): "back_to_school",
        date(2024, 9, 3): "fall",
        date(2024, 10, 31): "fall",
        date(2024, 11, 1): "q4_holiday_peak",
        date(2024, 12, 31): "q4_holiday_peak",
    }
    for day, season in expected.items():
        assert row(us, day)["marketing_season"] == season, day
    assert set(us.get_column("marketing_season").unique()) == set(MARKETING_SEASONS)
    assert us.get_column("is_q4_holiday_peak").equals(
        us.get_column("marketing_season") == "q4_holiday_peak", check_names=False
    )


@pytest.mark.parametrize(
    ("start_month", "day", "fiscal"),
    [
        (1, date(2024, 12, 31), (2024, 4, 12)),
        (10, date(2024, 10, 1), (2025, 1, 1)),
        (10, date(2024, 9, 30), (2024, 4, 12)),
        (7, date(2024, 7, 1), (2025, 1, 1)),
        (7, date(2025, 1, 15), (2025, 3, 7)),
        (4, date(2025, 3, 31), (2025, 4, 12)),
    ],
)
def test_fiscal_year_is_named_by_the_year_it_ends(
    start_month: int, day: date, fiscal: tuple[int, int, int]
) -> None:
    values = calendar_dimension(day, day, fiscal_year_start_month=start_month).row(0, named=True)
    assert (values["fiscal_year"], values["fiscal_quarter"], values["fiscal_month"]) == fiscal


def test_other_countries_and_subdivisions() -> None:
    england = calendar_dimension(
        date(2024, 1, 1), date(2026, 12, 31), country="GB", subdivision="ENG"
    )
    assert dates_where(england.filter(pl.col("year") == 2024), "is_mothers_day") == [
        date(2024, 3, 10)  # Mothering Sunday: Easter (31 Mar) - 3 weeks
    ]
    boxing = row(england, date(2026, 12, 28))
    assert boxing["is_observed_holiday"]
    assert "Boxing Day" in boxing["holiday_name"]
    assert not row(england, date(2024, 7, 4))["is_holiday"]
    assert row(england, date(2024, 11, 29))["is_black_friday"]

    bavaria = calendar_dimension(
        date(2024, 5, 1), date(2024, 6, 30), country="de", subdivision="by"
    )
    berlin = calendar_dimension(date(2024, 5, 1), date(2024, 6, 30), country="DE", subdivision="BE")
    assert row(bavaria, date(2024, 5, 30))["is_holiday"]  # Corpus Christi
    assert not row(berlin, date(2024, 5, 30))["is_holiday"]
    assert row(bavaria, date(2024, 5, 31))["is_bridge_day"]
    assert dates_where(bavaria, "is_fathers_day") == [date(2024, 5, 9)]  # Ascension Day

    # Japanese names carry no "(observed)"; the substitute day is still found.
    japan = calendar_dimension(date(2024, 2, 10), date(2024, 2, 13), country="JP")
    assert dates_where(japan, "is_observed_holiday") == [date(2024, 2, 12)]
    assert dates_where(japan, "is_holiday") == [date(2024, 2, 11), date(2024, 2, 12)]


def test_custom_weekend() -> None:
    emirates = calendar_dimension(date(2024, 11, 24), date(2024, 11, 30), country="AE")
    gulf = calendar_dimension(date(2024, 11, 24), date(2024, 11, 30), weekend=(4, 5))
    assert dates_where(emirates, "is_weekend") == [date(2024, 11, 24), date(2024, 11, 30)]
    assert dates_where(gulf, "is_weekend") == [date(2024, 11, 29), date(2024, 11, 30)]
    assert row(gulf, date(2024, 11, 24))["is_business_day"]
    assert (
        calendar_dimension(date(2024, 1, 6), date(2024, 1, 7), weekend=())
        .get_column("is_business_day")
        .all()
    )


def test_fifty_years_is_the_limit() -> None:
    assert calendar_dimension(date(2000, 1, 1), date(2049, 12, 31)).height == 18263


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start": date(2024, 2, 1), "end": date(2024, 1, 31)}, "end"),
        ({"start": date(2000, 1, 1), "end": date(2050, 1, 1)}, "end"),
        ({"start": datetime(2024, 1, 1, 12), "end": date(2024, 1, 2)}, "start"),
        ({"end": "2024-01-02"}, "end"),
        ({"start": date(1200, 1, 1), "end": date(1200, 1, 2)}, "start"),
        ({"country": "XX"}, "country"),
        ({"country": 1}, "country"),
        ({"country": "US", "subdivision": "ZZ"}, "subdivision"),
        ({"country": "AE", "subdivision": "CA"}, "subdivision"),
        ({"fiscal_year_start_month": 0}, "fiscal_year_start_month"),
        ({"fiscal_year_start_month": 13}, "fiscal_year_start_month"),
        ({"fiscal_year_start_month": True}, "fiscal_year_start_month"),
        ({"weekend": (7,)}, "weekend"),
        ({"weekend": (5, 5)}, "weekend"),
        ({"weekend": tuple(range(7))}, "weekend"),
        ({"weekend": (True,)}, "weekend"),
        ({"weekend": 5}, "weekend"),
    ],
)
def test_errors_name_their_parameter(kwargs: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {"start": date(2024, 1, 1), "end": date(2024, 1, 2)} | kwargs
    start, end = arguments.pop("start"), arguments.pop("end")
    with pytest.raises(CalendarError) as caught:
        calendar_dimension(start, end, **arguments)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)  # the calendar's own; callers translate it
    assert str(caught.value).startswith(f"{field}: ")

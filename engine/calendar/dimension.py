"""The daily calendar dimension: 61 temporal features per day, built with polars expressions.

Everything is computed over a padded frame (whole months plus a week either side) so that
month-level counts, neighbour-day rules (bridge days, payday roll-back) and the distance to the
nearest holiday are right at the edges of the requested range; the padding is cut off at the end.
Public holidays come from the holidays package, looked up once for the years involved (plus one
either side) and joined; retail events and the NRF calendar are per-year rules (retail.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import holidays
import polars as pl

from engine.calendar import retail
from engine.calendar.errors import CalendarError

MAX_YEARS = 50
# Western Easter (used for Mothering Sunday and Vatertag) follows the Gregorian computus, and the
# lookups reach one year beyond each end; these bounds keep both meaningful.
FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR = 1600, 4000

# Frictionless Table Schema's type names, as in pandas' ``to_json(orient="table")`` (the shape of
# the calendar-dimension response), so that tools which read that schema read this one.
FieldType = Literal["date", "integer", "boolean", "string"]
POLARS_TYPES: dict[str, type[pl.DataType]] = {
    "date": pl.Date,
    "integer": pl.Int32,
    "boolean": pl.Boolean,
    "string": pl.String,
}

MARKETING_SEASONS = (
    "post_holiday_lull",
    "spring",
    "summer",
    "back_to_school",
    "fall",
    "q4_holiday_peak",
)


@dataclass(frozen=True)
class CalendarField:
    """One column of the calendar dimension: its name, simple type and meaning."""

    name: str
    type: FieldType
    description: str


def _field(name: str, type_: FieldType, description: str) -> CalendarField:
    return CalendarField(name, type_, description)


CALENDAR_FIELDS: tuple[CalendarField, ...] = (
    # Calendar basics.
    _field("date", "date", "The day."),
    _field("year", "integer", "Calendar year."),
    _field("quarter", "integer", "Calendar quarter, 1-4."),
    _field("month", "integer", "Calendar month, 1-12."),
    _field("month_name", "string", "English month name, e.g. 'January'."),
    _field("day_of_month", "integer", "Day of the month, 1-31."),
    _field("day_of_year", "integer", "Day of the year, 1-366."),
    _field("day_of_week", "integer", "Monday = 0 ... Sunday = 6 (the numbering `weekend` uses)."),
    _field("day_name", "string", "English weekday name, e.g. 'Monday'."),
    _field(
        "weekday_occurrence_in_month", "integer", "n for the n-th such weekday of the month, 1-5."
    ),
    _field("days_in_month", "integer", "Number of days in this month, 28-31."),
    _field("is_leap_year", "boolean", "The calendar year has 29 February."),
    _field("iso_year", "integer", "ISO 8601 week-numbering year (differs from `year` near 1 Jan)."),
    _field("iso_week", "integer", "ISO 8601 week, 1-53."),
    _field("iso_weekday", "integer", "ISO 8601 weekday, Monday = 1 ... Sunday = 7."),
    _field("iso_week_start", "date", "Monday of this ISO week."),
    # Period boundaries.
    _field("is_month_start", "boolean", "First day of the month."),
    _field("is_month_end", "boolean", "Last day of the month."),
    _field("is_quarter_start", "boolean", "First day of a calendar quarter."),
    _field("is_quarter_end", "boolean", "Last day of a calendar quarter."),
    _field("is_year_start", "boolean", "1 January."),
    _field("is_year_end", "boolean", "31 December."),
    # Weekends and public holidays.
    _field(
        "is_weekend", "boolean", "`day_of_week` is in the `weekend` parameter (default Sat, Sun)."
    ),
    _field(
        "is_holiday",
        "boolean",
        "A public holiday of the country/subdivision (holidays package), including days off "
        "in lieu ('observed').",
    ),
    _field(
        "is_observed_holiday",
        "boolean",
        "A day off in lieu of a holiday that fell on another day (e.g. Fri 3 Jul 2026 for "
        "Independence Day); found by comparing the package with and without observed rules.",
    ),
    _field("holiday_name", "string", "Holiday name(s) joined by '; '; null when not a holiday."),
    _field(
        "is_bridge_day",
        "boolean",
        "A business day between a weekday holiday and the weekend (e.g. the Friday after a "
        "Thursday holiday), when people take leave.",
    ),
    _field(
        "days_to_next_holiday",
        "integer",
        "Days until the next holiday (0 on a holiday); looks beyond the range; null if none "
        "within a year of the range.",
    ),
    _field(
        "days_since_previous_holiday",
        "integer",
        "Days since the previous holiday (0 on a holiday); looks beyond the range; null if none "
        "within a year of the range.",
    ),
    # Business days and paydays.
    _field("is_business_day", "boolean", "Neither weekend nor holiday."),
    _field("business_days_in_month", "integer", "Business days in this calendar month."),
    _field(
        "business_day_of_month",
        "integer",
        "Business days of the month up to and including this day (its index on a business day).",
    ),
    _field(
        "business_days_remaining_in_month",
        "integer",
        "Business days of the month after this day.",
    ),
    _field("is_last_business_day_of_month", "boolean", "The month's last business day."),
    _field(
        "is_payday_1st",
        "boolean",
        "Pay date for a salary due on the 1st: the last business day on or before the 1st "
        "(so it may fall at the end of the previous month).",
    ),
    _field(
        "is_payday_15th",
        "boolean",
        "Pay date for a salary due on the 15th: the last business day on or before the 15th.",
    ),
    # Retail and marketing events.
    _field("is_black_friday", "boolean", "Day after US Thanksgiving (4th Thursday of November)."),
    _field("is_cyber_monday", "boolean", "Monday after US Thanksgiving."),
    _field("is_cyber_five", "boolean", "US Thanksgiving through Cyber Monday (five days)."),
    _field(
        "is_super_bowl_sunday",
        "boolean",
        "Super Bowl Sunday (rule in docs/calendar.md); null for 1967-1989 (no rule).",
    ),
    _field(
        "is_prime_day",
        "boolean",
        "Amazon Prime Day (summer event, table of announced dates 2015-2026); False before "
        "2015, null after the last year in the table.",
    ),
    _field("is_singles_day", "boolean", "11 November (Singles' Day / Double 11)."),
    _field("is_valentines_day", "boolean", "14 February."),
    _field(
        "is_mothers_day",
        "boolean",
        "Mother's Day: GB/IE Easter - 3 weeks, FR last Sunday of May (June if Pentecost), "
        "MX 10 May, elsewhere the US rule (2nd Sunday of May).",
    ),
    _field(
        "is_fathers_day",
        "boolean",
        "Father's Day: AU/NZ 1st Sunday of September, DE Ascension Day, IT/ES/PT 19 March, "
        "elsewhere the US rule (3rd Sunday of June).",
    ),
    _field("is_easter_sunday", "boolean", "Western (Gregorian) Easter Sunday."),
    _field("is_halloween", "boolean", "31 October."),
    _field(
        "is_back_to_school_season",
        "boolean",
        "15 July through US Labor Day (1st Monday of September), inclusive.",
    ),
    _field(
        "retail_event",
        "string",
        "The day's most prominent retail event: black_friday, cyber_monday, cyber_five, "
        "prime_day, super_bowl_sunday, singles_day, valentines_day, mothers_day, fathers_day, "
        "easter_sunday, halloween (first that applies); null when none.",
    ),
    _field(
        "days_to_black_friday",
        "integer",
        "Days until the next Black Friday (0 on Black Friday), for holiday-season ramps.",
    ),
    # Marketing seasons.
    _field(
        "marketing_season",
        "string",
        "One of post_holiday_lull (Jan-Feb), spring (Mar-May), summer (1 Jun - 14 Jul), "
        "back_to_school (15 Jul - Labor Day), fall (to 31 Oct), q4_holiday_peak (Nov-Dec, "
        "NRF's holiday season); Northern-Hemisphere retail.",
    ),
    _field("is_q4_holiday_peak", "boolean", "`marketing_season` is q4_holiday_peak."),
    # Fiscal calendar.
    _field(
        "fiscal_year",
        "integer",
        "Fiscal year starting in `fiscal_year_start_month`, named by the calendar year in "
        "which it ends (start month 10: Oct 2024 - Sep 2025 is fiscal 2025).",
    ),
    _field("fiscal_quarter", "integer", "Fiscal quarter, 1-4."),
    _field("fiscal_month", "integer", "Month of the fiscal year, 1-12."),
    # NRF 4-5-4 retail calendar.
    _field(
        "retail_year",
        "integer",
        "NRF retail year: ends on the Saturday nearest 31 January of the next calendar year "
        "(retail 2023 = 29 Jan 2023 - 3 Feb 2024).",
    ),
    _field("retail_quarter", "integer", "NRF quarter, 1-4 (13 weeks; Q4 has 14 in 53-week years)."),
    _field("retail_period", "integer", "NRF month, 1-12 (1 is roughly February), weeks 4-5-4."),
    _field("retail_week", "integer", "Week of the retail year, 1-52 (53 in 53-week years)."),
    _field("retail_week_of_period", "integer", "Week within the retail period, 1-5."),
    _field("is_53_week_year", "boolean", "The retail year has 53 weeks (e.g. 2012, 2017, 2023)."),
)

FIELD_NAMES = tuple(field.name for field in CALENDAR_FIELDS)


@dataclass(frozen=True)
class Region:
    """A holidays-package country (canonical ISO code) and optional subdivision."""

    country: str
    subdivision: str | None


def calendar_dimension(
    start: date,
    end: date,
    *,
    country: str = "US",
    subdivision: str | None = None,
    fiscal_year_start_month: int = 1,
    weekend: tuple[int, ...] = (5, 6),
) -> pl.DataFrame:
    """One row per day from ``start`` to ``end`` inclusive, with the columns of ``CALENDAR_FIELDS``.

    ``country``/``subdivision`` are any the holidays package supports (ISO codes, e.g. "GB" and
    "SCT"); ``weekend`` lists weekday numbers with Monday = 0. Raises ``CalendarError`` naming the
    bad parameter.
    """
    check_range(start, end)
    weekend_days = check_weekend(weekend)
    if (
        isinstance(fiscal_year_start_month, bool)
        or not isinstance(fiscal_year_start_month, int)
        or not 1 <= fiscal_year_start_month <= 12
    ):
        raise CalendarError(
            "fiscal_year_start_month",
            f"must be a month number 1-12, got {fiscal_year_start_month!r}",
        )
    region = resolve_region(country, subdivision)
    return build_dimension(start, end, region, fiscal_year_start_month, weekend_days)


def check_range(start: date, end: date) -> None:
    for name, value in (("start", start), ("end", end)):
        # datetime is a date subclass; silently dropping its time would hide a caller's mistake.
        if not isinstance(value, date) or isinstance(value, datetime):
            raise CalendarError(name, f"must be a date, got {type(value).__name__}")
        if not FIRST_SUPPORTED_YEAR <= value.year <= LAST_SUPPORTED_YEAR:
            raise CalendarError(
                name,
                f"{value} is outside the supported years "
                f"{FIRST_SUPPORTED_YEAR}-{LAST_SUPPORTED_YEAR}",
            )
    if end < start:
        raise CalendarError("end", f"end {end} is before start {start}")
    try:
        limit = start.replace(year=start.year + MAX_YEARS)
    except ValueError:  # 29 February: the limit is 1 March of a non-leap year.
        limit = date(start.year + MAX_YEARS, 3, 1)
    if end >= limit:
        raise CalendarError(
            "end",
            f"the range {start}..{end} is longer than {MAX_YEARS} years; "
            f"end must be before {limit}",
        )


def check_weekend(weekend: Sequence[int]) -> tuple[int, ...]:
    if not isinstance(weekend, tuple | list):
        raise CalendarError("weekend", f"must be a tuple of weekday numbers, got {weekend!r}")
    bad = [day for day in weekend if isinstance(day, bool) or day not in range(7)]
    if bad:
        raise CalendarError("weekend", f"weekday numbers are 0 (Monday) to 6 (Sunday), got {bad}")
    if len(set(weekend)) != len(weekend):
        raise CalendarError("weekend", f"repeats a weekday: {tuple(weekend)}")
    if len(weekend) == 7:
        raise CalendarError(
            "weekend", "cannot cover the whole week: no day would be a business day"
        )
    return tuple(sorted(weekend))


def resolve_region(country: str, subdivision: str | None) -> Region:
    """Validate against the holidays package and return its canonical codes (``UK`` -> ``GB``)."""
    if not isinstance(country, str):
        raise CalendarError("country", f"must be an ISO country code, got {country!r}")
    supported = holidays.list_supported_countries(include_aliases=True)
    code = country.strip().upper()
    if code not in supported:
        raise CalendarError(
            "country",
            f"unknown country {country!r}; use an ISO 3166 code the holidays package supports, "
            "e.g. 'US', 'GB', 'DE'",
        )
    subdivision_code: str | None = None
    if subdivision is not None:
        valid = supported[code]
        by_upper = {known.upper(): known for known in valid}
        if not isinstance(subdivision, str) or subdivision.strip().upper() not in by_upper:
            listed = ", ".join(valid[:30]) + (", ..." if len(valid) > 30 else "")
            raise CalendarError(
                "subdivision",
                f"unknown subdivision {subdivision!r} for {code}; expected one of: "
                f"{listed or '(none: this country has no subdivisions)'}",
            )
        subdivision_code = by_upper[subdivision.strip().upper()]
    try:
        entity = holidays.country_holidays(code, subdiv=subdivision_code)
    except NotImplementedError as error:  # Defensive: the lists above come from the same package.
        field = "country" if subdivision_code is None else "subdivision"
        raise CalendarError(field, str(error)) from error
    return Region(str(entity.country), subdivision_code)


def holiday_table(region: Region, first_year: int, last_year: int) -> pl.DataFrame:
    """Holidays of ``first_year..last_year``: date, holiday_name, is_observed_holiday.

    A day is 'observed' where the package's names differ with and without observed rules; this
    works in every language, unlike matching the English "(observed)" suffix.
    """
    years = range(first_year, last_year + 1)
    with_observed = holidays.country_holidays(
        region.country, subdiv=region.subdivision, years=years, observed=True
    )
    actual = holidays.country_holidays(
        region.country, subdiv=region.subdivision, years=years, observed=False
    )
    observed_frame = pl.DataFrame(
        {
            "date": pl.Series(list(with_observed.keys()), dtype=pl.Date),
            "holiday_name": pl.Series(list(with_observed.values()), dtype=pl.String),
        }
    )
    actual_frame = pl.DataFrame(
        {
            "date": pl.Series(list(actual.keys()), dtype=pl.Date),
            "actual_name": pl.Series(list(actual.values()), dtype=pl.String),
        }
    )
    return (
        observed_frame.join(actual_frame, on="date", how="left")
        .select(
            "date",
            "holiday_name",
            is_observed_holiday=pl.col("holiday_name").ne_missing(pl.col("actual_name")),
        )
        .sort("date")
    )


def _month_end(day: date) -> date:
    next_month_first = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return next_month_first - timedelta(days=1)


def build_dimension(
    start: date,
    end: date,
    region: Region,
    fiscal_year_start_month: int,
    weekend_days: tuple[int, ...],
) -> pl.DataFrame:
    """The dimension for validated inputs (``calendar_dimension`` without the checks)."""
    frame_start = start.replace(day=1) - timedelta(days=7)
    frame_end = _month_end(end) + timedelta(days=7)
    holiday_days = holiday_table(region, frame_start.year - 1, frame_end.year + 1)
    events = retail.yearly_events(frame_start.year, frame_end.year, region.country)
    retail_years = retail.retail_years(frame_start.year - 1, frame_end.year)
    prime_days = retail.prime_days(frame_start.year, frame_end.year)

    day = pl.col("date")
    days = pl.LazyFrame({"date": pl.date_range(frame_start, frame_end, "1d", eager=True)})
    frame = (
        days.with_columns(
            year=day.dt.year(),
            quarter=day.dt.quarter(),
            month=day.dt.month(),
            month_name=day.dt.strftime("%B"),
            day_of_month=day.dt.day(),
            day_of_year=day.dt.ordinal_day(),
            day_of_week=day.dt.weekday() - 1,
            day_name=day.dt.strftime("%A"),
            days_in_month=day.dt.days_in_month(),
            is_leap_year=day.dt.is_leap_year(),
            iso_year=day.dt.iso_year(),
            iso_week=day.dt.week(),
            iso_weekday=day.dt.weekday(),
            iso_week_start=day - pl.duration(days=day.dt.weekday() - 1),
            month_key=day.dt.month_start(),
        )
        .with_columns(_boundaries())
        .join(holiday_days.lazy(), on="date", how="left", maintain_order="left")
        .with_columns(
            is_weekend=pl.col("day_of_week").is_in(weekend_days),
            is_holiday=pl.col("holiday_name").is_not_null(),
            is_observed_holiday=pl.col("is_observed_holiday").fill_null(False),
        )
        .with_columns(is_business_day=~pl.col("is_weekend") & ~pl.col("is_holiday"))
        .with_columns(_business_days())
        .with_columns(_paydays())
        .pipe(_holiday_distances, holiday_days)
        .join(events.lazy(), on="year", how="left", maintain_order="left")
        .with_columns(_events(prime_days))
        .with_columns(_event_summaries())
        .sort("date")
        .join_asof(retail_years.lazy(), left_on="date", right_on="retail_year_start")
        .with_columns(_retail_calendar())
        .with_columns(_fiscal_calendar(fiscal_year_start_month))
        .filter(day.is_between(start, end))
        .select(pl.col(field.name).cast(POLARS_TYPES[field.type]) for field in CALENDAR_FIELDS)
    )
    return frame.collect()


def _boundaries() -> list[pl.Expr]:
    month, day_of_month = pl.col("month"), pl.col("day_of_month")
    is_month_start = day_of_month == 1
    is_month_end = day_of_month == pl.col("days_in_month")
    return [
        (pl.col("day_of_month") - 1).floordiv(7).add(1).alias("weekday_occurrence_in_month"),
        is_month_start.alias("is_month_start"),
        is_month_end.alias("is_month_end"),
        (is_month_start & month.is_in((1, 4, 7, 10))).alias("is_quarter_start"),
        (is_month_end & month.is_in((3, 6, 9, 12))).alias("is_quarter_end"),
        (is_month_start & (month == 1)).alias("is_year_start"),
        (is_month_end & (month == 12)).alias("is_year_end"),
    ]


def _business_days() -> list[pl.Expr]:
    business = pl.col("is_business_day")
    weekday_holiday = pl.col("is_holiday") & ~pl.col("is_weekend")
    weekend = pl.col("is_weekend")
    in_month = business.cast(pl.Int32).sum().over("month_key")
    so_far = business.cast(pl.Int32).cum_sum().over("month_key")
    bridges_holiday = (weekday_holiday.shift(1) & weekend.shift(-1)) | (
        weekend.shift(1) & weekday_holiday.shift(-1)
    )
    return [
        (business & bridges_holiday).fill_null(False).alias("is_bridge_day"),
        in_month.alias("business_days_in_month"),
        so_far.alias("business_day_of_month"),
        (in_month - so_far).alias("business_days_remaining_in_month"),
        (business & (so_far == in_month)).alias("is_last_business_day_of_month"),
    ]


def _paydays() -> list[pl.Expr]:
    # A business day is the pay date for a due date when the next business day comes after the
    # due date: then nothing later on or before the due date could take the payment.
    day, business = pl.col("date"), pl.col("is_business_day")
    next_business_day = pl.when(business).then(day).shift(-1).backward_fill()
    next_first = (
        pl.when(pl.col("day_of_month") == 1)
        .then(day)
        .otherwise(day.dt.month_end() + pl.duration(days=1))
    )
    next_fifteenth = (
        pl.when(pl.col("day_of_month") <= 15)
        .then(pl.date(pl.col("year"), pl.col("month"), 15))
        .otherwise(day.dt.month_end() + pl.duration(days=15))
    )
    return [
        (business & (next_business_day > next_first)).fill_null(False).alias("is_payday_1st"),
        (business & (next_business_day > next_fifteenth)).fill_null(False).alias("is_payday_15th"),
    ]


def _holiday_distances(frame: pl.LazyFrame, holiday_days: pl.DataFrame) -> pl.LazyFrame:
    holiday_dates = holiday_days.lazy().select(pl.col("date").alias("holiday_date"))
    day = pl.col("date")
    return (
        frame.sort("date")
        .join_asof(
            holiday_dates.rename({"holiday_date": "next_holiday"}),
            left_on="date",
            right_on="next_holiday",
            strategy="forward",
        )
        .join_asof(
            holiday_dates.rename({"holiday_date": "previous_holiday"}),
            left_on="date",
            right_on="previous_holiday",
            strategy="backward",
        )
        .with_columns(
            days_to_next_holiday=(pl.col("next_holiday") - day).dt.total_days(),
            days_since_previous_holiday=(day - pl.col("previous_holiday")).dt.total_days(),
        )
    )


def _events(prime_days: pl.Series) -> list[pl.Expr]:
    day, month, day_of_month = pl.col("date"), pl.col("month"), pl.col("day_of_month")
    black_friday = pl.col("black_friday")
    # Null, not False, where the date is unknown (after the table, or no Super Bowl rule).
    prime_day = (
        pl.when(pl.col("year") < retail.PRIME_DAY_FIRST_YEAR)
        .then(False)
        .when(pl.col("prime_day_known"))
        .then(day.is_in(prime_days.implode()))
    )
    super_bowl = pl.when(pl.col("super_bowl_known")).then(
        (day == pl.col("super_bowl")).fill_null(False)
    )
    return [
        (day == black_friday).alias("is_black_friday"),
        (day == pl.col("cyber_monday")).alias("is_cyber_monday"),
        day.is_between(pl.col("thanksgiving"), pl.col("cyber_monday")).alias("is_cyber_five"),
        super_bowl.alias("is_super_bowl_sunday"),
        prime_day.alias("is_prime_day"),
        ((month == 11) & (day_of_month == 11)).alias("is_singles_day"),
        ((month == 2) & (day_of_month == 14)).alias("is_valentines_day"),
        (day == pl.col("mothers_day")).alias("is_mothers_day"),
        (day == pl.col("fathers_day")).alias("is_fathers_day"),
        (day == pl.col("easter")).alias("is_easter_sunday"),
        ((month == 10) & (day_of_month == 31)).alias("is_halloween"),
        day.is_between(pl.col("back_to_school_start"), pl.col("labor_day")).alias(
            "is_back_to_school_season"
        ),
        pl.when(day <= black_friday)
        .then(black_friday - day)
        .otherwise(pl.col("next_black_friday") - day)
        .dt.total_days()
        .alias("days_to_black_friday"),
    ]


# Priority when events coincide (e.g. Super Bowl on Valentine's Day 2027): spend-heaviest first.
RETAIL_EVENT_PRIORITY = (
    ("black_friday", "is_black_friday"),
    ("cyber_monday", "is_cyber_monday"),
    ("cyber_five", "is_cyber_five"),
    ("prime_day", "is_prime_day"),
    ("super_bowl_sunday", "is_super_bowl_sunday"),
    ("singles_day", "is_singles_day"),
    ("valentines_day", "is_valentines_day"),
    ("mothers_day", "is_mothers_day"),
    ("fathers_day", "is_fathers_day"),
    ("easter_sunday", "is_easter_sunday"),
    ("halloween", "is_halloween"),
)


def _event_summaries() -> list[pl.Expr]:
    day, month = pl.col("date"), pl.col("month")
    event: pl.Expr = pl.lit(None, dtype=pl.String)
    for name, flag in reversed(RETAIL_EVENT_PRIORITY):
        # A null flag (unknown year) counts as no event; when() treats null as false.
        event = pl.when(pl.col(flag)).then(pl.lit(name)).otherwise(event)
    season = (
        pl.when(month <= 2)
        .then(pl.lit("post_holiday_lull"))
        .when(month <= 5)
        .then(pl.lit("spring"))
        .when(day < pl.col("back_to_school_start"))
        .then(pl.lit("summer"))
        .when(day <= pl.col("labor_day"))
        .then(pl.lit("back_to_school"))
        .when(month <= 10)
        .then(pl.lit("fall"))
        .otherwise(pl.lit("q4_holiday_peak"))
    )
    return [
        event.alias("retail_event"),
        season.alias("marketing_season"),
        (month >= 11).alias("is_q4_holiday_peak"),
    ]


def _retail_calendar() -> list[pl.Expr]:
    week = (pl.col("date") - pl.col("retail_year_start")).dt.total_days().floordiv(7).add(1)
    period = pl.lit(1, dtype=pl.Int32)
    for period_end_week in retail.RETAIL_PERIOD_END_WEEKS:
        period = period + (week > period_end_week).cast(pl.Int32)
    period_start_week = period.replace_strict(
        list(range(1, 13)), list(retail.RETAIL_PERIOD_START_WEEKS)
    )
    return [
        week.alias("retail_week"),
        period.alias("retail_period"),
        (period - 1).floordiv(3).add(1).alias("retail_quarter"),
        (week - period_start_week + 1).alias("retail_week_of_period"),
    ]


def _fiscal_calendar(start_month: int) -> list[pl.Expr]:
    month = pl.col("month").cast(pl.Int32)
    fiscal_month = (month - start_month) % 12 + 1
    year = pl.col("year").cast(pl.Int32)
    # Named by the calendar year in which the fiscal year ends.
    fiscal_year = year if start_month == 1 else year + (month >= start_month).cast(pl.Int32)
    return [
        fiscal_year.alias("fiscal_year"),
        fiscal_month.alias("fiscal_month"),
        (fiscal_month - 1).floordiv(3).add(1).alias("fiscal_quarter"),
    ]

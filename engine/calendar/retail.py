"""Retail and marketing events the holidays package lacks, and the NRF 4-5-4 retail calendar.

Each event is a rule evaluated once per calendar year (a few dozen years at most), then joined
onto the daily frame; nothing here loops over days. The rules, their exceptions and the sources
of the Prime Day table are in docs/calendar.md, which is what a marketer should check them against.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import polars as pl

MONDAY, THURSDAY, SATURDAY, SUNDAY = 0, 3, 5, 6

# Amazon Prime Day (the summer event; not the October "Prime Big Deal Days"), as the calendar days
# the sale covered for at least half the day in Pacific time, from Amazon's announcements as
# reported at the time (docs/calendar.md lists a source per year). 2017 ran 30 hours from 6 p.m.
# PT on 10 July, so only 11 July counts; 2018 ran 36 hours from noon PT on 16 July.
PRIME_DAY_DATES: dict[int, tuple[date, ...]] = {
    2015: (date(2015, 7, 15),),
    2016: (date(2016, 7, 12),),
    2017: (date(2017, 7, 11),),
    2018: (date(2018, 7, 16), date(2018, 7, 17)),
    2019: (date(2019, 7, 15), date(2019, 7, 16)),
    2020: (date(2020, 10, 13), date(2020, 10, 14)),
    2021: (date(2021, 6, 21), date(2021, 6, 22)),
    2022: (date(2022, 7, 12), date(2022, 7, 13)),
    2023: (date(2023, 7, 11), date(2023, 7, 12)),
    2024: (date(2024, 7, 16), date(2024, 7, 17)),
    2025: tuple(date(2025, 7, day) for day in range(8, 12)),
    2026: tuple(date(2026, 6, day) for day in range(23, 27)),
}
PRIME_DAY_FIRST_YEAR = min(PRIME_DAY_DATES)
PRIME_DAY_LAST_KNOWN_YEAR = max(PRIME_DAY_DATES)

# Super Bowl: no rule is implemented before 1990 (the date moved around); the first was in 1967.
SUPER_BOWL_FIRST_YEAR = 1967
SUPER_BOWL_FIRST_RULE_YEAR = 1990
# Played one week late after the 11 September 2001 attacks postponed a week of the NFL season.
SUPER_BOWL_EXCEPTIONS: dict[int, date] = {2002: date(2002, 2, 3)}

# Back-to-school shopping: from mid-July to US Labor Day, the window NRF's back-to-school surveys
# describe; US-centric by design and documented as such.
BACK_TO_SCHOOL_START = (7, 15)

# Cumulative weeks at the end of each 4-5-4 period (period 12 gets the 53rd week, per NRF).
RETAIL_PERIOD_END_WEEKS = (4, 9, 13, 17, 22, 26, 30, 35, 39, 43, 48)
RETAIL_PERIOD_START_WEEKS = (1, 5, 10, 14, 18, 23, 27, 31, 36, 40, 44, 49)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th (1-based) ``weekday`` (Monday = 0) of a month; ``n = -1`` is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    next_month_first = date(year + month // 12, month % 12 + 1, 1)
    last = next_month_first - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian computus (Meeus/Jones/Butcher)."""
    golden = year % 19
    century, year_of_century = divmod(year, 100)
    leap_centuries, century_rest = divmod(century, 4)
    moon_correction = (century + 8) // 25
    solar_correction = (century - moon_correction + 1) // 3
    epact = (19 * golden + century - leap_centuries - solar_correction + 15) % 30
    leap_years, year_rest = divmod(year_of_century, 4)
    weekday_offset = (32 + 2 * century_rest + 2 * leap_years - epact - year_rest) % 7
    late_march = (golden + 11 * epact + 22 * weekday_offset) // 451
    month, day = divmod(epact + weekday_offset - 7 * late_march + 114, 31)
    return date(year, month, day + 1)


def us_thanksgiving(year: int) -> date:
    """Fourth Thursday of November; Black Friday and Cyber Monday hang off it in every country."""
    return nth_weekday(year, 11, THURSDAY, 4)


def super_bowl_sunday(year: int) -> date | None:
    """Super Bowl Sunday; ``None`` where no rule is implemented (1967-1989).

    Since the 17-game season (2022) it is the second Sunday of February; 2004-2021 the first
    Sunday of February; 1990-2003 the last Sunday of January, except 2002 (3 February).
    """
    if year in SUPER_BOWL_EXCEPTIONS:
        return SUPER_BOWL_EXCEPTIONS[year]
    if year >= 2022:
        return nth_weekday(year, 2, SUNDAY, 2)
    if year >= 2004:
        return nth_weekday(year, 2, SUNDAY, 1)
    if year >= SUPER_BOWL_FIRST_RULE_YEAR:
        return nth_weekday(year, 1, SUNDAY, -1)
    return None


def _mothering_sunday(year: int) -> date:
    return easter_sunday(year) - timedelta(weeks=3)


def _french_mothers_day(year: int) -> date:
    # Last Sunday of May, moved to the first Sunday of June when it falls on Pentecost.
    last_may_sunday = nth_weekday(year, 5, SUNDAY, -1)
    if last_may_sunday == easter_sunday(year) + timedelta(days=49):
        return nth_weekday(year, 6, SUNDAY, 1)
    return last_may_sunday


MOTHERS_DAY_RULES: dict[str, Callable[[int], date]] = {
    "GB": _mothering_sunday,
    "IE": _mothering_sunday,
    "FR": _french_mothers_day,
    "MX": lambda year: date(year, 5, 10),
}
FATHERS_DAY_RULES: dict[str, Callable[[int], date]] = {
    "AU": lambda year: nth_weekday(year, 9, SUNDAY, 1),
    "NZ": lambda year: nth_weekday(year, 9, SUNDAY, 1),
    # Vatertag is Ascension Day, 39 days after Easter.
    "DE": lambda year: easter_sunday(year) + timedelta(days=39),
    "IT": lambda year: date(year, 3, 19),
    "ES": lambda year: date(year, 3, 19),
    "PT": lambda year: date(year, 3, 19),
}


def mothers_day(year: int, country: str) -> date:
    """Mother's Day in ``country``; the US rule (second Sunday of May) where none is listed."""
    rule = MOTHERS_DAY_RULES.get(country)
    return rule(year) if rule else nth_weekday(year, 5, SUNDAY, 2)


def fathers_day(year: int, country: str) -> date:
    """Father's Day in ``country``; the US rule (third Sunday of June) where none is listed."""
    rule = FATHERS_DAY_RULES.get(country)
    return rule(year) if rule else nth_weekday(year, 6, SUNDAY, 3)


def nrf_year_end(retail_year: int) -> date:
    """Last day of NRF retail year ``retail_year``: the Saturday nearest 31 January of the next
    calendar year (a year is named by the calendar year in which it mostly falls)."""
    january_31 = date(retail_year + 1, 1, 31)
    ahead = (SATURDAY - january_31.weekday()) % 7
    return january_31 + timedelta(days=ahead if ahead <= 3 else ahead - 7)


def yearly_events(first_year: int, last_year: int, country: str) -> pl.DataFrame:
    """One row per calendar year with the dates of its events, to be joined on ``year``."""
    rows = []
    for year in range(first_year, last_year + 1):
        thanksgiving = us_thanksgiving(year)
        rows.append(
            {
                "year": year,
                "thanksgiving": thanksgiving,
                "black_friday": thanksgiving + timedelta(days=1),
                "cyber_monday": thanksgiving + timedelta(days=4),
                "next_black_friday": us_thanksgiving(year + 1) + timedelta(days=1),
                "super_bowl": super_bowl_sunday(year),
                "super_bowl_known": year < SUPER_BOWL_FIRST_YEAR
                or year >= SUPER_BOWL_FIRST_RULE_YEAR,
                "easter": easter_sunday(year),
                "mothers_day": mothers_day(year, country),
                "fathers_day": fathers_day(year, country),
                "back_to_school_start": date(year, *BACK_TO_SCHOOL_START),
                "labor_day": nth_weekday(year, 9, MONDAY, 1),
                "prime_day_known": year <= PRIME_DAY_LAST_KNOWN_YEAR,
            }
        )
    return pl.DataFrame(rows).with_columns(pl.col("year").cast(pl.Int32))


def prime_days(first_year: int, last_year: int) -> pl.Series:
    """Every known Prime Day date in ``first_year..last_year``."""
    dates = [
        day
        for year, days in PRIME_DAY_DATES.items()
        if first_year <= year <= last_year
        for day in days
    ]
    return pl.Series("prime_day", dates, dtype=pl.Date)


def retail_years(first_year: int, last_year: int) -> pl.DataFrame:
    """NRF 4-5-4 retail years ``first_year..last_year``: first day, last day, 53-week flag."""
    years = range(first_year, last_year + 1)
    starts = [nrf_year_end(year - 1) + timedelta(days=1) for year in years]
    ends = [nrf_year_end(year) for year in years]
    return pl.DataFrame(
        {
            "retail_year": pl.Series(list(years), dtype=pl.Int32),
            "retail_year_start": pl.Series(starts, dtype=pl.Date),
            "is_53_week_year": [
                (end - begin).days + 1 == 371 for begin, end in zip(starts, ends, strict=True)
            ],
        }
    )

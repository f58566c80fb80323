"""Calendar controls for the marketing-mix model: a few numeric columns aligned to its periods.

The set is deliberately small. The MMM already has a trend and yearly Fourier seasonality, so
these only carry what a smooth curve cannot: one-off demand shocks on known days.

- ``holiday_days``: public holidays (incl. days off in lieu) in the period; they move both demand
  and media prices.
- ``weekend_days``: weekend days in the period; the day-of-week effect of daily data (constant,
  hence dropped, for whole weeks).
- ``cyber_five_days``: Thanksgiving to Cyber Monday, the largest retail spike of the year, five
  days that a yearly Fourier series smooths away.
- ``prime_day_days``: Amazon Prime Day, which moves online demand and competitors' prices; years
  after the maintained table count 0.
- ``q4_peak_share``: share of the period in the November-December holiday season, a step the
  smooth seasonality under-fits.

Business days are left out on purpose: per week they are 5 minus the weekday holidays, nearly
collinear with ``holiday_days``, and collinear controls only blur each other's coefficients.
Columns constant over the given periods cannot be identified next to the intercept, so they are
dropped (their names with them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from engine.calendar.dimension import build_dimension, check_range, resolve_region
from engine.calendar.errors import CalendarError

PERIOD_DAYS = {"daily": 1, "weekly": 7}
DEFAULT_WEEKEND = (5, 6)

CONTROLS: tuple[tuple[str, pl.Expr], ...] = (
    ("holiday_days", pl.col("is_holiday").cast(pl.Float64).sum()),
    ("weekend_days", pl.col("is_weekend").cast(pl.Float64).sum()),
    ("cyber_five_days", pl.col("is_cyber_five").cast(pl.Float64).sum()),
    ("prime_day_days", pl.col("is_prime_day").fill_null(False).cast(pl.Float64).sum()),
    ("q4_peak_share", pl.col("is_q4_holiday_peak").cast(pl.Float64).mean()),
)


def calendar_controls(
    dates: Sequence[date],
    frequency: Literal["daily", "weekly"],
    *,
    country: str = "US",
    subdivision: str | None = None,
) -> tuple[tuple[str, ...], NDArray[np.float64]]:
    """Control names and a (periods, controls) matrix; ``dates[i]`` is the first day of period
    ``i``, which covers one day (daily) or seven (weekly). Constant columns are dropped."""
    if frequency not in PERIOD_DAYS:
        raise CalendarError("frequency", f"must be 'daily' or 'weekly', got {frequency!r}")
    if len(dates) == 0:
        raise CalendarError("dates", "at least one period start is required")
    for index, value in enumerate(dates):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise CalendarError("dates", f"period {index} is not a date: {value!r}")
    span = PERIOD_DAYS[frequency]
    first, last = min(dates), max(dates) + timedelta(days=span - 1)
    check_range(first, last)
    region = resolve_region(country, subdivision)
    calendar = build_dimension(first, last, region, 1, DEFAULT_WEEKEND)

    periods = pl.DataFrame(
        {"period": pl.Series(range(len(dates)), dtype=pl.Int64), "start": list(dates)}
    )
    days = periods.join(pl.DataFrame({"offset": range(span)}), how="cross").with_columns(
        date=pl.col("start") + pl.duration(days=pl.col("offset"))
    )
    per_period = (
        days.join(calendar, on="date", how="left")
        .group_by("period")
        .agg(expression.alias(name) for name, expression in CONTROLS)
        .sort("period")
    )
    names = tuple(name for name, _ in CONTROLS)
    values = per_period.select(names).to_numpy().astype(np.float64)
    varies = np.ptp(values, axis=0) > 0
    kept = tuple(name for name, keep in zip(names, varies, strict=True) if keep)
    return kept, np.ascontiguousarray(values[:, varies])

"""Temporal EDA: which calendar effects move a KPI, by how much, and when they come round again.

The KPI is modelled on the log scale (effects multiply, and a marketer reads them as % lifts);
a KPI with zeros is modelled as is and its effects are read relative to the mean KPI. Candidate
features come from the calendar dimension and fall into three families, each measured against
the baseline that makes its effect meaningful:

- **events and holidays** (Black Friday, Prime Day, Christmas Day, paydays, ...): short shocks a
  smooth curve cannot follow. One joint regression with the controls (piecewise-linear trend,
  yearly cycle as Fourier terms plus marketing-season steps, day of week), so overlapping
  events (Thanksgiving is both a holiday and part of the Cyber Five) are separated: each effect
  is the lift over a normal day with the other events held fixed.
- **periods** (marketing seasons, months): broad stretches that *are* the yearly cycle, so they
  are measured one at a time against the rest of the year, controlling for trend and weekday mix
  but not for the yearly cycle (which would absorb them).
- **weekdays** (daily data only): one at a time against the other days of the week, controlling
  for trend and the yearly cycle.

Errors are autocorrelated in any real KPI. Estimates are plain OLS (so an effect keeps its
meaning even where the model omits structure), with standard errors from the sandwich under
AR(1) errors fitted to the residuals, the innovation variance pooled over all periods.
Newey-West standard errors were rejected on purpose: a one-day event seen three times leaves
three residuals to estimate its variance from, which makes HAC badly anti-conservative for
exactly the features this endpoint is about. All p-values across the families are adjusted
together with Benjamini-Hochberg. Intervals are per-feature t-intervals at ``confidence`` (not
multiplicity-adjusted).

Everything is deterministic (least squares, no sampling), so the same input gives the same
output, bit for bit, on the same machine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
import polars as pl
import scipy.signal
import scipy.stats
from numpy.typing import NDArray

from engine.calendar.dimension import (
    MARKETING_SEASONS,
    build_dimension,
    check_range,
    resolve_region,
)
from engine.calendar.eda_results import (
    WEEKDAY_NAMES,
    DateRange,
    Decomposition,
    Family,
    FeatureEffect,
    Frequency,
    Opportunity,
    Scale,
    TemporalEDA,
)
from engine.calendar.errors import CalendarError

Aggregation = Literal["sum", "mean"]

PERIOD_DAYS: dict[str, int] = {"daily": 1, "weekly": 7}
# Daily data needs several of each weekday in every part of the trend to tell them apart;
# weekly data has no weekday signal and sees each calendar event once a year.
MIN_DAILY_PERIODS = 56
MIN_WEEKLY_PERIODS = 52
# Yearly harmonics: 6 resolves about two months on daily data; weekly data has a quarter of the
# observations per harmonic pair, so fewer.
YEARLY_HARMONICS = {"daily": 6, "weekly": 4}
DAYS_PER_YEAR = 365.25
# A yearly cycle is only identified once the series covers a year (52 whole weeks, 364 days).
MIN_DAYS_FOR_YEARLY_CYCLE = 364
# A trend knot each full year, when at least half a year of data follows it: flexible enough for
# a change of growth rate, too stiff to mimic any within-year season.
TREND_KNOT_SPACING_YEARS = 1.0
MIN_YEARS_AFTER_KNOT = 0.5
# Seen once, a calendar effect cannot be told apart from a one-off shock on that day.
MIN_OCCURRENCES = 2
# A feature whose residual sum of squares, after projecting it on the other columns, is below
# this share of its own variation is (numerically) a combination of them.
COLLINEAR_TOLERANCE = 1e-6
MAX_AUTOCORRELATION = 0.99
UPCOMING_DAYS = 365
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
SEASON_LABELS = {
    "post_holiday_lull": "Post-holiday lull (Jan-Feb)",
    "spring": "Spring (Mar-May)",
    "summer": "Summer (1 Jun - 14 Jul)",
    "back_to_school": "Back-to-school (15 Jul - Labor Day)",
    "fall": "Fall (to 31 Oct)",
    "q4_holiday_peak": "Q4 holiday peak (Nov-Dec)",
}
COMPARED_WITH: dict[Family, str] = {
    "event": "a normal period: trend, yearly and weekday cycles and the other events held fixed",
    "holiday": "a normal period: trend, yearly and weekday cycles and the other events held fixed",
    "period": "the rest of the year, trend and weekday mix held fixed",
    "weekday": "the other days of the week, trend and yearly cycle held fixed",
}


@dataclass(frozen=True)
class _Candidate:
    key: str
    label: str
    family: Family
    expression: pl.Expr
    aggregation: Aggregation


@dataclass(frozen=True)
class _Fit:
    coefficients: NDArray[np.float64]
    standard_errors: NDArray[np.float64]
    residual_df: int
    autocorrelation: float


@dataclass(frozen=True)
class _Estimate:
    """One feature's coefficient on the model scale."""

    coefficient: float
    standard_error: float
    residual_df: int


@dataclass(frozen=True)
class _Controls:
    trend: NDArray[np.float64]
    yearly: NDArray[np.float64]
    weekday: NDArray[np.float64]


def temporal_eda(
    dates: Sequence[date],
    kpi: Sequence[float] | NDArray[np.float64],
    *,
    frequency: Frequency | None = None,
    country: str = "US",
    subdivision: str | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    max_features: int | None = None,
) -> TemporalEDA:
    """Which calendar features move ``kpi``, its decomposition, and the ranked opportunities.

    ``dates[i]`` is the day (daily) or the first day of the week (weekly) of ``kpi[i]``; they
    must be sorted and gap-free; ``frequency`` is inferred from the step when None. ``alpha`` is
    the false-discovery rate for ``significant``; ``confidence`` the level of the intervals
    (0.95 by default, matching ``alpha`` 0.05). ``max_features`` caps the opportunities list
    (every feature is still tested and adjusted, so the cap changes no p or q value). Raises
    ``CalendarError`` whose ``field`` names the bad argument.
    """
    _check_levels(alpha, confidence, max_features)
    if frequency is not None and frequency not in PERIOD_DAYS:
        raise CalendarError("frequency", f"must be 'daily', 'weekly' or None, got {frequency!r}")
    days = _check_dates(dates)
    values = _check_kpi(kpi, days)
    frequency = _check_steps(days, frequency)
    _check_length(len(days), frequency)
    step = PERIOD_DAYS[frequency]
    first: date = days[0].item()
    last: date = days[-1].item() + timedelta(days=step - 1)
    try:
        check_range(first, last + timedelta(days=UPCOMING_DAYS))
    except CalendarError as error:
        raise CalendarError("dates", str(error)) from error
    region = resolve_region(country, subdivision)
    calendar = build_dimension(first, last + timedelta(days=UPCOMING_DAYS), region, 1, (5, 6))
    series_days = calendar.filter(pl.col("date") <= last)
    upcoming_days = calendar.filter(pl.col("date") > last)

    scale: Scale = "multiplicative" if bool(np.all(values > 0)) else "additive"
    response = np.log(values) if scale == "multiplicative" else values
    notes: list[str] = []
    if scale == "additive":
        notes.append(
            "The KPI has zeros, so it is modelled on its own scale and effects are % of the "
            "mean KPI rather than multiplicative lifts."
        )
    span_days = (last - first).days + 1
    harmonics = YEARLY_HARMONICS[frequency] if span_days >= MIN_DAYS_FOR_YEARLY_CYCLE else 0
    if harmonics == 0:
        notes.append(
            "The series covers less than a year: no yearly cycle is fitted, so period effects "
            "(seasons, months) are confounded with whatever else changed over the series."
        )
    candidates = _candidates(series_days, frequency)
    features = _aggregate(series_days, candidates, first, step)
    unknown = series_days.select(c.expression.is_null().any().alias(c.key) for c in candidates).row(
        0
    )
    # Seasons begin and end abruptly (1 November), which a few harmonics smooth over; left out,
    # the miss would land on the events near the edges (Veterans Day, New Year's Day).
    season_steps = [features[f"season:{season}"] for season in MARKETING_SEASONS[1:] if harmonics]
    controls = _controls(days, frequency, harmonics, season_steps)

    joint_keys = [c.key for c in candidates if c.family in ("event", "holiday")]
    reasons = _screen(candidates, features, unknown, frequency)
    joint_design, joint_kept, collinear = _select_columns(
        np.hstack([controls.trend, controls.yearly, controls.weekday]),
        {key: features[key] for key in joint_keys if key not in reasons},
    )
    reasons.update(collinear)
    joint_fit = _fit(joint_design, response)
    control_count = joint_design.shape[1] - len(joint_kept)
    estimates: dict[str, _Estimate] = {
        key: _Estimate(
            float(joint_fit.coefficients[control_count + index]),
            float(joint_fit.standard_errors[control_count + index]),
            joint_fit.residual_df,
        )
        for index, key in enumerate(joint_kept)
    }
    for candidate in candidates:
        if candidate.family in ("event", "holiday") or candidate.key in reasons:
            continue
        family_controls = (
            np.hstack([controls.trend, controls.weekday])
            if candidate.family == "period"
            else np.hstack([controls.trend, controls.yearly])
        )
        design, kept, collinear = _select_columns(
            family_controls, {candidate.key: features[candidate.key]}
        )
        reasons.update(collinear)
        if kept:
            fit = _fit(design, response)
            estimates[candidate.key] = _Estimate(
                float(fit.coefficients[-1]), float(fit.standard_errors[-1]), fit.residual_df
            )

    mean_kpi = float(values.mean())
    effects = _effects(
        candidates, features, estimates, reasons, scale, mean_kpi, frequency, alpha, confidence
    )
    decomposition = _decompose(
        days,
        values,
        response,
        joint_design,
        joint_fit,
        controls,
        control_count,
        scale,
        harmonics,
    )
    opportunities = _opportunities(effects, candidates, upcoming_days, max_features)
    return TemporalEDA(
        frequency=frequency,
        country=region.country,
        subdivision=region.subdivision,
        start=first.isoformat(),
        end=last.isoformat(),
        periods=len(days),
        scale=scale,
        alpha=alpha,
        confidence=confidence,
        adjustment="benjamini-hochberg",
        autocorrelation=joint_fit.autocorrelation,
        effects=effects,
        decomposition=decomposition,
        opportunities=opportunities,
        notes=tuple(notes),
    )


def render_eda_charts(result: TemporalEDA) -> dict[str, bytes]:
    """PNG charts of ``result``: "decomposition.png" and "effects.png" (see ``eda_plots``)."""
    # Imported here so that the analysis itself never pays for importing matplotlib.
    from engine.calendar.eda_plots import render_eda_charts as render

    return render(result)


# --- Validation -------------------------------------------------------------------------------


def _check_levels(alpha: float, confidence: float, max_features: int | None) -> None:
    for name, level in (("alpha", alpha), ("confidence", confidence)):
        if isinstance(level, bool) or not isinstance(level, int | float):
            raise CalendarError(name, f"must be a number, got {level!r}")
        if not 0 < level < 1:
            raise CalendarError(name, f"must be strictly between 0 and 1, got {level}")
    if confidence < 0.5:
        raise CalendarError(
            "confidence", f"must be at least 0.5 (e.g. 0.9 or 0.95), got {confidence}"
        )
    if max_features is not None and (
        isinstance(max_features, bool) or not isinstance(max_features, int) or max_features < 1
    ):
        raise CalendarError(
            "max_features", f"must be a positive integer or None, got {max_features!r}"
        )


def _check_dates(dates: Sequence[date]) -> NDArray[np.datetime64]:
    if isinstance(dates, np.ndarray) and np.issubdtype(dates.dtype, np.datetime64):
        return dates.astype("datetime64[D]")
    if isinstance(dates, pl.Series):
        dates = dates.to_list()
    if isinstance(dates, str | bytes) or not isinstance(dates, Sequence):
        raise CalendarError("dates", f"must be a sequence of dates, got {type(dates).__name__}")
    # datetime is a date subclass; silently dropping its time would hide a caller's mistake.
    bad = next(
        (
            (index, value)
            for index, value in enumerate(dates)
            if not isinstance(value, date) or isinstance(value, datetime)
        ),
        None,
    )
    if bad is not None:
        raise CalendarError("dates", f"value {bad[0]} is not a date: {bad[1]!r}")
    return np.asarray(dates, dtype="datetime64[D]")


def _check_kpi(
    kpi: Sequence[float] | NDArray[np.float64], days: NDArray[np.datetime64]
) -> NDArray[np.float64]:
    try:
        values = np.asarray(kpi, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise CalendarError("kpi", f"must be numbers: {error}") from error
    if values.ndim != 1:
        raise CalendarError("kpi", f"must be one-dimensional, got shape {values.shape}")
    if len(values) != len(days):
        raise CalendarError("kpi", f"has {len(values)} values but dates has {len(days)}")
    non_finite = np.flatnonzero(~np.isfinite(values))
    if non_finite.size:
        index = int(non_finite[0])
        raise CalendarError(
            "kpi",
            f"value {values[index]} at index {index} ({days[index]}) is not finite "
            f"({non_finite.size} such value(s)); fill or drop those periods",
        )
    negative = np.flatnonzero(values < 0)
    if negative.size:
        index = int(negative[0])
        raise CalendarError(
            "kpi",
            f"value {values[index]} at index {index} ({days[index]}) is negative; calendar "
            "lifts are read as % of a non-negative KPI",
        )
    if values.size and np.ptp(values) == 0:
        raise CalendarError("kpi", f"is constant ({values[0]}): there is nothing to explain")
    return values


def _check_steps(days: NDArray[np.datetime64], frequency: Frequency | None) -> Frequency:
    steps = np.diff(days).astype(np.int64)
    backwards = np.flatnonzero(steps < 0)
    if backwards.size:
        index = int(backwards[0])
        raise CalendarError(
            "dates", f"are not sorted: {days[index + 1]} comes after {days[index]} (index {index})"
        )
    repeated = np.flatnonzero(steps == 0)
    if repeated.size:
        index = int(repeated[0]) + 1
        raise CalendarError("dates", f"date {days[index]} appears more than once (index {index})")
    if frequency is None:
        if steps.size == 0 or int(steps[0]) not in (1, 7):
            found = f"{int(steps[0])} days" if steps.size else "a single date"
            raise CalendarError(
                "dates",
                f"cannot infer the frequency: the first step is {found}; expected daily (1 day) "
                "or weekly (7 days) steps",
            )
        frequency = "daily" if int(steps[0]) == 1 else "weekly"
    step = PERIOD_DAYS[frequency]
    irregular = np.flatnonzero(steps != step)
    if irregular.size:
        index = int(irregular[0])
        raise CalendarError(
            "dates",
            f"gap or irregular step after {days[index]}: the next date is {days[index + 1]}, "
            f"expected {days[index] + np.timedelta64(step, 'D')} for {frequency} data",
        )
    return frequency


def _check_length(periods: int, frequency: Frequency) -> None:
    if frequency == "daily" and periods < MIN_DAILY_PERIODS:
        raise CalendarError(
            "dates",
            f"{periods} days are too few: daily data needs at least 8 weeks "
            f"({MIN_DAILY_PERIODS} days) to separate weekday effects from trend and events",
        )
    if frequency == "weekly" and periods < MIN_WEEKLY_PERIODS:
        raise CalendarError(
            "dates",
            f"{periods} weeks are too few: weekly data needs at least a year "
            f"({MIN_WEEKLY_PERIODS} weeks), since each calendar event and season occurs once a "
            "year and weeks carry no weekday signal",
        )


# --- Features ---------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _event(key: str, label: str, expression: pl.Expr) -> _Candidate:
    return _Candidate(key, label, "event", expression, "sum")


def _candidates(series_days: pl.DataFrame, frequency: Frequency) -> tuple[_Candidate, ...]:
    """Every feature to test; holidays are those the country has within the series."""
    cyber_five = pl.col("is_cyber_five") & ~pl.col("is_black_friday") & ~pl.col("is_cyber_monday")
    # Order matters where two features fall on exactly the same days (Veterans Day and Singles'
    # Day in the US): the first is kept and the other reported as collinear with it. The big
    # retail events come first, then public holidays, then smaller events and pay-cycle days.
    retail = (
        _event("black_friday", "Black Friday", pl.col("is_black_friday")),
        _event("cyber_monday", "Cyber Monday", pl.col("is_cyber_monday")),
        _event(
            "thanksgiving_weekend",
            "Thanksgiving weekend (Thu, Sat, Sun of the Cyber Five)",
            cyber_five,
        ),
        _event("prime_day", "Amazon Prime Day", pl.col("is_prime_day")),
    )
    actual_holiday = pl.col("is_holiday") & ~pl.col("is_observed_holiday")
    names = series_days.filter(actual_holiday).get_column("holiday_name").unique().sort().to_list()
    holidays = tuple(
        _Candidate(
            f"holiday:{_slug(name)}",
            name,
            "holiday",
            (actual_holiday & (pl.col("holiday_name") == name)).fill_null(False),
            "sum",
        )
        for name in names
    )
    events = (
        _event("super_bowl_sunday", "Super Bowl Sunday", pl.col("is_super_bowl_sunday")),
        _event("singles_day", "Singles' Day (11 Nov)", pl.col("is_singles_day")),
        _event("valentines_day", "Valentine's Day", pl.col("is_valentines_day")),
        _event("mothers_day", "Mother's Day", pl.col("is_mothers_day")),
        _event("fathers_day", "Father's Day", pl.col("is_fathers_day")),
        _event("easter_sunday", "Easter Sunday", pl.col("is_easter_sunday")),
        _event("halloween", "Halloween", pl.col("is_halloween")),
        _event("observed_holiday", "Day off in lieu of a holiday", pl.col("is_observed_holiday")),
        # Black Friday is always a US bridge day; left in, this would split its lift in two.
        _event(
            "bridge_day",
            "Bridge day (other than Black Friday)",
            pl.col("is_bridge_day") & ~pl.col("is_black_friday"),
        ),
        _event("payday_1st", "Payday (salary due on the 1st)", pl.col("is_payday_1st")),
        _event("payday_15th", "Payday (salary due on the 15th)", pl.col("is_payday_15th")),
        _event("month_start", "First day of the month", pl.col("is_month_start")),
        _event("month_end", "Last day of the month", pl.col("is_month_end")),
    )
    seasons = tuple(
        _Candidate(
            f"season:{season}",
            SEASON_LABELS[season],
            "period",
            pl.col("marketing_season") == season,
            "mean",
        )
        for season in MARKETING_SEASONS
    )
    months = tuple(
        _Candidate(f"month:{name.lower()}", name, "period", pl.col("month") == number, "mean")
        for number, name in enumerate(MONTH_NAMES, start=1)
    )
    weekdays = tuple(
        _Candidate(
            f"weekday:{name.lower()}", name, "weekday", pl.col("day_of_week") == number, "sum"
        )
        for number, name in enumerate(WEEKDAY_NAMES)
    )
    weekend = _Candidate("weekend", "Weekend (Sat-Sun)", "weekday", pl.col("is_weekend"), "sum")
    return (*retail, *holidays, *events, *seasons, *months, *weekdays, weekend)


def _aggregate(
    series_days: pl.DataFrame, candidates: Sequence[_Candidate], first: date, step: int
) -> dict[str, NDArray[np.float64]]:
    """Feature values per period: days with the event (sums) or share of days (periods)."""
    flags = series_days.select(
        ((pl.col("date") - first).dt.total_days() // step).alias("period"),
        *(c.expression.cast(pl.Float64).fill_null(0.0).alias(c.key) for c in candidates),
    )
    per_period = (
        flags.group_by("period")
        .agg(
            pl.col(c.key).sum() if c.aggregation == "sum" else pl.col(c.key).mean()
            for c in candidates
        )
        .sort("period")
    )
    return {c.key: per_period.get_column(c.key).to_numpy().astype(np.float64) for c in candidates}


def _screen(
    candidates: Sequence[_Candidate],
    features: dict[str, NDArray[np.float64]],
    unknown: tuple[bool, ...],
    frequency: Frequency,
) -> dict[str, str]:
    """Reasons for the features that cannot be estimated whatever the model."""
    period_name = "days" if frequency == "daily" else "weeks"
    reasons: dict[str, str] = {}
    for candidate, is_unknown in zip(candidates, unknown, strict=True):
        values = features[candidate.key]
        occurrences = int(np.count_nonzero(values))
        if is_unknown:
            reasons[candidate.key] = (
                "its dates are unknown for part of the series (e.g. Prime Day after the "
                "maintained table, Super Bowl before 1990)"
            )
        elif np.ptp(values) == 0:
            reasons[candidate.key] = (
                "never occurs in the series"
                if occurrences == 0
                else f"constant: identical in all {period_name} of the series"
            )
        elif occurrences < MIN_OCCURRENCES:
            reasons[candidate.key] = (
                "occurs only once in the series: a one-off shock on that "
                f"{period_name[:-1]} cannot be told apart from a recurring effect"
            )
    return reasons


# --- Regression -------------------------------------------------------------------------------


def _controls(
    days: NDArray[np.datetime64],
    frequency: Frequency,
    harmonics: int,
    season_steps: Sequence[NDArray[np.float64]],
) -> _Controls:
    """Trend (intercept, slope, yearly hinges), the yearly cycle (Fourier terms plus the steps of
    the marketing seasons) and weekday dummies."""
    step = PERIOD_DAYS[frequency]
    # Weeks are placed at their middle day so that the yearly cycle lines up with daily data.
    offsets = (days - days[0]).astype(np.float64) + (step - 1) / 2
    years = offsets / DAYS_PER_YEAR
    span_years = (float(offsets[-1]) + (step + 1) / 2) / DAYS_PER_YEAR
    knots = np.arange(TREND_KNOT_SPACING_YEARS, span_years - MIN_YEARS_AFTER_KNOT, 1.0)
    trend = np.column_stack(
        [np.ones_like(years), years, np.maximum(years[:, None] - knots[None, :], 0.0)]
    )
    day_of_year = (days + np.timedelta64(step // 2, "D") - days.astype("datetime64[Y]")).astype(
        np.float64
    )
    angles = 2 * np.pi * day_of_year[:, None] * np.arange(1, harmonics + 1)[None, :] / DAYS_PER_YEAR
    yearly = np.column_stack([np.sin(angles), np.cos(angles), *season_steps]).reshape(
        len(days), 2 * harmonics + len(season_steps)
    )
    if frequency == "daily":
        # 1970-01-01 was a Thursday: (days since epoch + 3) mod 7 is Monday = 0.
        weekday = (days.astype(np.int64) + 3) % 7
        weekday_dummies = (weekday[:, None] == np.arange(1, 7)[None, :]).astype(np.float64)
    else:
        weekday_dummies = np.empty((len(days), 0))
    return _Controls(trend, yearly, weekday_dummies)


def _select_columns(
    controls: NDArray[np.float64], features: dict[str, NDArray[np.float64]]
) -> tuple[NDArray[np.float64], list[str], dict[str, str]]:
    """The controls plus each feature (in order) that is not a combination of those before it.

    Returns the design, the kept feature names, and a reason for each dropped one.
    """
    design = controls
    kept: list[str] = []
    reasons: dict[str, str] = {}
    for key, values in features.items():
        coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
        residual = values - design @ coefficients
        variation = float(np.sum((values - values.mean()) ** 2))
        if float(residual @ residual) > COLLINEAR_TOLERANCE * variation:
            design = np.column_stack([design, values])
            kept.append(key)
            continue
        partners = [
            name
            for name, weight in zip(kept, coefficients[controls.shape[1] :], strict=True)
            if abs(weight) > 1e-6
        ]
        reasons[key] = (
            f"collinear with {', '.join(partners)} (given the trend and cycles)"
            if partners
            else "explained by the trend and the yearly/weekday cycles"
        )
    return design, kept, reasons


def _ar1_whiten(values: NDArray[np.float64], rho: float) -> NDArray[np.float64]:
    """``W @ values`` for the AR(1) whitening operator W (Prais-Winsten): turns AR(1) errors into
    white noise. Row 0 is scaled by sqrt(1 - rho^2), every later row loses rho times the one
    before."""
    whitened = values.copy()
    whitened[1:] = values[1:] - rho * values[:-1]
    whitened[0] = values[0] * math.sqrt(1 - rho * rho)
    return whitened


def _ar1_colour_transposed(values: NDArray[np.float64], rho: float) -> NDArray[np.float64]:
    """``W^-T @ values``: solves the upper-bidiagonal system ``W^T z = values`` with a backward
    AR(1) recursion, so that ``Cov(errors) = sigma^2 W^-1 W^-T`` never has to be formed."""
    backward = scipy.signal.lfilter([1.0], [1.0, -rho], values[::-1], axis=0)[::-1]
    coloured = np.array(backward, dtype=np.float64)
    if len(values) > 1:
        coloured[0] = (values[0] + rho * coloured[1]) / math.sqrt(1 - rho * rho)
    else:
        coloured[0] = values[0] / math.sqrt(1 - rho * rho)
    return coloured


def _fit(design: NDArray[np.float64], response: NDArray[np.float64]) -> _Fit:
    """OLS coefficients with standard errors that hold under AR(1) errors.

    The point estimates stay OLS, so an effect keeps its plain meaning (mean difference, other
    columns held fixed) even when the model omits structure; the covariance is the sandwich
    ``(X'X)^-1 X' Sigma X (X'X)^-1`` with ``Sigma`` the AR(1) covariance fitted to the residuals
    and its innovation variance pooled over all periods (unlike Newey-West, which would lean on
    the few residuals of a rare event's days).
    """
    periods, columns = design.shape
    residual_df = periods - columns
    if residual_df < 1:
        raise CalendarError("kpi", f"{periods} periods are too few for {columns} model terms")
    coefficients, *_ = np.linalg.lstsq(design, response, rcond=None)
    residuals = response - design @ coefficients
    total = float(residuals @ residuals)
    rho = float(residuals[1:] @ residuals[:-1]) / total if total > 0 else 0.0
    rho = min(max(rho, -MAX_AUTOCORRELATION), MAX_AUTOCORRELATION)
    innovations = _ar1_whiten(residuals, rho)
    variance = float(innovations @ innovations) / residual_df
    # An exact fit (synthetic data) would give zero-width intervals and infinite t statistics.
    variance = max(variance, np.finfo(np.float64).eps * float(np.var(response)))
    bread = np.linalg.pinv(design.T @ design)
    coloured = _ar1_colour_transposed(design, rho)
    sandwich = bread @ (coloured.T @ coloured) @ bread
    standard_errors = np.sqrt(variance * np.clip(np.diag(sandwich), 0.0, None))
    return _Fit(
        np.asarray(coefficients, dtype=np.float64),
        standard_errors.astype(np.float64),
        residual_df,
        rho,
    )


def _benjamini_hochberg(p_values: NDArray[np.float64]) -> NDArray[np.float64]:
    count = len(p_values)
    if count == 0:
        return p_values
    order = np.argsort(p_values, kind="stable")
    scaled = p_values[order] * count / np.arange(1, count + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q_values = np.empty(count)
    q_values[order] = np.minimum(adjusted, 1.0)
    return q_values


# --- Results ----------------------------------------------------------------------------------


def _unit(family: Family, frequency: Frequency) -> str:
    if frequency == "daily":
        return "day"
    if family == "period":
        return "week wholly in the period"
    return "week, per day of the feature in it"


def _effects(
    candidates: Sequence[_Candidate],
    features: dict[str, NDArray[np.float64]],
    estimates: dict[str, _Estimate],
    reasons: dict[str, str],
    scale: Scale,
    mean_kpi: float,
    frequency: Frequency,
    alpha: float,
    confidence: float,
) -> tuple[FeatureEffect, ...]:
    keys = [c.key for c in candidates if c.key in estimates]
    coefficient = np.array([estimates[key].coefficient for key in keys])
    error = np.array([estimates[key].standard_error for key in keys])
    df = np.array([estimates[key].residual_df for key in keys], dtype=np.float64)
    p_values = np.asarray(2 * scipy.stats.t.sf(np.abs(coefficient / error), df), dtype=np.float64)
    q_values = _benjamini_hochberg(p_values)
    half_width = np.asarray(scipy.stats.t.ppf(0.5 + confidence / 2, df), dtype=np.float64) * error
    bounds = np.column_stack([coefficient, coefficient - half_width, coefficient + half_width])
    percent = 100 * np.expm1(bounds) if scale == "multiplicative" else 100 * bounds / mean_kpi
    row = {key: index for index, key in enumerate(keys)}

    effects: list[FeatureEffect] = []
    for candidate in candidates:
        effect = FeatureEffect(
            feature=candidate.key,
            label=candidate.label,
            kind=candidate.family,
            unit=_unit(candidate.family, frequency),
            compared_with=COMPARED_WITH[candidate.family],
            occurrences=int(np.count_nonzero(features[candidate.key])),
            estimable=False,
            reason=reasons.get(candidate.key, "not estimable"),
            effect_pct=None,
            lower_pct=None,
            upper_pct=None,
            p_value=None,
            q_value=None,
            significant=False,
        )
        index = row.get(candidate.key)
        if index is not None:
            effect = replace(
                effect,
                estimable=True,
                reason=None,
                effect_pct=float(percent[index, 0]),
                lower_pct=float(percent[index, 1]),
                upper_pct=float(percent[index, 2]),
                p_value=float(p_values[index]),
                q_value=float(q_values[index]),
                significant=bool(q_values[index] <= alpha),
            )
        effects.append(effect)
    return tuple(effects)


def _relative(log_component: NDArray[np.float64], scale: Scale) -> NDArray[np.float64]:
    return np.expm1(log_component) if scale == "multiplicative" else log_component


def _decompose(
    days: NDArray[np.datetime64],
    values: NDArray[np.float64],
    response: NDArray[np.float64],
    design: NDArray[np.float64],
    fit: _Fit,
    controls: _Controls,
    control_count: int,
    scale: Scale,
    harmonics: int,
) -> Decomposition:
    trend_end = controls.trend.shape[1]
    yearly_end = trend_end + controls.yearly.shape[1]
    beta = fit.coefficients
    weekday_levels = np.concatenate([[0.0], beta[yearly_end:control_count]])
    # Weekday effects relative to the average day; their mean moves into the trend.
    weekday_mean = float(weekday_levels.mean()) if controls.weekday.shape[1] else 0.0
    yearly = design[:, trend_end:yearly_end] @ beta[trend_end:yearly_end]
    # The season steps give the cycle a non-zero mean; like the weekday mean it joins the trend.
    yearly_mean = float(yearly.mean()) if harmonics else 0.0
    yearly = yearly - yearly_mean
    trend = design[:, :trend_end] @ beta[:trend_end] + weekday_mean + yearly_mean
    weekly = design[:, yearly_end:control_count] @ beta[yearly_end:control_count] - weekday_mean
    events = design[:, control_count:] @ beta[control_count:]
    residual = response - (trend + yearly + weekly + events)
    weekday_effects = (
        tuple(float(v) for v in _relative(weekday_levels - weekday_mean, scale))
        if controls.weekday.shape[1]
        else None
    )
    return Decomposition(
        scale=scale,
        dates=tuple(np.datetime_as_string(days, unit="D").tolist()),
        observed=tuple(values.tolist()),
        trend=tuple((np.exp(trend) if scale == "multiplicative" else trend).tolist()),
        weekly=tuple(_relative(weekly, scale).tolist()),
        yearly=tuple(_relative(yearly, scale).tolist()),
        events=tuple(_relative(events, scale).tolist()),
        residual=tuple(_relative(residual, scale).tolist()),
        weekday_effects=weekday_effects,
        yearly_harmonics=harmonics,
    )


def _runs(flagged: NDArray[np.datetime64]) -> tuple[DateRange, ...]:
    """Consecutive days grouped into ranges."""
    if flagged.size == 0:
        return ()
    breaks = np.flatnonzero(np.diff(flagged).astype(np.int64) > 1)
    starts = np.datetime_as_string(np.concatenate([flagged[:1], flagged[breaks + 1]]), unit="D")
    ends = np.datetime_as_string(np.concatenate([flagged[breaks], flagged[-1:]]), unit="D")
    return tuple(DateRange(str(s), str(e)) for s, e in zip(starts, ends, strict=True))


def _opportunities(
    effects: Sequence[FeatureEffect],
    candidates: Sequence[_Candidate],
    upcoming_days: pl.DataFrame,
    max_features: int | None,
) -> tuple[Opportunity, ...]:
    expressions = {c.key: c.expression for c in candidates}
    scored: list[tuple[float, str, tuple[float, float, float, float], FeatureEffect]] = []
    for effect in effects:
        numbers = (effect.effect_pct, effect.lower_pct, effect.upper_pct, effect.q_value)
        if not effect.significant or None in numbers:
            continue
        estimate, lower, upper, q_value = (float(number or 0.0) for number in numbers)
        # The bound nearest zero: what the interval guarantees (zero if it straddles zero).
        score = 0.0 if lower <= 0 <= upper else min(abs(lower), abs(upper))
        scored.append((score, effect.feature, (estimate, lower, upper, q_value), effect))
    scored.sort(key=lambda item: (-item[0], item[1]))
    if max_features is not None:
        scored = scored[:max_features]
    opportunities = []
    for rank, (score, key, (estimate, lower, upper, q_value), effect) in enumerate(scored, 1):
        # Unknown dates (null flags, e.g. Prime Day beyond the table) are not listed.
        flagged = (
            upcoming_days.filter(expressions[key].fill_null(False))
            .get_column("date")
            .to_numpy()
            .astype("datetime64[D]")
        )
        opportunities.append(
            Opportunity(
                rank=rank,
                feature=key,
                label=effect.label,
                kind=effect.kind,
                direction="lift" if estimate > 0 else "dip",
                effect_pct=estimate,
                lower_pct=lower,
                upper_pct=upper,
                q_value=q_value,
                reliability=score / abs(estimate) if estimate else 0.0,
                score=score,
                upcoming=_runs(flagged),
            )
        )
    return tuple(opportunities)

"""What temporal EDA answers: effects, opportunities and the decomposition of a KPI.

Their own module so that the analysis (:mod:`engine.calendar.eda`) and its charts
(:mod:`engine.calendar.eda_plots`) both depend on these types and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Frequency = Literal["daily", "weekly"]
Scale = Literal["multiplicative", "additive"]
Family = Literal["event", "holiday", "period", "weekday"]

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class DateRange:
    """Consecutive days ``start``..``end`` inclusive (ISO dates)."""

    start: str
    end: str


@dataclass(frozen=True)
class FeatureEffect:
    """The estimated effect of one calendar feature on the KPI.

    ``effect_pct`` is the % lift (negative: dip) per ``unit`` compared with ``compared_with``;
    ``lower_pct``/``upper_pct`` bound it at the result's ``confidence``. ``p_value`` is the
    feature's own test, ``q_value`` the Benjamini-Hochberg adjusted one over every estimable
    feature, and ``significant`` means ``q_value <= alpha``. Not estimable features carry a
    ``reason`` and None for the numbers.
    """

    feature: str
    label: str
    kind: Family
    unit: str
    compared_with: str
    occurrences: int
    estimable: bool
    reason: str | None
    effect_pct: float | None
    lower_pct: float | None
    upper_pct: float | None
    p_value: float | None
    q_value: float | None
    significant: bool


@dataclass(frozen=True)
class Opportunity:
    """A significant effect worth planning for, with its dates in the year after the series.

    ``score`` is the interval bound nearest zero in absolute % (the lift or dip one can count
    on), i.e. ``|effect_pct| * reliability``; opportunities are ranked by it.
    """

    rank: int
    feature: str
    label: str
    kind: Family
    direction: Literal["lift", "dip"]
    effect_pct: float
    lower_pct: float
    upper_pct: float
    q_value: float
    reliability: float
    score: float
    upcoming: tuple[DateRange, ...]


@dataclass(frozen=True)
class Decomposition:
    """Per-period components of the KPI, from the joint event model.

    Multiplicative scale: ``trend`` is in KPI units and the others are relative (0.1 = +10 %),
    so ``observed = trend * (1 + weekly) * (1 + yearly) * (1 + events) * (1 + residual)``.
    Additive scale: all in KPI units and they add up to ``observed``. ``weekday_effects`` are
    Monday..Sunday relative to the average day (daily data only), on the same scale as
    ``weekly``; ``yearly`` is all zeros when the series is shorter than a year.
    """

    scale: Scale
    dates: tuple[str, ...]
    observed: tuple[float, ...]
    trend: tuple[float, ...]
    weekly: tuple[float, ...]
    yearly: tuple[float, ...]
    events: tuple[float, ...]
    residual: tuple[float, ...]
    weekday_effects: tuple[float, ...] | None
    yearly_harmonics: int


@dataclass(frozen=True)
class TemporalEDA:
    """Calendar effects on a KPI, its decomposition and the ranked opportunities."""

    frequency: Frequency
    country: str
    subdivision: str | None
    start: str
    end: str
    periods: int
    scale: Scale
    alpha: float
    confidence: float
    adjustment: str
    autocorrelation: float
    effects: tuple[FeatureEffect, ...]
    decomposition: Decomposition
    opportunities: tuple[Opportunity, ...]
    notes: tuple[str, ...]

"""Answers about one window of a fit: "what did each channel return in 2024-Q1?".

The model is fitted on the whole history (a quarter of weekly data holds far too little
information to pin ten curves), and the question is then asked of the periods in the window.
A channel's return in the window is the KPI its media added in those periods over what was
spent in them, per posterior draw (the convention of Robyn's windowed decomposition): carry-over
from spend just before the window is counted in, the tail of the window's last spend after it is
not; for steady spend the two cancel. Computed from the same per-period media draws as the
decomposition, so window answers and the decomposition agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from engine.causal.analysis import Interval, check_credible_mass, summarize
from engine.causal.data import DataError, GeoMMMData, MMMData
from engine.causal.inference import FitResult


@dataclass(frozen=True)
class ChannelWindow:
    channel: str
    spend: float  # in the window
    incremental_kpi: Interval  # added in the window's periods
    roas: Interval | None  # incremental KPI / spend in the window; None without spend


@dataclass(frozen=True)
class WindowAnswer:
    """The window's periods (inclusive dates, as the data's period starts) and each channel."""

    start: date
    end: date
    periods: int
    held_out_periods: int  # periods of the window that were not in the likelihood (holdout)
    kpi_total: float  # actual KPI in the window
    channels: tuple[ChannelWindow, ...]


def window_answer(
    result: FitResult,
    data: MMMData | GeoMMMData,
    *,
    dates: tuple[date, ...],
    start: date,
    end: date,
    credible_mass: float = 0.9,
) -> WindowAnswer:
    """Per-channel incremental KPI and ROAS over the periods whose date is in ``start..end``.

    ``data`` and ``dates`` are what the model was fitted on (holdout included)."""
    check_credible_mass(credible_mass)
    national = data.national() if isinstance(data, GeoMMMData) else data
    if len(dates) != national.periods:
        raise DataError("dates", f"{len(dates)} dates for {national.periods} periods")
    inside = np.array([start <= d <= end for d in dates])
    if not inside.any():
        raise DataError(
            "date_range",
            f"{start}..{end} holds no period of the fitted data ({dates[0]}..{dates[-1]})",
        )
    media = np.asarray(result.samples["media"], dtype=np.float64) * result.kpi_scale
    incremental = media[:, inside].sum(axis=1)  # (draws, channels)
    spend = national.spend[inside].sum(axis=0)
    spent = spend > 0
    roas = incremental / np.where(spent, spend, 1.0)
    incremental_iv = summarize(incremental, credible_mass)
    roas_iv = summarize(roas, credible_mass)
    selected = np.flatnonzero(inside)
    return WindowAnswer(
        start=dates[int(selected[0])],
        end=dates[int(selected[-1])],
        periods=int(inside.sum()),
        held_out_periods=int((selected >= result.fit_periods).sum()),
        kpi_total=float(national.kpi[inside].sum()),
        channels=tuple(
            ChannelWindow(
                channel=name,
                spend=float(spend[c]),
                incremental_kpi=incremental_iv[c],
                roas=roas_iv[c] if spent[c] else None,
            )
            for c, name in enumerate(national.channels)
        ),
    )

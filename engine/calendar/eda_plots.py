"""PNG charts of a :class:`~engine.calendar.eda.TemporalEDA`: its decomposition and top effects.

Built on ``matplotlib.figure.Figure`` with the Agg canvas, never ``pyplot``: pyplot keeps a
process-wide registry of open figures (a leak in a long-running service) and a global backend.
The PNGs carry no timestamp metadata, so the same result always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from engine.calendar.eda_results import WEEKDAY_NAMES, FeatureEffect, TemporalEDA

_DPI = 100
# More bars than this make the labels unreadable; the effects list holds the rest.
MAX_PLOTTED_EFFECTS = 20
LIFT_COLOUR, DIP_COLOUR, UNCLEAR_COLOUR = "tab:green", "tab:red", "0.6"


def render_eda_charts(result: TemporalEDA) -> dict[str, bytes]:
    """ "decomposition.png" (trend, yearly and weekly cycles, events, residual) and "effects.png"
    (the estimable effects with the largest reliable size, with intervals)."""
    return {
        "decomposition.png": _decomposition(result),
        "effects.png": _effects(result),
    }


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)  # attaches itself to the figure: Agg, whatever pyplot's default
    buffer = io.BytesIO()
    # Software and timestamp metadata would make identical results give different bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _as_percent(values: Sequence[float], multiplicative: bool) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    return 100 * array if multiplicative else array


def _decomposition(result: TemporalEDA) -> bytes:
    series = result.decomposition
    multiplicative = series.scale == "multiplicative"
    unit = "% of trend" if multiplicative else "KPI units"
    dates = np.asarray(series.dates, dtype="datetime64[D]")
    figure = Figure(figsize=(11, 11), dpi=_DPI, layout="constrained")
    axes = figure.subplots(5, 1)
    observed_ax, yearly_ax, weekly_ax, events_ax, residual_ax = axes

    observed_ax.plot(dates, series.observed, lw=0.8, color="0.3", label="observed KPI")
    observed_ax.plot(dates, series.trend, lw=2, color="tab:blue", label="trend")
    observed_ax.set_ylabel("KPI")
    observed_ax.set_title("Observed KPI and trend")
    observed_ax.legend(loc="upper left", fontsize="small")

    if series.yearly_harmonics:
        yearly_ax.plot(dates, _as_percent(series.yearly, multiplicative), color="tab:orange")
        yearly_ax.set_title(f"Yearly cycle ({series.yearly_harmonics} harmonics)")
    else:
        _note(yearly_ax, "No yearly cycle: the series covers less than a year")
        yearly_ax.set_title("Yearly cycle")
    yearly_ax.set_ylabel(unit)

    if series.weekday_effects is not None:
        effects = _as_percent(series.weekday_effects, multiplicative)
        colours = [LIFT_COLOUR if value >= 0 else DIP_COLOUR for value in effects]
        weekly_ax.bar([name[:3] for name in WEEKDAY_NAMES], effects, color=colours)
        weekly_ax.axhline(0, color="0.3", lw=0.8)
        weekly_ax.set_title("Weekly cycle: each weekday against the average day")
        weekly_ax.set_ylabel("%" if multiplicative else "KPI units")
    else:
        _note(weekly_ax, "No weekly cycle: weekly data")
        weekly_ax.set_title("Weekly cycle")

    events_ax.plot(dates, _as_percent(series.events, multiplicative), color="tab:purple", lw=0.8)
    events_ax.set_title("Events and holidays")
    events_ax.set_ylabel(unit)

    residual_ax.plot(dates, _as_percent(series.residual, multiplicative), color="0.5", lw=0.6)
    residual_ax.axhline(0, color="0.3", lw=0.8)
    residual_ax.set_title("Residual")
    residual_ax.set_ylabel(unit)
    figure.suptitle(f"Decomposition of the KPI ({result.frequency}, {series.scale})")
    return _png(figure)


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _plotted(effects: Sequence[FeatureEffect]) -> list[FeatureEffect]:
    """Significant effects first, then by the size the interval guarantees, then by size."""

    def key(effect: FeatureEffect) -> tuple[bool, float, float, str]:
        lower, upper = effect.lower_pct or 0.0, effect.upper_pct or 0.0
        guaranteed = 0.0 if lower <= 0 <= upper else min(abs(lower), abs(upper))
        return (not effect.significant, -guaranteed, -abs(effect.effect_pct or 0.0), effect.feature)

    estimable = [effect for effect in effects if effect.estimable]
    return sorted(estimable, key=key)[:MAX_PLOTTED_EFFECTS]


def _effects(result: TemporalEDA) -> bytes:
    shown = _plotted(result.effects)
    figure = Figure(figsize=(9, 1.5 + 0.38 * max(len(shown), 3)), dpi=_DPI, layout="constrained")
    ax: Axes = figure.subplots()
    if not shown:
        _note(ax, "No calendar feature could be estimated")
        return _png(figure)
    rows = np.arange(len(shown))[::-1]
    estimates = np.array([effect.effect_pct or 0.0 for effect in shown])
    lower = np.array([effect.lower_pct or 0.0 for effect in shown])
    upper = np.array([effect.upper_pct or 0.0 for effect in shown])
    colours = [
        (LIFT_COLOUR if effect.effect_pct and effect.effect_pct > 0 else DIP_COLOUR)
        if effect.significant
        else UNCLEAR_COLOUR
        for effect in shown
    ]
    ax.hlines(rows, lower, upper, colors=colours, lw=2.5)
    ax.scatter(estimates, rows, c=colours, zorder=3, s=30)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(rows, [effect.label for effect in shown], fontsize="small")
    ax.set_xlabel("lift (%)" if result.scale == "multiplicative" else "effect (% of the mean KPI)")
    significant = sum(effect.significant for effect in result.effects)
    ax.set_title(
        f"Top calendar effects ({result.confidence:.0%} intervals; coloured: significant at "
        f"FDR {result.alpha:g}, {significant} of {sum(e.estimable for e in result.effects)})",
        fontsize="medium",
    )
    return _png(figure)

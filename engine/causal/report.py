"""Pictures and a self-contained HTML report of an :class:`~engine.causal.analysis.Analysis`.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas directly, never through
``pyplot``: pyplot keeps a process-wide registry of open figures (a leak in a long-running
service) and its backend selection is global state shared with whatever else runs in-process.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from engine.causal.analysis import Analysis, Interval

_DPI = 110


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)  # attaches itself to the figure: Agg, whatever pyplot's default
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _response_curves(analysis: Analysis) -> bytes:
    curves = analysis.response_curves
    columns = min(3, len(curves))
    rows = math.ceil(len(curves) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows), dpi=_DPI, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, curve in zip(axes, curves, strict=False):
        ax.fill_between(curve.spend_per_period, curve.lower, curve.upper, alpha=0.25, lw=0)
        ax.plot(curve.spend_per_period, curve.mean, lw=2)
        ax.axvline(curve.current_spend_per_period, color="0.4", ls="--", lw=1)
        ax.plot(
            [curve.current_spend_per_period], [curve.current_kpi_per_period], "o", color="black"
        )
        ax.set_title(curve.channel)
        ax.set_xlabel("spend per period")
        ax.set_ylabel("incremental KPI per period")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
    for ax in axes[len(curves) :]:
        ax.set_visible(False)
    mass = f"{analysis.credible_mass:.0%}"
    figure.suptitle(f"Response curves (mean, {mass} interval; dashed: current spend)")
    return _png(figure)


def _time_axis(analysis: Analysis) -> NDArray[Any]:
    """Period positions: dates when known (matplotlib reads datetime64), period indices else."""
    series = analysis.contributions
    if series.dates is None:
        return np.arange(len(series.actual))
    return np.asarray(series.dates, dtype="datetime64[D]")


def _contributions(analysis: Analysis) -> bytes:
    series = analysis.contributions
    figure = Figure(figsize=(10, 4.5), dpi=_DPI, layout="constrained")
    ax: Axes = figure.subplots()
    x = _time_axis(analysis)
    ax.stackplot(
        x,
        series.baseline,
        *(channel.mean for channel in series.channels),
        labels=["baseline", *(channel.channel for channel in series.channels)],
        alpha=0.8,
    )
    ax.plot(x, series.actual, color="black", lw=1.2, label="actual KPI")
    if series.fit_periods < len(x):
        ax.fill_between(
            x[series.fit_periods :],
            0,
            1,
            transform=ax.get_xaxis_transform(),
            color="0.5",
            alpha=0.15,
            label="held out",
        )
    ax.set_ylabel("KPI per period")
    ax.set_title("Contributions over time (posterior means)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return _png(figure)


def _roas(analysis: Analysis) -> bytes:
    figure = Figure(figsize=(max(5.0, 1.6 * len(analysis.channels) + 2), 4), dpi=_DPI)
    figure.set_layout_engine("constrained")
    ax: Axes = figure.subplots()
    names = [channel.channel for channel in analysis.channels]
    positions = list(range(len(names)))
    estimated = [(p, c.roas) for p, c in zip(positions, analysis.channels, strict=True) if c.roas]
    if estimated:
        # The median is always inside the interval, so the error bars are never negative.
        ax.errorbar(
            [p for p, _ in estimated],
            [r.median for _, r in estimated],
            yerr=[
                [r.median - r.lower for _, r in estimated],
                [r.upper - r.median for _, r in estimated],
            ],
            fmt="o",
            capsize=5,
            label=f"ROAS (median, {analysis.credible_mass:.0%} interval)",
        )
    ax.scatter(
        positions,
        [channel.marginal_roas.mean for channel in analysis.channels],
        marker="D",
        facecolors="none",
        edgecolors="tab:green",
        label="marginal ROAS at current spend",
    )
    claims = analysis.platform_claims
    if claims is not None:
        claimed = [
            (names.index(claim.channel), claim.claimed_roas)
            for claim in claims.channels
            if claim.claimed_roas is not None
        ]
        ax.scatter(
            [p for p, _ in claimed],
            [r for _, r in claimed],
            marker="x",
            s=70,
            color="tab:red",
            label="platform-claimed ROAS",
        )
    ax.axhline(1.0, color="0.5", ls=":", lw=1)
    ax.set_xticks(positions, names)
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("KPI per unit of spend")
    ax.set_title("Return on ad spend")
    ax.legend(fontsize="small")
    return _png(figure)


def render_charts(analysis: Analysis) -> dict[str, bytes]:
    """PNG images: response curves, contributions over time and ROAS per channel."""
    return {
        "response_curves.png": _response_curves(analysis),
        "contributions.png": _contributions(analysis),
        "roas.png": _roas(analysis),
    }


def _amount(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:.2f}"


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def _with_interval(interval: Interval, form: str) -> str:
    formats = {"amount": _amount, "ratio": _ratio, "percent": _percent}
    show = formats[form]
    return f"{show(interval.mean)} ({show(interval.lower)} to {show(interval.upper)})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def headline(analysis: Analysis, kpi_label: str = "KPI") -> str:
    """One sentence a marketer reads first."""
    media = analysis.media.share
    model = (
        f"the model attributes {100 * media.mean:.0f} % to media "
        f"({100 * media.lower:.0f} to {100 * media.upper:.0f} %)"
    )
    claims = analysis.platform_claims
    if claims is None:
        return f"Of all {kpi_label}, {model}."
    return f"Platforms claim {100 * claims.claimed_vs_actual:.0f} % of actual {kpi_label}; {model}."


def _diagnostics(analysis: Analysis) -> str:
    found = analysis.diagnostics
    facts = (
        f"max R-hat {found.max_rhat:.3f}, minimum effective sample size {found.min_ess:.0f}, "
        f"{found.divergences} divergent transitions, R² {found.r2:.2f}, "
        f"in-sample MAPE {_percent(found.mape)}"
    )
    if found.holdout_mape is not None:
        facts += f", holdout MAPE {_percent(found.holdout_mape)}"
    if found.converged:
        status = '<p class="ok">The sampler converged.</p>'
    else:
        status = (
            '<p class="warning"><strong>Warning:</strong> the sampler did not converge ('
            + html.escape(found.message)
            + "). Treat every number below as provisional and refit with more warm-up.</p>"
        )
    return f"{status}<p>{html.escape(facts)}.</p>"


def _channels_table(analysis: Analysis) -> str:
    rows = [
        [
            channel.channel,
            _amount(channel.spend),
            _with_interval(channel.incremental_kpi, "amount"),
            _with_interval(channel.contribution_share, "percent"),
            _with_interval(channel.roas, "ratio") if channel.roas else "no spend",
            _with_interval(channel.marginal_roas, "ratio"),
            f"{channel.carryover.periods_to_90_percent.median:.0f}",
        ]
        for channel in analysis.channels
    ]
    rows.append(
        [
            "baseline (not media)",
            "",
            _with_interval(analysis.baseline.total, "amount"),
            _with_interval(analysis.baseline.share, "percent"),
            "",
            "",
            "",
        ]
    )
    header = [
        "Channel",
        "Spend",
        "Incremental KPI",
        "Share of KPI",
        "ROAS",
        "Marginal ROAS",
        "Periods to 90 % of effect",
    ]
    return _table(header, rows)


def _claims_table(analysis: Analysis) -> str:
    claims = analysis.platform_claims
    if claims is None:
        return ""
    rows = [
        [
            claim.channel,
            _amount(claim.claimed),
            _with_interval(claim.incremental_kpi, "amount"),
            _with_interval(claim.over_attribution, "ratio") if claim.over_attribution else "n/a",
        ]
        for claim in claims.channels
    ]
    overall = (
        f"Platforms claim {_amount(claims.claimed_total)} against an actual total of "
        f"{_amount(claims.actual_kpi_total)} ({_percent(claims.claimed_vs_actual)}); the model "
        f"finds {_with_interval(claims.incremental_total, 'amount')} incremental for the same "
        "channels."
    )
    table = _table(
        ["Channel", "Claimed", "Incremental (model)", "Over-attribution (claimed / incremental)"],
        rows,
    )
    return f"<h2>Platform claims</h2><p>{html.escape(overall)}</p>{table}"


def _holdout(analysis: Analysis) -> str:
    holdout = analysis.holdout
    if not holdout.holdout_periods or holdout.predicted_total is None:
        return ""
    text = (
        f"The last {holdout.holdout_periods} periods were held out of the fit. Actual KPI there: "
        f"{_amount(holdout.actual_total or 0.0)}; predicted: "
        f"{_with_interval(holdout.predicted_total, 'amount')}"
    )
    if holdout.mape is not None:
        text += f"; MAPE {_percent(holdout.mape)}"
    return f"<h2>Holdout</h2><p>{html.escape(text)}.</p>"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; color: #222; }
.headline { font-size: 1.3rem; font-weight: 600; }
.warning { background: #fff3cd; border: 1px solid #e0b000; padding: 0.6rem; }
.ok { color: #1a7f37; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 1rem 0; }
"""


def render_html(
    analysis: Analysis,
    *,
    title: str,
    charts: Mapping[str, bytes] | None = None,
    kpi_label: str = "KPI",
) -> str:
    """A single HTML document with its images inline. ``charts=None`` renders the standard
    charts; pass ``{}`` for a text-only report."""
    images = render_charts(analysis) if charts is None else charts
    figures = "".join(
        f'<img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode("ascii")}">'
        for name, png in images.items()
    )
    carryover = (
        f"Carry-over is {html.escape(analysis.adstock)} over at most {analysis.max_lag} periods; "
        f"saturation is {html.escape(analysis.saturation)}. Marginal ROAS is the KPI from one "
        f"more unit of spend at the current rate ({html.escape(analysis.current_spend_basis)})."
    )
    intervals = f"Intervals are central {analysis.credible_mass:.0%} credible intervals."
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="headline">{html.escape(headline(analysis, kpi_label))}</p>'
        f"<h2>Model diagnostics</h2>{_diagnostics(analysis)}"
        f"<h2>Channels</h2><p>{html.escape(intervals)} {carryover}</p>"
        f"{_channels_table(analysis)}{_claims_table(analysis)}{_holdout(analysis)}"
        f"<h2>Charts</h2>{figures}</body></html>"
    )

"""A self-contained HTML report of one sandbox run: the agents' summary table, cumulative
profit against the reference, spend paths, and violations.

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas (never ``pyplot``, whose
process-wide state leaks in a long-running service), embedded as base64 PNG.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from engine.eval.agents import EpisodeScores
from engine.eval.sandbox import VIOLATIONS
from engine.eval.scoring import AgentSummary

_DPI = 110


def _png(figure: Figure) -> str:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _need_trace(run: EpisodeScores) -> tuple[np.ndarray, np.ndarray]:
    if run.spend_path is None or run.profit_path is None:
        raise ValueError(f"{run.agent}: the report needs runs played with trace=True")
    return run.spend_path, run.profit_path


def cumulative_profit_chart(runs: Mapping[str, EpisodeScores]) -> str:
    """Mean cumulative profit per agent with its 10-90 % band across episodes."""
    figure = Figure(figsize=(8, 4.2), dpi=_DPI, layout="constrained")
    axes = figure.subplots()
    for name, run in runs.items():
        _, profit = _need_trace(run)
        cumulative = np.cumsum(profit, axis=0)
        periods = np.arange(1, cumulative.shape[0] + 1)
        low, high = np.quantile(cumulative, [0.1, 0.9], axis=1)
        style = "--" if name == "reference" else "-"
        (line,) = axes.plot(periods, cumulative.mean(axis=1), style, label=name)
        axes.fill_between(periods, low, high, color=line.get_color(), alpha=0.12)
    axes.set_xlabel("period")
    axes.set_ylabel("cumulative profit")
    axes.set_title("Cumulative profit (mean, 10-90 % of episodes)")
    axes.legend(fontsize=8)
    return _png(figure)


def spend_paths_chart(runs: Mapping[str, EpisodeScores], channels: Sequence[str]) -> str:
    """Each agent's mean spend per channel and period, one panel per agent."""
    names = list(runs)
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.0 * rows), dpi=_DPI, layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes, name in zip(grid, names, strict=False):
        spend, _ = _need_trace(runs[name])
        mean = spend.mean(axis=1)
        for index, channel in enumerate(channels):
            axes.plot(np.arange(1, mean.shape[0] + 1), mean[:, index], label=channel, lw=1)
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("period", fontsize=8)
    for axes in grid[len(names) :]:
        axes.set_visible(False)
    grid[0].legend(fontsize=6, ncol=2)
    figure.suptitle("Spend per channel (mean over episodes)")
    return _png(figure)


def violations_chart(runs: Mapping[str, EpisodeScores]) -> str:
    """Steps with a violation, per agent and kind."""
    figure = Figure(figsize=(8, 3.2), dpi=_DPI, layout="constrained")
    axes = figure.subplots()
    names = list(runs)
    bottom = np.zeros(len(names))
    for kind in VIOLATIONS:
        counts = np.array([float(runs[n].violations[kind].sum()) for n in names])
        axes.bar(names, counts, bottom=bottom, label=kind)
        bottom += counts
    axes.set_ylabel("steps with a violation")
    axes.set_title("Constraint violations (clipped and recorded)")
    axes.legend(fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
    return _png(figure)


def _cell(text: str) -> str:
    return f"<td>{html.escape(text)}</td>"


def _summary_rows(summaries: Sequence[AgentSummary]) -> str:
    rows = []
    for s in summaries:
        regret = (
            f"{100 * s.regret.mean:.2f} % [{100 * s.regret.interval.low:.2f}, "
            f"{100 * s.regret.interval.high:.2f}]"
            if s.regret.mean is not None and s.regret.interval is not None
            else "-"
        )
        rate = s.pass_rate
        passes = (
            f"{rate.rate:.2f} [{rate.interval.low:.2f}, {rate.interval.high:.2f}]"
            if rate.rate is not None and rate.interval is not None
            else "-"
        )
        estimate, interval = s.pass_hat_k
        kinds = ", ".join(f"{k} {v}" for k, v in s.violations.items() if v) or "none"
        rows.append(
            "<tr>"
            + _cell(s.agent)
            + _cell(regret)
            + _cell(f"{s.violation_rate.passed} of {s.episodes}")
            + _cell(kinds)
            + _cell(f"{s.attempted_over_budget:,.0f}")
            + _cell(passes)
            + _cell(f"{estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}]")
            + "</tr>"
        )
    return "\n".join(rows)


def render_report(
    *,
    title: str,
    summaries: Sequence[AgentSummary],
    runs: Mapping[str, EpisodeScores],
    channels: Sequence[str],
    notes: Sequence[str] = (),
) -> str:
    """The whole report as one HTML document (no external assets)."""
    k = summaries[0].k if summaries else 1
    threshold = summaries[0].pass_regret if summaries else 0.0
    images = {
        "Cumulative profit against the reference": cumulative_profit_chart(runs),
        "Spend paths": spend_paths_chart(runs, channels),
        "Violations": violations_chart(runs),
    }
    figures = "\n".join(
        f'<h2>{html.escape(label)}</h2><img alt="{html.escape(label)}" '
        f'src="data:image/png;base64,{data}">'
        for label, data in images.items()
    )
    extra = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Regret is the reference's profit minus the agent's on the same posterior draw and noise,
as a share of the reference's incremental KPI (the reference is the causal optimiser on each
episode's own draw). An episode passes with no violation and regret at most
{threshold:.0%}; pass^{k} is the chance that {k} seeded episodes all pass. Intervals are 95 %.</p>
<table><tr><th>agent</th><th>regret</th><th>episodes with violations</th><th>violations
(steps, by kind)</th><th>asked beyond budget per episode</th><th>pass rate</th>
<th>pass^{k}</th></tr>
{_summary_rows(summaries)}
</table>{extra}
{figures}
</body></html>
"""

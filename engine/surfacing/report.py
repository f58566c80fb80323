"""The audit report: one self-contained HTML page (charts inline as PNG), built from what the
audit stored. Figures use ``matplotlib.figure.Figure`` with the Agg canvas directly, never
pyplot, so rendering is thread-safe in a server."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from engine.surfacing.results import AuditSummary, ProductAudit

RANK_BUCKETS: tuple[str, ...] = ("1", "2-3", "4-10", "11-20", "21-50", "51-100", "beyond 100")
TOP_ROWS = 25


def rank_bucket(rank: int | None) -> str:
    if rank is None or rank > 100:
        return "beyond 100"
    for bucket, limit in (("1", 1), ("2-3", 3), ("4-10", 10), ("11-20", 20), ("21-50", 50)):
        if rank <= limit:
            return bucket
    return "51-100"


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", metadata={"Software": None})
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="chart" src="data:image/png;base64,{encoded}">'


def _rank_chart(summary: AuditSummary) -> str:
    figure = Figure(figsize=(7, 3), dpi=100)
    axes = figure.add_subplot()
    counts = [summary.rank_histogram.get(b, 0) for b in RANK_BUCKETS]
    axes.bar(RANK_BUCKETS, counts, color="#3b6ea8")
    axes.set_xlabel("best rank for its own queries (hybrid retrieval)")
    axes.set_ylabel("products")
    figure.tight_layout()
    return _png(figure)


def _category_chart(summary: AuditSummary) -> str:
    worst = sorted(summary.invisible_share_by_category.items(), key=lambda kv: kv[1])[-12:]
    if not worst:
        return "<p>No categories assigned.</p>"
    figure = Figure(figsize=(7, 0.35 * len(worst) + 1), dpi=100)
    axes = figure.add_subplot()
    axes.barh([name[-40:] for name, _ in worst], [100 * share for _, share in worst])
    axes.set_xlabel("% of the category's products invisible")
    figure.tight_layout()
    return _png(figure)


def _fix_chart(summary: AuditSummary) -> str:
    fixes = list(summary.top_fixes[:12])[::-1]
    if not fixes:
        return "<p>No mechanical fix was measured.</p>"
    figure = Figure(figsize=(7, 0.35 * len(fixes) + 1), dpi=100)
    axes = figure.add_subplot()
    axes.barh(
        [f"{f.product_id[:18]}: {f.check}"[:44] for f in fixes],
        [100 * f.click_share_change for f in fixes],
        color="#2f8f5b",
    )
    axes.set_xlabel("measured change in click share (percentage points)")
    figure.tight_layout()
    return _png(figure)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(
    summary: AuditSummary, products: Sequence[ProductAudit], *, title: str = "Catalog audit"
) -> str:
    invisible = sorted(
        (p for p in products if p.invisible), key=lambda p: (-p.expected_gain, p.product_id)
    )[:TOP_ROWS]
    failing = [p for p in products if p.hard_fail][:TOP_ROWS]
    overview = _table(
        ("measure", "value"),
        [
            ("products", summary.products),
            ("invisible (top 10 for none of their own queries)", f"{summary.invisible_share:.1%}"),
            ("retrievability Gini (hybrid)", f"{summary.gini.get('hybrid', float('nan')):.3f}"),
            *(
                (f"recall@10, {name}", f"{value:.1%}")
                for name, value in sorted(summary.recall_at_10.items())
            ),
            ("mean score (0-100)", f"{summary.mean_score:.1f}"),
            ("hard fails (manipulation lint)", summary.hard_fails),
            ("merchant queries", summary.merchant_queries),
            (
                "competitive set",
                "the whole catalog"
                if summary.competitive_set == "catalog"
                else f"per category ({summary.competitive_sets} sets)",
            ),
            ("products per minute", f"{summary.products_per_minute:,.0f}"),
        ],
    )
    findings = _table(
        ("check", "findings"),
        sorted(summary.findings_by_check.items(), key=lambda kv: -kv[1])[:30],
    )
    invisible_rows = _table(
        ("product", "title", "best rank", "outranked by", "top fix"),
        [
            (
                p.product_id,
                p.title[:80],
                next((f.best_rank for f in p.findability if f.retriever == "hybrid"), None)
                or "beyond 100",
                ", ".join(p.outranked_by[:3]),
                p.fixes[0].summary if p.fixes else "",
            )
            for p in invisible
        ],
    )
    failing_rows = _table(
        ("product", "title", "evidence"),
        [
            (p.product_id, p.title[:80], "; ".join(f.evidence for f in p.findings if f.hard_fail))
            for p in failing
        ],
    )
    english_only = ", ".join(summary.english_only_checks) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; color: #1d2733; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
td, th {{ border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left; }}
th {{ background: #f3f5f7; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Every number on this page was measured on the catalog itself: each product's own shopper
queries were run against the whole catalog under BM25, dense and hybrid retrieval.</p>
<h2>Overview</h2>{overview}
<h2>Rank distribution</h2>{_rank_chart(summary)}
<h2>Invisible share by category</h2>{_category_chart(summary)}
<h2>Top fixes, measured</h2>{_fix_chart(summary)}
<h2>Invisible products (by expected gain)</h2>{invisible_rows}
<h2>Hard fails</h2>{failing_rows}
<h2>Findings by check</h2>{findings}
<p>Checks that run only on English text: {html.escape(english_only)}.</p>
</body></html>
"""

"""Findings as a table (one row per finding), for CSV and Parquet exports."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from engine.surfacing.results import ProductAudit

COLUMNS: dict[str, type[pl.DataType]] = {
    "product_id": pl.String,
    "title": pl.String,
    "check": pl.String,
    "severity": pl.String,
    "hard_fail": pl.Boolean,
    "field": pl.String,
    "message": pl.String,
    "evidence": pl.String,
    "source": pl.String,
    "source_url": pl.String,
    "fix": pl.String,
    "fix_mechanical": pl.Boolean,
    "fix_generated": pl.Boolean,
    "measured_click_share_change": pl.Float64,
    "measured_interval_low": pl.Float64,
    "measured_interval_high": pl.Float64,
    "expected_gain": pl.Float64,
    "gain_unit": pl.String,
    "product_score": pl.Float64,
    "product_invisible": pl.Boolean,
}


def findings_table(products: Sequence[ProductAudit]) -> pl.DataFrame:
    rows: list[dict[str, object]] = []
    for product in products:
        measured = {m.check: m for m in product.fixes}
        for finding in product.findings:
            fix = finding.fix
            impact = measured.get(finding.check)
            rows.append(
                {
                    "product_id": product.product_id,
                    "title": product.title,
                    "check": finding.check,
                    "severity": finding.severity,
                    "hard_fail": finding.hard_fail,
                    "field": finding.field,
                    "message": finding.message,
                    "evidence": finding.evidence,
                    "source": finding.source.name,
                    "source_url": finding.source.url,
                    "fix": fix.summary if fix else None,
                    "fix_mechanical": fix.mechanical if fix else None,
                    "fix_generated": fix.generated if fix else None,
                    "measured_click_share_change": impact.click_share_change if impact else None,
                    "measured_interval_low": impact.interval[0]
                    if impact and impact.interval
                    else None,
                    "measured_interval_high": impact.interval[1]
                    if impact and impact.interval
                    else None,
                    "expected_gain": impact.expected_gain if impact else None,
                    "gain_unit": impact.gain_unit if impact else None,
                    "product_score": product.score,
                    "product_invisible": product.invisible,
                }
            )
    return pl.DataFrame(rows, schema=COLUMNS)

"""Upload tables shared by the dataset tests (tables, canonical, storage, selection, roles)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

START = date(2024, 1, 1)  # a Monday


def table(periods: int = 20, *, step: int = 7, geos: tuple[str, ...] = ()) -> pl.DataFrame:
    """An all-text upload as read from CSV: two channels, revenue, a control, one claim."""
    index = np.arange(periods)
    parts = []
    for number, geo in enumerate(geos or ("",)):
        part = {
            "date": [(START + timedelta(days=int(i) * step)).isoformat() for i in index],
            "spend_tv": [f"{100 + 10 * (i % 5) + number}" for i in index],
            "spend_search": [f"{50 + 3 * (i % 7)}.5" for i in index],
            "revenue": [f"{1000 + 20 * i + 100 * number}" for i in index],
            "price": [f"{9.99 + number}" for _ in index],
            "attributed_search": [f"{75 + i}" for i in index],
        }
        if geos:
            part = {"geo": [geo] * periods, **part}
        parts.append(pl.DataFrame(part))
    return pl.concat(parts)


def as_csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode()


def set_cell(frame: pl.DataFrame, column: str, row: int, value: str | None) -> pl.DataFrame:
    """``row`` is the 1-based data row, as messages count them."""
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row - 1)
        .then(pl.lit(value, dtype=pl.String))
        .otherwise(pl.col(column))
        .alias(column)
    )

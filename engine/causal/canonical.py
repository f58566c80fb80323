"""Validation of an uploaded frame into the canonical shape, once.

The canonical shape (documented in ``docs/causal-data.md``) is one row per period, and per geo
when a ``geo`` column is present: ``date``, ``spend_<channel>`` columns, a KPI (``revenue``
and/or ``conversions``), optional ``attributed_<channel>`` platform claims and numeric controls.
Everything a user can get wrong is reported as a :class:`~engine.causal.data.DataError` whose
field names the column and whose message names the row (1-based data row), date or value, so
the API can show the user exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Literal

import polars as pl

from engine.causal.columns import ATTRIBUTED_PREFIX, SPEND_PREFIX
from engine.causal.data import DataError, minimum_periods
from engine.causal.roles import ColumnLayout, ColumnRoles, resolve_columns
from engine.causal.tables import MAX_COLUMNS, MAX_ROWS, check_header

Frequency = Literal["daily", "weekly"]
STEP_DAYS: Mapping[Frequency, int] = MappingProxyType({"daily": 1, "weekly": 7})

_ROW = "__liftos_row"  # 1-based data row of the upload, kept through sorting for messages


@dataclass(frozen=True, eq=False)
class CanonicalDataset:
    """A validated dataset: build it with :func:`canonicalise` or :func:`from_parquet`.

    ``frame`` has ``[geo,] date`` then spend, KPI, attributed and control columns, all numbers
    Float64, sorted by ``(geo, date)``; every geo covers the same ``periods`` dates.
    """

    frame: pl.DataFrame
    frequency: Frequency
    channels: tuple[str, ...]
    kpis: tuple[str, ...]
    controls: tuple[str, ...]
    attributed: tuple[str, ...]
    geos: tuple[str, ...]
    start: date
    end: date
    periods: int
    source_columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ignored_columns: tuple[str, ...] = ()

    def summary(self) -> DatasetSummary:
        """What is shown when a dataset is uploaded or listed, and stored with it."""
        totals = self.frame.select(
            [pl.col(f"{SPEND_PREFIX}{c}").sum().alias(f"spend:{c}") for c in self.channels]
            + [pl.col(k).sum().alias(f"kpi:{k}") for k in self.kpis]
            + [
                pl.col(f"{ATTRIBUTED_PREFIX}{c}").sum().alias(f"attributed:{c}")
                for c in self.attributed
            ]
        ).row(0, named=True)
        return DatasetSummary(
            columns=tuple(self.frame.columns),
            rows=self.frame.height,
            frequency=self.frequency,
            periods=self.periods,
            start=self.start,
            end=self.end,
            geos=self.geos,
            channels=self.channels,
            kpis=self.kpis,
            controls=self.controls,
            attributed=self.attributed,
            source_columns=dict(self.source_columns),
            ignored_columns=self.ignored_columns,
            totals=DatasetTotals(
                spend={c: float(totals[f"spend:{c}"]) for c in self.channels},
                kpi={k: float(totals[f"kpi:{k}"]) for k in self.kpis},
                attributed={c: float(totals[f"attributed:{c}"]) for c in self.attributed},
            ),
        )


@dataclass(frozen=True)
class DatasetTotals:
    """Sums over every period (and geo) of the dataset."""

    spend: dict[str, float]  # per channel
    kpi: dict[str, float]  # per KPI column
    attributed: dict[str, float]  # per channel with platform-claimed value


# Keyword-only so that the fields keep the order of the stored and served JSON while the two
# added later (absent from older stored summaries) have defaults.
@dataclass(frozen=True, kw_only=True)
class DatasetSummary:
    """A validated dataset described: its shape, roles and totals (stored with the dataset as
    JSON and returned by the API; ``latest_dataset_with_channels`` queries ``channels``)."""

    columns: tuple[str, ...]  # of the canonical frame, in order
    rows: int
    frequency: Frequency
    periods: int  # dates per geo
    start: date
    end: date
    geos: tuple[str, ...]  # empty for a national dataset
    channels: tuple[str, ...]
    kpis: tuple[str, ...]
    controls: tuple[str, ...]
    attributed: tuple[str, ...]  # channels with platform-claimed value
    source_columns: dict[str, str] = field(default_factory=dict)  # canonical -> uploaded name
    ignored_columns: tuple[str, ...] = ()  # uploaded columns left out
    totals: DatasetTotals


def _where(frame: pl.DataFrame, index: int) -> str:
    """``row 7 (2024-01-07, geo 'north')`` for the row at ``index`` of the working frame."""
    parts = [str(frame["date"][index])] if frame["date"].dtype == pl.Date else []
    geo = frame["geo"][index] if "geo" in frame.columns else None
    if isinstance(geo, str) and geo.strip():
        parts.append(f"geo {geo.strip()!r}")
    details = f" ({', '.join(parts)})" if parts else ""
    return f"row {frame[_ROW][index]}{details}"


def _first(mask: pl.Series) -> int | None:
    hits = mask.fill_null(False).arg_true()
    return int(hits[0]) if hits.len() else None


def _parse_dates(frame: pl.DataFrame) -> pl.Series:
    raw = frame["date"]
    if raw.dtype == pl.Date:
        parsed = raw
    elif isinstance(raw.dtype, pl.Datetime):
        parsed = raw.dt.date()
    elif raw.dtype == pl.String:
        parsed = raw.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
        bad = _first(raw.is_not_null() & (raw.str.strip_chars() != "") & parsed.is_null())
        if bad is not None:
            raise DataError(
                "date",
                f"{_where(frame, bad)}: {raw[bad]!r} is not a date; write ISO dates (YYYY-MM-DD)",
            )
    else:
        raise DataError("date", f"holds {raw.dtype} values; write ISO dates (YYYY-MM-DD)")
    missing = _first(parsed.is_null())
    if missing is not None:
        raise DataError("date", f"{_where(frame, missing)}: the date is missing")
    return parsed.alias("date")


def _parse_geo(frame: pl.DataFrame) -> pl.Series:
    raw = frame["geo"]
    if raw.dtype.is_float() and bool((raw.drop_nulls() % 1 == 0).all()):
        raw = raw.cast(pl.Int64)
    if raw.dtype != pl.String and not raw.dtype.is_integer():
        raise DataError("geo", f"holds {raw.dtype} values; geos are names or codes")
    geo = raw.cast(pl.String).str.strip_chars()
    missing = _first(geo.is_null() | (geo == ""))
    if missing is not None:
        raise DataError("geo", f"{_where(frame, missing)}: the geo is missing")
    return geo.alias("geo")


def _parse_number(frame: pl.DataFrame, column: str, hint: str = "") -> pl.Series:
    raw = frame[column]
    if raw.dtype == pl.String:
        text = raw.str.strip_chars()
        values = text.cast(pl.Float64, strict=False)
        bad = _first(text.is_not_null() & (text != "") & values.is_null())
        if bad is not None:
            raise DataError(column, f"{_where(frame, bad)}: {raw[bad]!r} is not a number{hint}")
    elif raw.dtype.is_numeric() or raw.dtype == pl.Boolean:
        values = raw.cast(pl.Float64)
    else:
        raise DataError(
            column, f"holds {raw.dtype} values; every column but date/geo is numeric{hint}"
        )
    missing = _first(values.is_null())
    if missing is not None:
        raise DataError(column, f"{_where(frame, missing)}: the value is missing")
    infinite = _first(~values.is_finite())
    if infinite is not None:
        raise DataError(column, f"{_where(frame, infinite)}: {raw[infinite]!r} is not finite")
    return values.alias(column)


def canonicalise(frame: pl.DataFrame, roles: ColumnRoles | None = None) -> CanonicalDataset:
    """Validate an uploaded frame into the canonical shape, or raise the first problem found.

    ``roles`` says which of the user's columns is what (``None``: their names do, by the
    convention). The columns are renamed to the canonical names first, so the result is the
    same either way; an error about a renamed column names the user's column.
    """
    if frame.height == 0:
        raise DataError("rows", "the table has no data rows")
    if frame.height > MAX_ROWS or frame.width > MAX_COLUMNS:
        raise DataError("rows", f"at most {MAX_ROWS} rows and {MAX_COLUMNS} columns are accepted")
    stripped = [str(c).strip() for c in frame.columns]
    check_header(stripped, "rows")
    layout = resolve_columns(stripped, roles)
    work = (
        frame.rename(dict(zip(frame.columns, stripped, strict=True)))
        .select(list(layout.rename))
        .rename(dict(layout.rename))
    )
    try:
        dataset = _validate(work, layout)
    except DataError as error:
        raise layout.restate(error) from None
    return dataset


def _validate(frame: pl.DataFrame, layout: ColumnLayout) -> CanonicalDataset:
    work = frame.with_row_index(_ROW, offset=1)
    # Dates and geos first, so later messages can say which period a bad cell belongs to.
    work = work.with_columns(_parse_dates(work))
    if layout.has_geo:
        work = work.with_columns(_parse_geo(work))
    control_hint = (
        "; a column that is not a control can be left out by listing the controls in "
        "control_columns"
        if layout.controls_by_default
        else ""
    )
    work = work.with_columns(
        [
            _parse_number(work, c, control_hint if c in layout.controls else "")
            for c in layout.numeric_columns
        ]
    )
    keys = ["geo", "date"] if layout.has_geo else ["date"]
    work = work.sort([*keys, _ROW])
    _check_duplicates(work, keys)
    frequency = _check_calendar(work, layout.has_geo)
    dates: list[date] = work["date"].unique().sort().to_list()
    periods = len(dates)
    needed = minimum_periods(len(layout.channels))
    if periods < needed:
        raise DataError(
            "rows",
            f"{periods} periods are too few for {len(layout.channels)} channels: "
            f"need at least {needed} (4 per channel + 8)",
        )
    _check_values(work, layout)
    geos = tuple(work["geo"].unique().sort().to_list()) if layout.has_geo else ()
    canonical = work.select([*(["geo"] if layout.has_geo else []), "date", *layout.numeric_columns])
    return CanonicalDataset(
        frame=canonical,
        frequency=frequency,
        channels=layout.channels,
        kpis=layout.kpis,
        controls=layout.controls,
        attributed=layout.attributed,
        geos=geos,
        start=dates[0],
        end=dates[-1],
        periods=periods,
        source_columns=MappingProxyType(layout.source),
        ignored_columns=layout.ignored,
    )


def _check_duplicates(work: pl.DataFrame, keys: list[str]) -> None:
    first = _first(work.select(pl.struct(keys).is_duplicated()).to_series())
    if first is None:
        return
    same = pl.all_horizontal([pl.col(k) == work[k][first] for k in keys])
    rows = work.filter(same)[_ROW].to_list()
    geo = f" for geo {work['geo'][first]!r}" if "geo" in keys else ""
    raise DataError(
        "date",
        f"{work['date'][first]}{geo} appears more than once (rows {', '.join(map(str, rows))}); "
        "each period needs exactly one row",
    )


def _check_calendar(work: pl.DataFrame, has_geo: bool) -> Frequency:
    """Infer daily/weekly from the most common step and reject gaps, mixtures and ragged geos."""
    group = pl.col("geo") if has_geo else pl.lit(0)
    steps = work.select(
        pl.col("date").shift(1).over(group).alias("previous"),
        pl.col("date"),
        (pl.col("date") - pl.col("date").shift(1).over(group)).dt.total_days().alias("step"),
        *([pl.col("geo")] if has_geo else []),
    ).drop_nulls("step")
    if steps.height == 0:
        needed = minimum_periods(1)
        raise DataError("rows", f"1 period is too few: need at least {needed}")
    counts = steps["step"].value_counts().sort(["count", "step"], descending=[True, False])
    common = int(counts["step"][0])  # the most common step; ties go to the finer frequency

    def around(index: int) -> str:
        geo = f" (geo {steps['geo'][index]!r})" if has_geo else ""
        return f"{steps['previous'][index]} to {steps['date'][index]}{geo}"

    if common not in STEP_DAYS.values():
        raise DataError(
            "date",
            f"periods are {common} days apart (e.g. {around(0)}); "
            "dates must be daily (1 day apart) or weekly (7 days apart)",
        )
    frequency: Frequency = "daily" if common == 1 else "weekly"
    irregular = _first(steps["step"] % common != 0)
    if irregular is not None:
        raise DataError(
            "date",
            f"mixed frequency: {around(irregular)} is {steps['step'][irregular]} days, "
            f"but the data is {frequency} ({common} days apart)",
        )
    gap = _first(steps["step"] > common)
    if gap is not None:
        missing = steps["previous"][gap] + timedelta(days=common)
        raise DataError("date", f"missing period {missing}: the dates jump from {around(gap)}")
    if has_geo:
        ranges = work.group_by("geo").agg(
            pl.col("date").min().alias("first"), pl.col("date").max().alias("last")
        )
        usual = ranges.group_by("first", "last").len().sort("len", descending=True).row(0)
        odd = ranges.filter((pl.col("first") != usual[0]) | (pl.col("last") != usual[1]))
        if odd.height:
            geo, first, last = odd.sort("geo").row(0)
            raise DataError(
                "geo",
                f"geo {geo!r} covers {first}..{last} but most geos cover {usual[0]}..{usual[1]}; "
                "every geo needs the same dates",
            )
    return frequency


def _check_values(work: pl.DataFrame, layout: ColumnLayout) -> None:
    claimed = [f"{SPEND_PREFIX}{c}" for c in layout.channels] + [
        f"{ATTRIBUTED_PREFIX}{c}" for c in layout.attributed
    ]
    for column in claimed:
        negative = _first(work[column] < 0)
        if negative is not None:
            kind = "spend" if column.startswith(SPEND_PREFIX) else "attributed value"
            raise DataError(
                column,
                f"negative {kind} {work[column][negative]} in {_where(work, negative)}",
            )
    for kpi in layout.kpis:
        if bool((work[kpi] == 0).all()):
            raise DataError(kpi, "is zero in every period; there is nothing to explain")

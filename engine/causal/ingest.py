"""Uploaded marketing-mix datasets: read, validate once into the canonical shape, select for a fit.

The canonical shape (documented in ``docs/causal-data.md``) is one row per period, and per geo
when a ``geo`` column is present: ``date``, ``spend_<channel>`` columns, a KPI (``revenue``
and/or ``conversions``), optional ``attributed_<channel>`` platform claims and numeric controls.
Everything a user can get wrong is reported as a :class:`~engine.causal.data.DataError` whose
field names the column and whose message names the row (1-based data row), date or value, so
the API can show the user exactly what to fix.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from engine.causal.data import DataError, LiftTest, MMMData

Frequency = Literal["daily", "weekly"]

MAX_COLUMNS = 200
MAX_ROWS = 200_000
MAX_BYTES = 64 * 1024 * 1024
SPEND_PREFIX = "spend_"
ATTRIBUTED_PREFIX = "attributed_"
KPI_COLUMNS = ("revenue", "conversions")
RESERVED_COLUMNS = ("date", "geo", *KPI_COLUMNS)
CHANNEL_NAME = re.compile(r"[a-z0-9_]{1,40}")
STEP_DAYS: Mapping[Frequency, int] = MappingProxyType({"daily": 1, "weekly": 7})

_ROW = "__liftos_row"  # 1-based data row of the upload, kept through sorting for messages
_TEXT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/plain": "csv",
    "text/tab-separated-values": "csv",
    "application/json": "json",
    "text/json": "json",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
}
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def minimum_periods(channels: int, controls: int = 0) -> int:
    """Periods a fit needs: the same rule as :class:`MMMData`, so an accepted upload can be fit."""
    return 4 * (channels + controls) + 8


# --------------------------------------------------------------------------------------------
# Reading bytes into a frame


def decode_text(content: bytes) -> str:
    """Text of an uploaded file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.

    Google Ads' "CSV for Excel" is UTF-16 and Excel on Windows saves "CSV" in the ANSI code
    page; only headers, numbers and dates are interpreted, so the fallback cannot misread them.
    """
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8) :]
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError as error:
            raise DataError("file", f"is not valid UTF-16 text (byte {error.start})") from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as error:
        raise DataError("file", f"is not UTF-8 text (byte {error.start})") from None


def sniff_separator(header_line: str) -> str:
    """The most frequent of tab, semicolon and comma in the header (exports use all three)."""
    counts = {separator: header_line.count(separator) for separator in ("\t", ";", ",")}
    best = max(counts, key=lambda separator: counts[separator])
    return best if counts[best] else ","


def csv_frame(text: str, *, field: str = "file") -> pl.DataFrame:
    """All-string frame of CSV text whose first line is the header.

    Cells stay strings so that validation can name the row and value of a bad number and geo
    codes such as ``"01"`` keep their leading zeros.
    """
    header_line = text.split("\n", 1)[0].rstrip("\r")
    if not header_line.strip():
        raise DataError(field, "has no header line")
    separator = sniff_separator(header_line)
    header = [name.strip() for name in next(csv.reader([header_line], delimiter=separator))]
    _check_header(header, field)
    try:
        frame = pl.read_csv(
            text.encode(),
            separator=separator,
            infer_schema=False,
            new_columns=header,
            n_rows=MAX_ROWS + 1,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as error:
        raise DataError(field, _csv_problem(text, separator, len(header), error)) from None
    _check_size(frame, field)
    return frame


def _csv_problem(text: str, separator: str, width: int, error: Exception) -> str:
    """Name the first ragged row; polars' own message says neither where nor what."""
    rows = csv.reader(io.StringIO(text), delimiter=separator)
    next(rows, None)
    for number, row in enumerate(rows, start=1):
        if row and len(row) != width:
            return f"row {number} has {len(row)} fields but the header has {width}"
    return f"is not a readable CSV table: {str(error).strip().splitlines()[0]}"


def _check_header(header: Sequence[str], field: str) -> None:
    if len(header) > MAX_COLUMNS:
        raise DataError(field, f"has {len(header)} columns; at most {MAX_COLUMNS} are accepted")
    for position, name in enumerate(header, start=1):
        if not name:
            raise DataError(field, f"column {position} has no name in the header")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(name, "appears twice in the header")
        seen.add(name)


def _check_size(frame: pl.DataFrame, field: str) -> None:
    if frame.width > MAX_COLUMNS:
        raise DataError(field, f"has {frame.width} columns; at most {MAX_COLUMNS} are accepted")
    if frame.height > MAX_ROWS:
        raise DataError(field, f"has more than {MAX_ROWS} rows")
    if frame.height == 0:
        raise DataError(field, "has a header but no data rows")


def _declared_format(filename: str | None, content_type: str | None) -> str | None:
    if content_type:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type in _TEXT_TYPES:
            return _TEXT_TYPES[media_type]
        if media_type.endswith("+json"):
            return "json"
    if filename:
        suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
        return _SUFFIXES.get(suffix)
    return None


def read_table(
    content: bytes, *, filename: str | None = None, content_type: str | None = None
) -> pl.DataFrame:
    """A CSV, Parquet or JSON upload as a frame (not yet validated: see :func:`canonicalise`).

    The Parquet magic bytes win over the declared type because browsers label Parquet files
    ``application/octet-stream`` at best; otherwise the content type, then the file name, then
    the first character (``[``/``{`` means JSON) decide.
    """
    if not content:
        raise DataError("file", "is empty")
    if len(content) > MAX_BYTES:
        raise DataError("file", f"is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    declared = _declared_format(filename, content_type)
    if content[:4] == b"PAR1":
        return _read_parquet(content)
    if declared == "parquet":
        raise DataError("file", "is declared Parquet but does not start with the PAR1 magic bytes")
    if declared is None:
        head = content[:64].lstrip(codecs.BOM_UTF8 + b" \t\r\n")
        declared = "json" if head[:1] in (b"[", b"{") else "csv"
    if declared == "json":
        return _read_json(content)
    return csv_frame(decode_text(content))


def _read_parquet(content: bytes) -> pl.DataFrame:
    try:
        width = len(pl.read_parquet_schema(io.BytesIO(content)))
        if width > MAX_COLUMNS:
            raise DataError("file", f"has {width} columns; at most {MAX_COLUMNS} are accepted")
        frame = pl.read_parquet(io.BytesIO(content), n_rows=MAX_ROWS + 1)
    except pl.exceptions.PolarsError as error:
        first_line = str(error).strip().split("\n", 1)[0]
        raise DataError("file", f"is not a readable Parquet file: {first_line}") from None
    _check_size(frame, "file")
    return frame


def _read_json(content: bytes) -> pl.DataFrame:
    try:
        payload = json.loads(decode_text(content))
    except json.JSONDecodeError as error:
        raise DataError(
            "file", f"is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    if isinstance(payload, dict) and "rows" in payload:
        payload = payload["rows"]
    if not isinstance(payload, list):
        raise DataError("file", 'JSON must be a list of row objects or {"rows": [...]}')
    if len(payload) > MAX_ROWS:
        raise DataError("file", f"has more than {MAX_ROWS} rows")
    if not payload:
        raise DataError("file", "has no rows")
    return rows_to_frame(payload)


def rows_to_frame(rows: Sequence[Mapping[str, object]]) -> pl.DataFrame:
    """JSON-style row objects as a frame; columns are the union of keys in first-seen order.

    A column of numbers (booleans count as 0/1) becomes numeric; a column holding any string
    keeps every cell as text, so that validation reports the one bad cell by row and value
    instead of this function guessing. Row objects have to be visited one by one: that is the
    format, and parsing the JSON already did as much.
    """
    if isinstance(rows, str | bytes) or not isinstance(rows, Sequence):
        raise DataError("rows", "must be a list of row objects")
    if not rows:
        raise DataError("rows", "no rows were given")
    if len(rows) > MAX_ROWS:
        raise DataError("rows", f"{len(rows)} rows; at most {MAX_ROWS} are accepted")
    names: dict[str, None] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise DataError("rows", f"row {number} is not an object (got {type(row).__name__})")
        for key in row:
            if not isinstance(key, str):
                raise DataError("rows", f"row {number} has a non-text key {key!r}")
            names.setdefault(key.strip(), None)
        if len(names) > MAX_COLUMNS:
            raise DataError("rows", f"more than {MAX_COLUMNS} distinct columns")
    for name in names:
        if not name:
            raise DataError("rows", "a row has an empty key")
    stripped = [{key.strip(): value for key, value in row.items()} for row in rows]
    return pl.DataFrame([_json_column(name, [row.get(name) for row in stripped]) for name in names])


def _json_column(name: str, values: list[object]) -> pl.Series:
    for number, value in enumerate(values, start=1):
        if isinstance(value, Mapping | list | tuple):
            raise DataError(name, f"row {number}: nested value {value!r} where a cell was expected")
    present = [value for value in values if value is not None]
    if all(isinstance(value, int | float) for value in present):
        # Integral codes (a numeric geo, say) stay integers so that 501 does not become "501.0".
        if all(isinstance(value, int) and not isinstance(value, bool) for value in present):
            try:
                return pl.Series(name, values, dtype=pl.Int64)
            except (OverflowError, TypeError, pl.exceptions.PolarsError):
                pass
        return pl.Series(name, values, dtype=pl.Float64, strict=False)
    return pl.Series(name, [None if v is None else _cell_text(v) for v in values], dtype=pl.String)


def _cell_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------------
# Validation into the canonical shape


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

    def summary(self) -> dict[str, object]:
        """JSON-able description shown when a dataset is uploaded or listed."""
        totals = self.frame.select(
            [pl.col(f"{SPEND_PREFIX}{c}").sum().alias(f"spend:{c}") for c in self.channels]
            + [pl.col(k).sum().alias(f"kpi:{k}") for k in self.kpis]
            + [
                pl.col(f"{ATTRIBUTED_PREFIX}{c}").sum().alias(f"attributed:{c}")
                for c in self.attributed
            ]
        ).row(0, named=True)
        return {
            "columns": list(self.frame.columns),
            "rows": self.frame.height,
            "frequency": self.frequency,
            "periods": self.periods,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "geos": list(self.geos),
            "channels": list(self.channels),
            "kpis": list(self.kpis),
            "controls": list(self.controls),
            "attributed": list(self.attributed),
            "totals": {
                "spend": {c: float(totals[f"spend:{c}"]) for c in self.channels},
                "kpi": {k: float(totals[f"kpi:{k}"]) for k in self.kpis},
                "attributed": {c: float(totals[f"attributed:{c}"]) for c in self.attributed},
            },
        }


@dataclass(frozen=True)
class _Layout:
    channels: tuple[str, ...]
    kpis: tuple[str, ...]
    attributed: tuple[str, ...]
    controls: tuple[str, ...]
    has_geo: bool

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        return (
            tuple(f"{SPEND_PREFIX}{c}" for c in self.channels)
            + self.kpis
            + tuple(f"{ATTRIBUTED_PREFIX}{c}" for c in self.attributed)
            + self.controls
        )


def _classify(columns: Sequence[str]) -> _Layout:
    for column in columns:
        lowered = column.lower()
        if column != lowered and (
            lowered in RESERVED_COLUMNS
            or (
                lowered.startswith((SPEND_PREFIX, ATTRIBUTED_PREFIX))
                and not column.startswith((SPEND_PREFIX, ATTRIBUTED_PREFIX))
            )
        ):
            raise DataError(column, f"canonical column names are lowercase: rename it {lowered!r}")
        if column in ("spend", "attributed"):
            raise DataError(column, f"name the channel: {column}_<channel>, e.g. {column}_search")
    if "date" not in columns:
        raise DataError("date", f"there is no 'date' column (found: {', '.join(columns)})")
    channels: list[str] = []
    for column in columns:
        if column.startswith(SPEND_PREFIX):
            channel = column[len(SPEND_PREFIX) :]
            if not CHANNEL_NAME.fullmatch(channel):
                raise DataError(
                    column,
                    f"channel name {channel!r} must be 1-40 characters of a-z, 0-9 and _",
                )
            channels.append(channel)
    if not channels:
        raise DataError("spend", f"no spend_<channel> column (found: {', '.join(columns)})")
    attributed: list[str] = []
    for column in columns:
        if column.startswith(ATTRIBUTED_PREFIX):
            channel = column[len(ATTRIBUTED_PREFIX) :]
            if channel not in channels:
                raise DataError(column, f"has no matching {SPEND_PREFIX}{channel} column")
            attributed.append(channel)
    kpis = tuple(k for k in KPI_COLUMNS if k in columns)
    if not kpis:
        raise DataError(
            "kpi",
            f"no KPI column: add 'revenue' and/or 'conversions' (found: {', '.join(columns)})",
        )
    taken = {"date", "geo", *kpis}
    controls = tuple(
        c for c in columns if c not in taken and not c.startswith((SPEND_PREFIX, ATTRIBUTED_PREFIX))
    )
    return _Layout(tuple(channels), kpis, tuple(attributed), controls, "geo" in columns)


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


def _parse_number(frame: pl.DataFrame, column: str) -> pl.Series:
    raw = frame[column]
    if raw.dtype == pl.String:
        text = raw.str.strip_chars()
        values = text.cast(pl.Float64, strict=False)
        bad = _first(text.is_not_null() & (text != "") & values.is_null())
        if bad is not None:
            raise DataError(column, f"{_where(frame, bad)}: {raw[bad]!r} is not a number")
    elif raw.dtype.is_numeric() or raw.dtype == pl.Boolean:
        values = raw.cast(pl.Float64)
    else:
        raise DataError(column, f"holds {raw.dtype} values; every column but date/geo is numeric")
    missing = _first(values.is_null())
    if missing is not None:
        raise DataError(column, f"{_where(frame, missing)}: the value is missing")
    infinite = _first(~values.is_finite())
    if infinite is not None:
        raise DataError(column, f"{_where(frame, infinite)}: {raw[infinite]!r} is not finite")
    return values.alias(column)


def canonicalise(frame: pl.DataFrame) -> CanonicalDataset:
    """Validate an uploaded frame into the canonical shape, or raise the first problem found."""
    if frame.height == 0:
        raise DataError("rows", "the table has no data rows")
    if frame.height > MAX_ROWS or frame.width > MAX_COLUMNS:
        raise DataError("rows", f"at most {MAX_ROWS} rows and {MAX_COLUMNS} columns are accepted")
    stripped = [str(c).strip() for c in frame.columns]
    _check_header(stripped, "rows")
    layout = _classify(stripped)
    work = frame.rename(dict(zip(frame.columns, stripped, strict=True))).with_row_index(
        _ROW, offset=1
    )
    # Dates and geos first, so later messages can say which period a bad cell belongs to.
    work = work.with_columns(_parse_dates(work))
    if layout.has_geo:
        work = work.with_columns(_parse_geo(work))
    work = work.with_columns([_parse_number(work, c) for c in layout.numeric_columns])
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


def _check_values(work: pl.DataFrame, layout: _Layout) -> None:
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


# --------------------------------------------------------------------------------------------
# Storage


def to_parquet(dataset: CanonicalDataset) -> bytes:
    """The stored form: the canonical frame (frequency and roles are re-derived on reading)."""
    buffer = io.BytesIO()
    dataset.frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def from_parquet(content: bytes) -> CanonicalDataset:
    """Read a stored dataset; re-validation is cheap because the columns are already typed."""
    return canonicalise(read_table(content, filename="dataset.parquet"))


# --------------------------------------------------------------------------------------------
# Date ranges and lift tests as users state them


_RANGE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d{4})"), "year"),
    (re.compile(r"(\d{4})-Q(\d)"), "quarter"),
    (re.compile(r"(\d{4})-H(\d)"), "half"),
    (re.compile(r"(\d{4})-W(\d{1,2})"), "week"),
    (re.compile(r"(\d{4})-(\d{1,2})"), "month"),
    (re.compile(r"(\d{4}-\d{2}-\d{2})"), "day"),
    (re.compile(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/)\s*(\d{4}-\d{2}-\d{2})"), "between"),
)


def parse_date_range(value: str) -> tuple[date, date]:
    """Inclusive first and last day of ``2024``, ``2024-Q1``, ``2024-H2``, ``2024-03``,
    ``2024-W05`` (ISO week), ``2024-03-05`` or ``2024-01-01..2024-03-31`` (``/`` also works)."""
    text = value.strip().upper()
    for pattern, kind in _RANGE_PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        try:
            return _range_of(kind, match.groups())
        except ValueError as error:
            raise DataError("date_range", f"{value!r}: {error}") from None
    raise DataError(
        "date_range",
        f"{value!r} is not a period: use 2024, 2024-Q1, 2024-H2, 2024-03, 2024-W05, "
        "2024-03-05 or 2024-01-01..2024-03-31",
    )


def _range_of(kind: str, groups: Sequence[str]) -> tuple[date, date]:
    if kind == "day":
        day = date.fromisoformat(groups[0])
        return day, day
    if kind == "between":
        first, last = date.fromisoformat(groups[0]), date.fromisoformat(groups[1])
        if first > last:
            raise ValueError(f"starts {first}, after its end {last}")
        return first, last
    year, number = int(groups[0]), int(groups[1]) if len(groups) > 1 else 0
    if kind == "year":
        return date(year, 1, 1), date(year, 12, 31)
    if kind == "week":
        monday = date.fromisocalendar(year, number, 1)  # ValueError names a week out of range
        return monday, monday + timedelta(days=6)
    months_per_part = {"quarter": 3, "half": 6, "month": 1}[kind]
    if not 1 <= number <= 12 // months_per_part:
        raise ValueError(f"there is no {kind} {number} in a year")
    first_month = (number - 1) * months_per_part + 1
    last_month = first_month + months_per_part - 1
    return date(year, first_month, 1), date(
        year, last_month, calendar.monthrange(year, last_month)[1]
    )


@dataclass(frozen=True)
class LiftTestInput:
    """An experiment as a user states it: dates, the KPI it added and its standard error."""

    channel: str
    start: date
    end: date
    incremental_kpi: float
    standard_error: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DataError(
                "lift_tests", f"{self.channel}: ends {self.end} before it starts {self.start}"
            )
        if not math.isfinite(self.incremental_kpi):
            raise DataError("lift_tests", f"{self.channel}: incremental_kpi must be a number")
        if not (math.isfinite(self.standard_error) and self.standard_error > 0):
            raise DataError(
                "lift_tests",
                f"{self.channel}: standard_error must be positive, got {self.standard_error}",
            )


# --------------------------------------------------------------------------------------------
# Selection for a fit


@dataclass(frozen=True, eq=False)
class ModelInput:
    """What a national fit needs, plus the dates and platform claims to report against."""

    data: MMMData
    dates: tuple[date, ...]
    frequency: Frequency
    kpi: str
    attributed: Mapping[str, NDArray[np.float64]]


@dataclass(frozen=True, eq=False)
class GeoPanel:
    """Per-geo arrays for the hierarchical model; geos and dates in the dataset's sorted order."""

    geos: tuple[str, ...]
    channels: tuple[str, ...]
    dates: tuple[date, ...]
    spend: NDArray[np.float64]  # (geos, periods, channels)
    kpi: NDArray[np.float64]  # (geos, periods)
    controls: NDArray[np.float64]  # (geos, periods, controls)
    control_names: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class _Selection:
    frame: pl.DataFrame
    channels: tuple[str, ...]
    kpi: str
    controls: tuple[str, ...]
    dates: tuple[date, ...]
    filtered: bool


def _choose(
    asked: Sequence[str] | None, available: tuple[str, ...], field: str, *, allow_none: bool
) -> tuple[str, ...]:
    if asked is None:
        return available
    if isinstance(asked, str):
        raise DataError(field, f"must be a list of names, got the string {asked!r}")
    chosen = tuple(asked)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise DataError(
            field,
            f"unknown {', '.join(map(repr, unknown))}; the dataset has "
            f"{', '.join(available) or 'none'}",
        )
    if len(set(chosen)) != len(chosen):
        raise DataError(field, "a name is listed twice")
    if not chosen and not allow_none:
        raise DataError(field, "choose at least one")
    return chosen


def _select(
    dataset: CanonicalDataset,
    channels: Sequence[str] | None,
    kpi: str,
    controls: Sequence[str] | None,
    start: date | None,
    end: date | None,
) -> _Selection:
    chosen_channels = _choose(channels, dataset.channels, "channels", allow_none=False)
    if kpi not in dataset.kpis:
        raise DataError("kpi", f"{kpi!r} is not in the dataset (it has {', '.join(dataset.kpis)})")
    chosen_controls = _choose(controls, dataset.controls, "controls", allow_none=True)
    frame = dataset.frame
    filtered = start is not None or end is not None
    if filtered:
        if start is not None and end is not None and start > end:
            raise DataError("date_range", f"starts {start}, after its end {end}")
        first, last = start or dataset.start, end or dataset.end
        if last < dataset.start or first > dataset.end:
            raise DataError(
                "date_range",
                f"{first}..{last} lies outside the data ({dataset.start}..{dataset.end})",
            )
        frame = frame.filter(pl.col("date").is_between(first, last))
        periods = frame["date"].n_unique()
        needed = minimum_periods(len(chosen_channels))
        if periods < needed:
            raise DataError(
                "date_range",
                f"{first}..{last} leaves {periods} periods; {len(chosen_channels)} channels "
                f"need at least {needed}",
            )
    dates = tuple(frame["date"].unique().sort().to_list())
    return _Selection(frame, chosen_channels, kpi, chosen_controls, dates, filtered)


def _matrix(frame: pl.DataFrame, columns: Sequence[str]) -> NDArray[np.float64]:
    if not columns:
        return np.zeros((frame.height, 0), dtype=np.float64)
    return np.ascontiguousarray(frame.select(columns).to_numpy(), dtype=np.float64)


def _lift_tests(
    tests: Sequence[LiftTestInput], selection: _Selection, frequency: Frequency
) -> tuple[LiftTest, ...]:
    """Map stated experiments onto period indices: a period is the one containing the date
    (a weekly row's date is the first day of its week)."""
    starts = np.array(selection.dates, dtype="datetime64[D]")
    covered_until = selection.dates[-1] + timedelta(days=STEP_DAYS[frequency] - 1)
    mapped = []
    for test in tests:  # a handful of experiments, not rows
        if test.channel not in selection.channels:
            raise DataError(
                "lift_tests",
                f"{test.channel!r} is not among the selected channels "
                f"({', '.join(selection.channels)})",
            )
        if test.start < selection.dates[0] or test.end > covered_until:
            raise DataError(
                "lift_tests",
                f"the {test.channel} test {test.start}..{test.end} is not inside the selected "
                f"range {selection.dates[0]}..{covered_until}",
            )
        first, last = (
            np.searchsorted(
                starts, np.array([test.start, test.end], dtype="datetime64[D]"), side="right"
            )
            - 1
        )
        mapped.append(
            LiftTest(test.channel, int(first), int(last), test.incremental_kpi, test.standard_error)
        )
    return tuple(mapped)


_PERIOD_INDEX = re.compile(r"\bperiod (\d+)\b")


def to_model_input(
    dataset: CanonicalDataset,
    *,
    channels: Sequence[str] | None = None,
    kpi: str = "revenue",
    controls: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    lift_tests: Sequence[LiftTestInput] = (),
    extra_controls: tuple[Sequence[str], NDArray[np.float64]] | None = None,
) -> ModelInput:
    """The national model input for a selection of the dataset.

    Geos are summed for spend, KPI and attributed revenue (they add up to the nation) and
    averaged for controls (a price or a promotion flag does not add up). A range partly outside
    the data is clipped to it; ``ModelInput.dates`` says which periods were used.
    ``extra_controls`` are ``(names, values)`` with one row per selected period, appended to the
    chosen controls (calendar effects computed elsewhere).
    """
    selection = _select(dataset, channels, kpi, controls, start, end)
    spend_columns = [f"{SPEND_PREFIX}{c}" for c in selection.channels]
    attributed = [c for c in selection.channels if c in dataset.attributed]
    attributed_columns = [f"{ATTRIBUTED_PREFIX}{c}" for c in attributed]
    national = selection.frame
    if dataset.geos:
        national = (
            national.group_by("date")
            .agg(
                [pl.col(c).sum() for c in (*spend_columns, kpi, *attributed_columns)]
                + [pl.col(c).mean() for c in selection.controls]
            )
            .sort("date")
        )
    periods = national.height
    control_names = selection.controls
    control_values = _matrix(national, selection.controls)
    if extra_controls is not None:
        extra_names, extra_values = tuple(extra_controls[0]), np.asarray(extra_controls[1])
        if extra_values.ndim != 2 or extra_values.shape != (periods, len(extra_names)):
            raise DataError(
                "controls",
                f"extra controls have shape {extra_values.shape}; the selection needs "
                f"({periods}, {len(extra_names)}): one row per period, one column per name",
            )
        clash = sorted(set(extra_names) & set(control_names)) or sorted(
            {n for n in extra_names if extra_names.count(n) > 1}
        )
        if clash:
            raise DataError("controls", f"extra control {clash[0]!r} is already a control")
        control_names = control_names + extra_names
        control_values = np.hstack([control_values, extra_values.astype(np.float64)])
    needed = minimum_periods(len(selection.channels), len(control_names))
    if periods < needed:
        raise DataError(
            "date_range" if selection.filtered else "controls",
            f"{periods} periods are too few for {len(selection.channels)} channels and "
            f"{len(control_names)} controls: need at least {needed}; "
            "choose fewer controls or channels, or a longer range",
        )
    try:
        data = MMMData(
            channels=selection.channels,
            spend=_matrix(national, spend_columns),
            kpi=np.ascontiguousarray(national[kpi].to_numpy(), dtype=np.float64),
            controls=control_values,
            control_names=control_names,
            lift_tests=_lift_tests(lift_tests, selection, dataset.frequency),
        )
    except DataError as error:
        raise _with_dates(error, selection, kpi) from None
    claims = {c: _matrix(national, [f"{ATTRIBUTED_PREFIX}{c}"])[:, 0] for c in attributed}
    return ModelInput(
        data=data,
        dates=selection.dates,
        frequency=dataset.frequency,
        kpi=kpi,
        attributed=MappingProxyType(claims),
    )


def _with_dates(error: DataError, selection: _Selection, kpi: str) -> DataError:
    """Restate an :class:`MMMData` error (period indices, bare channel names) in dataset terms."""
    field = error.field
    if field in selection.channels:
        field = f"{SPEND_PREFIX}{field}"
    elif field == "kpi":
        field = kpi
    message = str(error).removeprefix(f"{error.field}: ")
    message = _PERIOD_INDEX.sub(
        lambda m: (
            f"{selection.dates[int(m.group(1))]}"
            if int(m.group(1)) < len(selection.dates)
            else m.group(0)
        ),
        message,
    )
    if field == kpi:  # canonicalise saw a non-zero KPI: the selected range is what is empty
        message = message.replace(
            "in every period", f"in every period of {selection.dates[0]}..{selection.dates[-1]}"
        )
    return DataError(field, message)


def to_geo_panel(
    dataset: CanonicalDataset,
    *,
    channels: Sequence[str] | None = None,
    kpi: str = "revenue",
    controls: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> GeoPanel:
    """Per-geo arrays; the canonical frame is sorted by (geo, date) with equal dates per geo,
    so each column reshapes straight into (geos, periods)."""
    if not dataset.geos:
        raise DataError("geo", "the dataset has no geo column; a geo panel needs one row per geo")
    selection = _select(dataset, channels, kpi, controls, start, end)
    shape = (len(dataset.geos), len(selection.dates))
    spend_columns = [f"{SPEND_PREFIX}{c}" for c in selection.channels]
    frame = selection.frame
    return GeoPanel(
        geos=dataset.geos,
        channels=selection.channels,
        dates=selection.dates,
        spend=_matrix(frame, spend_columns).reshape(*shape, len(spend_columns)),
        kpi=_matrix(frame, [kpi]).reshape(shape),
        controls=_matrix(frame, selection.controls).reshape(*shape, len(selection.controls)),
        control_names=selection.controls,
    )

"""Uploaded bytes as a frame: text encodings, CSV, Parquet and JSON rows (not yet validated).

Cells of text formats stay text so that validation (:mod:`engine.causal.canonical`) can name
the row and value of a bad number. Every problem is a :class:`~engine.causal.data.DataError`
naming ``file`` (or ``rows``, or the column) and saying where.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Mapping, Sequence

import polars as pl

from engine.causal.data import DataError

MAX_COLUMNS = 200
MAX_ROWS = 200_000
MAX_BYTES = 64 * 1024 * 1024

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
    check_header(header, field)
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


def check_header(header: Sequence[str], field: str) -> None:
    """Refuse a header that is too wide, or has an empty or a repeated name."""
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

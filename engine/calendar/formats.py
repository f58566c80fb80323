"""Serialise a calendar frame for the API: JSON-ready rows, CSV, Parquet or an Arrow IPC stream."""

from __future__ import annotations

import io
from typing import Any, Literal, overload

import polars as pl

from engine.calendar.errors import CalendarError

Format = Literal["json", "csv", "parquet", "arrow"]
FORMATS: tuple[Format, ...] = ("json", "csv", "parquet", "arrow")


@overload
def to_format(frame: pl.DataFrame, fmt: Literal["json"]) -> list[dict[str, Any]]: ...
@overload
def to_format(frame: pl.DataFrame, fmt: Literal["csv", "parquet", "arrow"]) -> bytes: ...
@overload
def to_format(frame: pl.DataFrame, fmt: Format) -> bytes | list[dict[str, Any]]: ...


def to_format(frame: pl.DataFrame, fmt: Format) -> bytes | list[dict[str, Any]]:
    """``json``: one dict per row with dates as ISO strings, so ``json.dumps`` needs no hooks;
    ``csv``: UTF-8 bytes with a header; ``parquet``: a Parquet file; ``arrow``: an Arrow IPC
    stream (not the file format), which clients can read incrementally."""
    if fmt == "json":
        return frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d")).to_dicts()
    if fmt == "csv":
        return frame.write_csv().encode("utf-8")
    buffer = io.BytesIO()
    if fmt == "parquet":
        frame.write_parquet(buffer)
    elif fmt == "arrow":
        frame.write_ipc_stream(buffer)
    else:
        raise CalendarError("fmt", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return buffer.getvalue()

"""Export formats round-trip the calendar frame."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import polars as pl
import pyarrow.ipc
import pytest

from engine.calendar import CALENDAR_FIELDS, CalendarError, calendar_dimension, to_format


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return calendar_dimension(date(2024, 11, 25), date(2024, 12, 3))


def test_json_rows_are_json_ready(frame: pl.DataFrame) -> None:
    rows = to_format(frame, "json")
    assert len(rows) == frame.height
    assert list(rows[0]) == [field.name for field in CALENDAR_FIELDS]
    assert rows[4]["date"] == "2024-11-29"
    assert rows[4]["iso_week_start"] == "2024-11-25"
    assert rows[4]["is_black_friday"] is True
    assert rows[0]["holiday_name"] is None
    assert json.loads(json.dumps(rows)) == rows


def test_csv_has_a_header_and_a_line_per_day(frame: pl.DataFrame) -> None:
    text = to_format(frame, "csv").decode("utf-8")
    lines = text.strip().split("\n")
    assert lines[0].split(",") == [field.name for field in CALENDAR_FIELDS]
    assert len(lines) == frame.height + 1
    assert pl.read_csv(io.BytesIO(text.encode()), try_parse_dates=True).height == frame.height


def test_parquet_round_trips(frame: pl.DataFrame) -> None:
    assert pl.read_parquet(io.BytesIO(to_format(frame, "parquet"))).equals(frame)


def test_arrow_is_an_ipc_stream(frame: pl.DataFrame) -> None:
    payload = to_format(frame, "arrow")
    assert pl.read_ipc_stream(io.BytesIO(payload)).equals(frame)
    table = pyarrow.ipc.open_stream(payload).read_all()
    assert table.num_rows == frame.height
    assert table.column_names == frame.columns


def test_unknown_format(frame: pl.DataFrame) -> None:
    bad: Any = "xml"
    with pytest.raises(CalendarError) as caught:
        to_format(frame, bad)
    assert caught.value.field == "fmt"

"""Reading uploads: encodings, separators, CSV, Parquet and JSON rows, limits."""

from __future__ import annotations

import codecs
import json

import polars as pl
import pytest

from engine.causal import tables
from engine.causal.canonical import canonicalise
from engine.causal.data import DataError
from engine.causal.storage import to_parquet
from engine.causal.tables import read_table, rows_to_frame
from tests.unit.engine.causal.uploads import as_csv, table


def test_parquet_and_json_uploads_read_the_same_table() -> None:
    expected = canonicalise(read_table(as_csv(table()))).frame
    rows = table().to_dicts()
    as_numbers = [
        {key: value if key == "date" else float(value) for key, value in row.items()}
        for row in rows
    ]
    uploads = [
        (json.dumps(as_numbers).encode(), None, "application/json"),
        (json.dumps({"rows": as_numbers}).encode(), "data.json", None),
        (b"  \n" + json.dumps(rows).encode(), None, None),  # sniffed, numbers as text
        (to_parquet(canonicalise(table())), "upload.bin", "application/octet-stream"),
    ]
    for content, filename, content_type in uploads:
        frame = read_table(content, filename=filename, content_type=content_type)
        assert canonicalise(frame).frame.equals(expected)


def test_text_encodings_and_separators() -> None:
    text = table().write_csv(separator=";")
    for content in (
        codecs.BOM_UTF8 + text.encode(),
        text.encode("utf-16"),  # with BOM, as Excel/Google Ads write UTF-16
        text.replace(";", "\t").encode("cp1252"),
    ):
        frame = read_table(content, content_type="text/csv; charset=utf-8")
        assert canonicalise(frame).periods == 20


def test_geo_codes_keep_leading_zeros() -> None:
    dataset = canonicalise(read_table(as_csv(table(geos=("01", "02")))))
    assert dataset.geos == ("01", "02")


@pytest.mark.parametrize(
    ("content", "kwargs", "fragment"),
    [
        (b"", {}, "is empty"),
        (b"date,revenue\n", {}, "no data rows"),
        (b"not parquet", {"filename": "x.parquet"}, "PAR1"),
        (b"PAR1 broken", {}, "not a readable Parquet"),
        (b"[{'date': 1}]", {}, "not valid JSON"),
        (b'{"data": []}', {}, "list of row objects"),
        (b"date,spend_tv,date\n2024-01-01,1,2\n", {}, "twice"),
        (b"date,,revenue\n2024-01-01,1,2\n", {}, "column 2 has no name"),
        (
            b"date,revenue\n2024-01-01,1\n2024-01-08,2,3\n",
            {},
            "row 2 has 3 fields but the header has 2",
        ),
        ((",".join(f"c{i}" for i in range(201)) + "\n").encode(), {}, "201 columns"),
    ],
)
def test_unreadable_uploads(content: bytes, kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(DataError, match=fragment) as info:
        read_table(content, **kwargs)
    assert info.value.field in ("file", "date")


def test_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "MAX_ROWS", 10)
    with pytest.raises(DataError, match="more than 10 rows") as info:
        read_table(as_csv(table()))
    assert info.value.field == "file"
    with pytest.raises(DataError, match="more than 10 rows"):
        read_table(json.dumps(table().to_dicts()).encode())


def test_rows_to_frame_types() -> None:
    frame = rows_to_frame(
        [
            {"date": "2024-01-01", "geo": 501, "promo": True, "price": 2},
            {"date": "2024-01-08", "geo": 502, "promo": False, "price": 2.5, "extra": "x"},
        ]
    )
    assert frame.columns == ["date", "geo", "promo", "price", "extra"]
    assert frame.schema["geo"] == pl.Int64
    assert frame["promo"].to_list() == [1.0, 0.0]
    assert frame["price"].to_list() == [2.0, 2.5]
    assert frame["extra"].to_list() == [None, "x"]
    with pytest.raises(DataError, match="row 2 is not an object") as info:
        rows_to_frame([{"date": "2024-01-01"}, ["2024-01-08"]])  # type: ignore[list-item]
    assert info.value.field == "rows"
    with pytest.raises(DataError, match="row 1: nested value") as info:
        rows_to_frame([{"date": "2024-01-01", "spend_tv": {"amount": 1}}])
    assert info.value.field == "spend_tv"

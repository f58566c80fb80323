"""Dataset ingestion: reading uploads, validating them into the canonical shape, selecting fits."""

from __future__ import annotations

import codecs
import json
import re
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from engine.causal import ingest
from engine.causal.data import DataError
from engine.causal.ingest import (
    LiftTestInput,
    canonicalise,
    from_parquet,
    parse_date_range,
    read_table,
    rows_to_frame,
    to_geo_panel,
    to_model_input,
    to_parquet,
)

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


# -- reading ------------------------------------------------------------------------------------


def test_csv_upload_becomes_canonical() -> None:
    dataset = canonicalise(read_table(as_csv(table()), filename="mmm.csv"))
    assert dataset.frequency == "weekly"
    assert dataset.channels == ("tv", "search")
    assert dataset.kpis == ("revenue",)
    assert dataset.controls == ("price",)
    assert dataset.attributed == ("search",)
    assert dataset.geos == ()
    assert (dataset.start, dataset.end, dataset.periods) == (
        START,
        START + timedelta(weeks=19),
        20,
    )
    assert dataset.frame.columns == [
        "date",
        "spend_tv",
        "spend_search",
        "revenue",
        "attributed_search",
        "price",
    ]
    assert dataset.frame["date"].dtype == pl.Date
    assert all(dataset.frame[c].dtype == pl.Float64 for c in dataset.frame.columns[1:])
    summary = dataset.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["totals"] == {
        "spend": {"tv": 2400.0, "search": sum(50.5 + 3 * (i % 7) for i in range(20))},
        "kpi": {"revenue": sum(1000.0 + 20 * i for i in range(20))},
        "attributed": {"search": sum(75.0 + i for i in range(20))},
    }
    assert summary["frequency"] == "weekly"
    assert summary["start"] == "2024-01-01"


def test_rows_are_sorted_and_daily_inferred() -> None:
    shuffled = table(periods=16, step=1).sample(fraction=1.0, shuffle=True, seed=3)
    dataset = canonicalise(shuffled)
    assert dataset.frequency == "daily"
    assert dataset.frame["date"].is_sorted()
    assert dataset.frame["revenue"][0] == 1000.0


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
    monkeypatch.setattr(ingest, "MAX_ROWS", 10)
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


def test_json_cell_that_is_not_a_number_is_named() -> None:
    rows = [
        {key: value if key == "date" else float(value) for key, value in row.items()}
        for row in table().to_dicts()
    ]
    rows[6]["spend_tv"] = "n/a"
    with pytest.raises(DataError, match=r"row 7 \(2024-02-12\): 'n/a' is not a number") as info:
        canonicalise(rows_to_frame(rows))
    assert info.value.field == "spend_tv"


# -- validation rules: each names the field and the place ----------------------------------------


def _weekly_dates(periods: int) -> list[str]:
    return [(START + timedelta(weeks=i)).isoformat() for i in range(periods)]


@pytest.mark.parametrize(
    ("change", "field", "fragments"),
    [
        (lambda f: set_cell(f, "date", 3, "2024/01/15"), "date", ["row 3", "'2024/01/15'"]),
        (lambda f: set_cell(f, "date", 3, "2024-02-30"), "date", ["row 3", "'2024-02-30'"]),
        (lambda f: set_cell(f, "date", 4, None), "date", ["row 4", "missing"]),
        (
            lambda f: set_cell(f, "date", 3, "2024-01-08"),
            "date",
            ["2024-01-08 appears more than once", "rows 2, 3"],
        ),
        (
            lambda f: f.filter(pl.col("date") != "2024-02-05"),
            "date",
            ["missing period 2024-02-05", "2024-01-29 to 2024-02-12"],
        ),
        (
            lambda f: set_cell(f, "date", 20, "2024-05-14"),
            "date",
            ["mixed frequency", "2024-05-06 to 2024-05-14 is 8 days"],
        ),
        (
            lambda f: f.with_columns(
                pl.Series("date", [(START + timedelta(days=3 * i)).isoformat() for i in range(20)])
            ),
            "date",
            ["3 days apart", "2024-01-01 to 2024-01-04"],
        ),
        (lambda f: set_cell(f, "price", 4, "abc"), "price", ["row 4", "2024-01-22", "'abc'"]),
        (lambda f: set_cell(f, "spend_search", 5, "1,234"), "spend_search", ["row 5", "'1,234'"]),
        (lambda f: set_cell(f, "spend_tv", 2, None), "spend_tv", ["row 2", "missing"]),
        (lambda f: set_cell(f, "revenue", 9, ""), "revenue", ["row 9", "2024-02-26", "missing"]),
        (lambda f: set_cell(f, "price", 1, "inf"), "price", ["row 1", "'inf'", "not finite"]),
        (
            lambda f: set_cell(f, "spend_search", 6, "-5"),
            "spend_search",
            ["negative spend -5.0", "row 6", "2024-02-05"],
        ),
        (
            lambda f: set_cell(f, "attributed_search", 2, "-1"),
            "attributed_search",
            ["negative attributed value", "row 2"],
        ),
        (lambda f: f.head(15), "rows", ["15 periods", "2 channels", "need at least 16"]),
        (lambda f: f.with_columns(revenue=pl.lit("0")), "revenue", ["zero in every period"]),
        (lambda f: f.drop("spend_tv", "spend_search", "attributed_search"), "spend", ["no spend_"]),
        (lambda f: f.drop("revenue"), "kpi", ["no KPI column", "found: date, spend_tv"]),
        (
            lambda f: f.with_columns(attributed_radio=pl.lit("1")),
            "attributed_radio",
            ["no matching spend_radio"],
        ),
        (lambda f: f.rename({"spend_tv": "spend_TV"}), "spend_TV", ["'TV'", "a-z, 0-9 and _"]),
        (lambda f: f.rename({"spend_tv": "spend_paid tv"}), "spend_paid tv", ["'paid tv'"]),
        (lambda f: f.rename({"spend_tv": "spend_" + "t" * 41}), "spend_" + "t" * 41, ["1-40"]),
        (lambda f: f.rename({"spend_tv": "Spend_tv"}), "Spend_tv", ["lowercase", "'spend_tv'"]),
        (lambda f: f.rename({"revenue": "Revenue"}), "Revenue", ["rename it 'revenue'"]),
        (lambda f: f.rename({"date": "week"}), "date", ["no 'date' column", "found: week"]),
    ],
)
def test_validation_names_the_place(change: object, field: str, fragments: list[str]) -> None:
    frame = change(table())  # type: ignore[operator]
    with pytest.raises(DataError) as info:
        canonicalise(frame)
    assert info.value.field == field
    for fragment in fragments:
        assert fragment in str(info.value)


def test_geo_problems() -> None:
    frame = table(geos=("north", "south", "west"))
    ragged = frame.filter(~((pl.col("geo") == "south") & (pl.col("date") == _weekly_dates(20)[0])))
    with pytest.raises(
        DataError, match=re.escape("geo 'south' covers 2024-01-08..2024-05-13")
    ) as info:
        canonicalise(ragged)
    assert info.value.field == "geo"
    with pytest.raises(DataError, match=r"row 21 \(2024-01-01\): the geo is missing") as info:
        canonicalise(set_cell(frame, "geo", 21, ""))
    assert info.value.field == "geo"
    duplicated = set_cell(frame, "date", 22, "2024-01-01")
    with pytest.raises(DataError, match="2024-01-01 for geo 'south' appears more than once"):
        canonicalise(duplicated)
    gap = frame.filter(~((pl.col("geo") == "west") & (pl.col("date") == "2024-03-04")))
    with pytest.raises(DataError, match=r"missing period 2024-03-04.*geo 'west'"):
        canonicalise(gap)


# -- storage --------------------------------------------------------------------------------------


def test_parquet_round_trip() -> None:
    dataset = canonicalise(table(geos=("a", "b")))
    again = from_parquet(to_parquet(dataset))
    assert again.frame.equals(dataset.frame)
    assert again.summary() == dataset.summary()
    with pytest.raises(DataError) as info:
        from_parquet(b"PAR1 then garbage")
    assert info.value.field == "file"


# -- date ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)),
        ("2023-q4", date(2023, 10, 1), date(2023, 12, 31)),
        ("2024-H2", date(2024, 7, 1), date(2024, 12, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("2024-W05", date(2024, 1, 29), date(2024, 2, 4)),
        ("2020-W53", date(2020, 12, 28), date(2021, 1, 3)),
        (" 2024-03-05 ", date(2024, 3, 5), date(2024, 3, 5)),
        ("2024-01-15..2024-02-10", date(2024, 1, 15), date(2024, 2, 10)),
        ("2024-01-15/2024-02-10", date(2024, 1, 15), date(2024, 2, 10)),
    ],
)
def test_parse_date_range(text: str, first: date, last: date) -> None:
    assert parse_date_range(text) == (first, last)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2024-Q5", "no quarter 5"),
        ("2024-H3", "no half 3"),
        ("2024-13", "no month 13"),
        ("2023-W53", "2023-W53"),
        ("2024-02-30", "day is out of range"),
        ("2024-03-01..2024-02-01", "after its end"),
        ("last quarter", "is not a period"),
    ],
)
def test_parse_date_range_rejects(text: str, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment) as info:
        parse_date_range(text)
    assert info.value.field == "date_range"


# -- selection for a fit -------------------------------------------------------------------------


def test_model_input_defaults() -> None:
    model_input = to_model_input(canonicalise(table()))
    data = model_input.data
    assert data.channels == ("tv", "search")
    assert data.control_names == ("price",)
    assert data.spend.shape == (20, 2)
    assert data.kpi[:3].tolist() == [1000.0, 1020.0, 1040.0]
    assert model_input.kpi == "revenue"
    assert model_input.frequency == "weekly"
    assert model_input.dates[0] == START
    assert list(model_input.attributed) == ["search"]
    assert model_input.attributed["search"][:2].tolist() == [75.0, 76.0]


def test_geos_are_summed_and_controls_averaged() -> None:
    dataset = canonicalise(table(geos=("north", "south")))
    assert dataset.geos == ("north", "south")
    assert dataset.periods == 20
    data = to_model_input(dataset).data
    assert data.spend[0].tolist() == [100.0 + 101.0, 50.5 * 2]
    assert data.kpi[0] == 1000.0 + 1100.0
    assert data.controls[:, 0] == pytest.approx(np.full(20, 10.49))


def test_geo_panel() -> None:
    dataset = canonicalise(table(geos=("south", "north")))
    panel = to_geo_panel(dataset, channels=["search", "tv"], controls=[])
    assert panel.geos == ("north", "south")
    assert panel.spend.shape == (2, 20, 2)
    assert panel.spend[1, 0].tolist() == [50.5, 100.0]  # south is geo number 0 in table()
    assert panel.kpi[:, 1].tolist() == [1120.0, 1020.0]
    assert panel.controls.shape == (2, 20, 0)
    with pytest.raises(DataError, match="no geo column") as info:
        to_geo_panel(canonicalise(table()))
    assert info.value.field == "geo"


def test_selection_and_range() -> None:
    dataset = canonicalise(table(periods=40))
    model_input = to_model_input(
        dataset, channels=["search"], controls=[], start=date(2024, 2, 1), end=date(2024, 6, 30)
    )
    assert model_input.dates[0] == date(2024, 2, 5)
    assert model_input.dates[-1] == date(2024, 6, 24)
    assert model_input.data.spend.shape == (21, 1)
    clipped = to_model_input(dataset, start=date(2023, 1, 1), end=date(2024, 5, 31))
    assert clipped.dates[0] == START


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"channels": ["tv", "radio"]}, "channels", "unknown 'radio'; the dataset has tv, search"),
        ({"channels": []}, "channels", "at least one"),
        ({"kpi": "conversions"}, "kpi", "'conversions' is not in the dataset"),
        ({"controls": ["weather"]}, "controls", "unknown 'weather'"),
        ({"start": date(2025, 1, 1)}, "date_range", "lies outside the data"),
        ({"start": date(2024, 3, 1), "end": date(2024, 2, 1)}, "date_range", "after its end"),
        (
            {"start": date(2024, 1, 1), "end": date(2024, 3, 31)},
            "date_range",
            "leaves 13 periods; 2 channels need at least 16",
        ),
        ({"end": date(2024, 4, 15)}, "date_range", "too few for 2 channels and 1 controls"),
    ],
)
def test_selection_errors(kwargs: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment) as info:
        to_model_input(canonicalise(table()), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_too_many_controls_for_the_data() -> None:
    frame = table().with_columns(promo=pl.lit("0"), competitor=pl.lit("1"))
    with pytest.raises(DataError, match="2 channels and 3 controls: need at least 28") as info:
        to_model_input(canonicalise(frame))
    assert info.value.field == "controls"


def test_extra_controls() -> None:
    dataset = canonicalise(table(periods=30))
    calendar = np.column_stack([np.arange(30.0), np.ones(30)])
    data = to_model_input(dataset, extra_controls=(["trend", "holiday"], calendar)).data
    assert data.control_names == ("price", "trend", "holiday")
    assert data.controls[:, 1].tolist() == list(range(30))
    with pytest.raises(DataError, match=r"shape \(29, 2\)") as info:
        to_model_input(dataset, extra_controls=(["trend", "holiday"], calendar[1:]))
    assert info.value.field == "controls"
    with pytest.raises(DataError, match="'price' is already a control"):
        to_model_input(dataset, extra_controls=(["price"], calendar[:, :1]))
    broken = calendar.copy()
    broken[3, 0] = np.nan
    with pytest.raises(DataError, match="2024-01-22"):  # MMMData's period 3, restated as a date
        to_model_input(dataset, extra_controls=(["trend", "holiday"], broken))


def test_kpi_zero_in_the_selected_range_names_the_range() -> None:
    frame = table(periods=40).with_columns(
        revenue=pl.when(pl.int_range(pl.len()) < 20).then(pl.lit("0")).otherwise("revenue")
    )
    with pytest.raises(
        DataError, match=re.escape("zero in every period of 2024-01-01..2024-05-13")
    ) as info:
        to_model_input(canonicalise(frame), end=date(2024, 5, 13))
    assert info.value.field == "revenue"


def test_lift_tests_map_to_periods() -> None:
    weekly = canonicalise(table(periods=30))
    tests = [
        LiftTestInput("tv", date(2024, 1, 10), date(2024, 1, 21), 500.0, 50.0),
        LiftTestInput("search", date(2024, 3, 4), date(2024, 3, 4), 20.0, 5.0),
    ]
    mapped = to_model_input(weekly, start=date(2024, 1, 8), lift_tests=tests).data.lift_tests
    assert [(t.channel, t.start, t.end) for t in mapped] == [("tv", 0, 1), ("search", 8, 8)]
    assert mapped[0].incremental_kpi == 500.0
    daily = canonicalise(table(periods=30, step=1))
    one = [LiftTestInput("tv", date(2024, 1, 10), date(2024, 1, 21), 500.0, 50.0)]
    assert to_model_input(daily, lift_tests=one).data.lift_tests[0].start == 9
    assert to_model_input(daily, lift_tests=one).data.lift_tests[0].end == 20
    # the last weekly period covers its whole week
    last_week = [LiftTestInput("tv", date(2024, 7, 22), date(2024, 7, 28), 1.0, 1.0)]
    assert to_model_input(weekly, lift_tests=last_week).data.lift_tests[0].start == 29


@pytest.mark.parametrize(
    ("test", "fragment"),
    [
        (LiftTestInput("radio", date(2024, 2, 1), date(2024, 2, 7), 1.0, 1.0), "'radio'"),
        (
            LiftTestInput("tv", date(2023, 12, 25), date(2024, 1, 7), 1.0, 1.0),
            "2023-12-25..2024-01-07 is not inside the selected range 2024-01-01..2024-05-19",
        ),
        (LiftTestInput("tv", date(2024, 5, 14), date(2024, 5, 20), 1.0, 1.0), "2024-05-20"),
    ],
)
def test_lift_tests_outside_the_selection(test: LiftTestInput, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment) as info:
        to_model_input(canonicalise(table()), lift_tests=[test])
    assert info.value.field == "lift_tests"


def test_lift_test_input_is_checked() -> None:
    with pytest.raises(DataError, match="ends 2024-01-01 before") as info:
        LiftTestInput("tv", date(2024, 1, 5), date(2024, 1, 1), 1.0, 1.0)
    assert info.value.field == "lift_tests"
    with pytest.raises(DataError, match="standard_error must be positive"):
        LiftTestInput("tv", date(2024, 1, 1), date(2024, 1, 5), 1.0, 0.0)
    with pytest.raises(DataError, match="incremental_kpi"):
        LiftTestInput("tv", date(2024, 1, 1), date(2024, 1, 5), float("nan"), 1.0)

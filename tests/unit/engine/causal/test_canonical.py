"""Validation into the canonical shape: every rule names the field and the place."""

from __future__ import annotations

import re
from datetime import timedelta

import polars as pl
import pytest

from engine.causal.canonical import DatasetTotals, canonicalise
from engine.causal.data import DataError
from engine.causal.tables import read_table, rows_to_frame
from tests.unit.engine.causal.uploads import START, as_csv, set_cell, table


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
    assert summary.totals == DatasetTotals(
        spend={"tv": 2400.0, "search": sum(50.5 + 3 * (i % 7) for i in range(20))},
        kpi={"revenue": sum(1000.0 + 20 * i for i in range(20))},
        attributed={"search": sum(75.0 + i for i in range(20))},
    )
    assert summary.columns == tuple(dataset.frame.columns)
    assert (summary.rows, summary.periods) == (20, 20)
    assert summary.frequency == "weekly"
    assert (summary.start, summary.end) == (START, START + timedelta(weeks=19))
    assert (summary.channels, summary.kpis, summary.controls) == (
        ("tv", "search"),
        ("revenue",),
        ("price",),
    )
    assert (summary.attributed, summary.geos) == (("search",), ())


def test_spreadsheet_headers_follow_the_convention() -> None:
    exported = table().rename(
        {
            "date": "Date",
            "spend_tv": "Spend_TV",
            "spend_search": "SPEND_Paid Search",
            "revenue": "Revenue",
            "attributed_search": "Attributed_Paid Search",
        }
    )
    dataset = canonicalise(exported)
    assert dataset.channels == ("tv", "paid_search")
    assert dataset.attributed == ("paid_search",)
    assert dataset.kpis == ("revenue",)
    assert dataset.summary().source_columns["spend_paid_search"] == "SPEND_Paid Search"


def test_rows_are_sorted_and_daily_inferred() -> None:
    shuffled = table(periods=16, step=1).sample(fraction=1.0, shuffle=True, seed=3)
    dataset = canonicalise(shuffled)
    assert dataset.frequency == "daily"
    assert dataset.frame["date"].is_sorted()
    assert dataset.frame["revenue"][0] == 1000.0


def test_json_cell_that_is_not_a_number_is_named() -> None:
    rows = [
        {key: value if key == "date" else float(value) for key, value in row.items()}
        for row in table().to_dicts()
    ]
    rows[6]["spend_tv"] = "n/a"
    with pytest.raises(DataError, match=r"row 7 \(2024-02-12\): 'n/a' is not a number") as info:
        canonicalise(rows_to_frame(rows))
    assert info.value.field == "spend_tv"


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
        (lambda f: f.rename({"spend_tv": "spend_" + "t" * 41}), "spend_" + "t" * 41, ["1-40"]),
        (lambda f: f.rename({"spend_tv": "spend_+++"}), "spend_+++", ["'+++'", "a-z, 0-9 and _"]),
        (
            lambda f: f.with_columns(pl.col("revenue").alias("Revenue")),
            "Revenue",
            ["both 'revenue' and 'Revenue'", "would be the column 'revenue'"],
        ),
        (
            lambda f: f.with_columns(pl.col("spend_tv").alias("Spend_TV")),
            "Spend_TV",
            ["both 'spend_tv' and 'Spend_TV'"],
        ),
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

"""A canonical dataset selected for a fit: model input, geo panel, ranges, lift tests."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import polars as pl
import pytest

from engine.causal.canonical import canonicalise
from engine.causal.data import DataError
from engine.causal.periods import LiftTestInput
from engine.causal.selection import to_geo_panel, to_model_input
from tests.unit.engine.causal.uploads import START, table


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

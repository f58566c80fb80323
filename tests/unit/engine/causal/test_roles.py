"""Users' own column names: roles applied before validation, errors naming the user's column."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest

from engine.causal.canonical import canonicalise
from engine.causal.data import DataError
from engine.causal.roles import ColumnRoles, channels_from_columns, resolve_columns
from engine.causal.storage import from_parquet, to_parquet
from engine.causal.tables import read_table
from tests.unit.engine.causal.uploads import START, set_cell

PERIODS = 24  # 3 channels need 4 * 3 + 8 = 20


def spreadsheet(**extra: list[str]) -> pl.DataFrame:
    """``date,facebook,google,email,revenue`` as a marketer exports it, cells as text."""
    return pl.DataFrame(
        {
            "date": [(START + timedelta(weeks=i)).isoformat() for i in range(PERIODS)],
            "facebook": [f"{200 + 10 * (i % 4)}" for i in range(PERIODS)],
            "google": [f"{150 + 7 * (i % 3)}" for i in range(PERIODS)],
            "email": [f"{20 + i % 2}" for i in range(PERIODS)],
            "revenue": [f"{5000 + 40 * i}" for i in range(PERIODS)],
            **extra,
        }
    )


def renamed(frame: pl.DataFrame) -> pl.DataFrame:
    """The same table with the names an ad-hoc export would have."""
    return frame.rename(
        {
            "date": "Week",
            "facebook": "FB Spend",
            "google": "Google Ads",
            "email": "Email",
            "revenue": "Sales",
        }
    )


def test_plain_spreadsheet_with_spend_columns_as_a_list() -> None:
    content = spreadsheet().write_csv().encode()
    roles = ColumnRoles(spend_columns=channels_from_columns(["facebook", "google", "email"]))
    dataset = canonicalise(read_table(content, filename="mmm.csv"), roles)
    assert dataset.channels == ("facebook", "google", "email")
    assert dataset.kpis == ("revenue",)
    assert dataset.controls == ()
    assert dataset.frame.columns == [
        "date",
        "spend_facebook",
        "spend_google",
        "spend_email",
        "revenue",
    ]
    assert dataset.frame["spend_google"][:3].to_list() == [150.0, 157.0, 164.0]
    summary = dataset.summary()
    assert summary.source_columns == {
        "date": "date",
        "spend_facebook": "facebook",
        "spend_google": "google",
        "spend_email": "email",
        "revenue": "revenue",
    }
    assert summary.ignored_columns == ()


def test_the_same_file_without_roles_says_both_ways_to_name_spend() -> None:
    with pytest.raises(DataError) as info:
        canonicalise(spreadsheet())
    assert info.value.field == "spend"
    message = str(info.value)
    assert "found: date, facebook, google, email, revenue" in message
    assert "rename them spend_<channel> (e.g. 'facebook' -> 'spend_facebook')" in message
    assert "spend_columns=facebook,google,email " in message
    assert 'spend_columns={"facebook": "facebook"}' in message


def test_a_mapping_with_the_users_own_names() -> None:
    frame = renamed(spreadsheet(**{"Avg Price": ["9.5"] * PERIODS, "Note": ["x"] * PERIODS}))
    roles = ColumnRoles(
        date_column="Week",
        kpi_column="Sales",
        kpi="conversions",
        spend_columns={"meta": "FB Spend", "search": "Google Ads", "email": "Email"},
        control_columns=["Avg Price"],
    )
    dataset = canonicalise(frame, roles)
    assert dataset.channels == ("meta", "search", "email")
    assert dataset.kpis == ("conversions",)
    assert dataset.controls == ("Avg Price",)
    assert dataset.ignored_columns == ("Note",)  # not numeric, but not asked for either
    assert dataset.frame.columns == [
        "date",
        "spend_meta",
        "spend_search",
        "spend_email",
        "conversions",
        "Avg Price",
    ]
    assert dict(dataset.source_columns) == {
        "date": "Week",
        "spend_meta": "FB Spend",
        "spend_search": "Google Ads",
        "spend_email": "Email",
        "conversions": "Sales",
        "Avg Price": "Avg Price",
    }
    # What is stored is canonical: it re-reads without any roles.
    again = from_parquet(to_parquet(dataset))
    assert again.frame.equals(dataset.frame)
    assert again.channels == dataset.channels


def test_attributed_columns_for_some_channels() -> None:
    claims = [f"{300 + i}" for i in range(PERIODS)]
    frame = renamed(spreadsheet(**{"FB Purchase Value": claims}))
    roles = ColumnRoles(
        date_column="Week",
        kpi_column="Sales",
        spend_columns=channels_from_columns(["FB Spend", "Google Ads", "Email"]),
        attributed_columns={"fb_spend": "FB Purchase Value"},
    )
    dataset = canonicalise(frame, roles)
    assert dataset.channels == ("fb_spend", "google_ads", "email")
    assert dataset.attributed == ("fb_spend",)
    assert dataset.summary().totals.attributed == {
        "fb_spend": float(sum(300 + i for i in range(PERIODS)))
    }


def test_conventional_columns_still_count_next_to_stated_roles() -> None:
    # Roles not stated follow the convention: attributed_<channel> and geo by their names.
    frame = spreadsheet(attributed_facebook=["1"] * PERIODS).rename({"revenue": "Sales"})
    roles = ColumnRoles(kpi_column="Sales", spend_columns={"facebook": "facebook"})
    dataset = canonicalise(frame, roles)
    assert dataset.channels == ("facebook",)
    assert dataset.attributed == ("facebook",)
    assert dataset.controls == ("google", "email")  # every other column, as without roles


def test_default_controls_must_be_numeric_and_the_message_says_how_to_leave_one_out() -> None:
    frame = spreadsheet(campaign=["spring"] * PERIODS)
    roles = ColumnRoles(spend_columns=channels_from_columns(["facebook", "google", "email"]))
    with pytest.raises(DataError) as info:
        canonicalise(frame, roles)
    assert info.value.field == "campaign"
    assert "row 1 (2024-01-01): 'spring' is not a number" in str(info.value)
    assert "listing the controls in control_columns" in str(info.value)
    dataset = canonicalise(
        frame, ColumnRoles(spend_columns=roles.spend_columns, control_columns=[])
    )
    assert dataset.ignored_columns == ("campaign",)


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        (lambda f: set_cell(f, "FB Spend", 7, "abc"), "FB Spend", "row 7 (2024-02-12): 'abc'"),
        (lambda f: set_cell(f, "Email", 3, "-2"), "Email", "negative spend -2.0 in row 3"),
        (lambda f: set_cell(f, "Sales", 5, ""), "Sales", "row 5 (2024-01-29): the value is"),
        (lambda f: set_cell(f, "Week", 2, "8/1/2024"), "Week", "row 2: '8/1/2024' is not a date"),
        (lambda f: set_cell(f, "Week", 3, "2024-01-08"), "Week", "2024-01-08 appears more than"),
        (lambda f: f.with_columns(Sales=pl.lit("0")), "Sales", "zero in every period"),
    ],
)
def test_errors_name_the_users_column(change: Any, field: str, fragment: str) -> None:
    roles = ColumnRoles(
        date_column="Week",
        kpi_column="Sales",
        spend_columns=channels_from_columns(["FB Spend", "Google Ads", "Email"]),
    )
    with pytest.raises(DataError) as info:
        canonicalise(change(renamed(spreadsheet())), roles)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert fragment in str(info.value)


SPEND = {"facebook": "facebook", "google": "google"}


@pytest.mark.parametrize(
    ("roles", "field", "fragment"),
    [
        (
            lambda: ColumnRoles(spend_columns={"fb": "Facebook"}),
            "spend_columns",
            "'Facebook' is not",
        ),
        (lambda: ColumnRoles(spend_columns=SPEND, kpi_column="Sales"), "kpi_column", "'Sales'"),
        (lambda: ColumnRoles(spend_columns=SPEND, date_column="Week"), "date_column", "'Week'"),
        (lambda: ColumnRoles(spend_columns=SPEND, geo_column="region"), "geo_column", "region"),
        (
            lambda: ColumnRoles(spend_columns=SPEND, control_columns=["price"]),
            "control_columns",
            "'price' is not a column of the file (found: date, facebook",
        ),
        (
            lambda: ColumnRoles(spend_columns=SPEND, attributed_columns={"google": "claims"}),
            "attributed_columns",
            "'claims' is not",
        ),
        (
            lambda: ColumnRoles(spend_columns=SPEND, kpi_column="google"),
            "spend_columns",
            "'google' is already the KPI column (kpi_column)",
        ),
        (
            lambda: ColumnRoles(spend_columns=SPEND, control_columns=["email", "facebook"]),
            "control_columns",
            "'facebook' is already the spend column of 'facebook'",
        ),
        (
            lambda: ColumnRoles(spend_columns={"facebook": "facebook", "fb": "facebook"}),
            "spend_columns",
            "already the spend column of 'facebook'",
        ),
        (lambda: ColumnRoles(spend_columns={"Face Book": "facebook"}), "spend_columns", "a-z"),
        (lambda: ColumnRoles(spend_columns={"x" * 41: "facebook"}), "spend_columns", "1-40"),
        (lambda: ColumnRoles(spend_columns={}), "spend_columns", "at least one"),
        (
            lambda: ColumnRoles(spend_columns=["facebook"]),  # type: ignore[arg-type]
            "spend_columns",
            "channels_from_columns",
        ),
        (
            lambda: ColumnRoles(spend_columns=SPEND, attributed_columns={"tiktok": "email"}),
            "attributed_columns",
            "'tiktok' has no spend column",
        ),
        (
            # without spend_columns the spend channels come from spend_<channel> columns
            lambda: ColumnRoles(attributed_columns={"facebook": "email"}),
            "spend",
            "no spend_<channel> column",
        ),
        (lambda: ColumnRoles(spend_columns=SPEND, kpi="orders"), "kpi", "'orders'"),  # type: ignore[arg-type]
        (lambda: ColumnRoles(spend_columns=SPEND, kpi_column=" "), "kpi_column", "empty"),
        (lambda: ColumnRoles(spend_columns=SPEND, date_column=7), "date_column", "text"),  # type: ignore[arg-type]
        (
            lambda: ColumnRoles(spend_columns=SPEND, control_columns="email"),
            "control_columns",
            "must be a list",
        ),
        (
            lambda: ColumnRoles(spend_columns=SPEND, control_columns=["email", "email"]),
            "control_columns",
            "'email' is listed twice",
        ),
        (
            lambda: ColumnRoles(spend_columns=SPEND, control_columns=["Revenue"]),
            "control_columns",
            "named like a KPI column",
        ),
        (
            lambda: ColumnRoles(spend_columns=channels_from_columns(["$$$"])),
            "spend_columns",
            "'$$$'",
        ),
        (
            lambda: ColumnRoles(spend_columns=channels_from_columns(["FB Spend", "fb-spend"])),
            "spend_columns",
            "'FB Spend' and 'fb-spend' both become channel 'fb_spend'",
        ),
        (lambda: ColumnRoles(spend_columns=channels_from_columns([])), "spend_columns", "at least"),
    ],
)
def test_every_role_mistake_names_the_role(roles: Any, field: str, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        canonicalise(spreadsheet(), roles())
    assert info.value.field == field
    assert fragment in str(info.value)


def test_attributed_channel_without_spend_when_spend_follows_the_convention() -> None:
    frame = spreadsheet().rename({"facebook": "spend_facebook"})
    with pytest.raises(DataError, match="'google' has no spend column") as info:
        canonicalise(frame, ColumnRoles(attributed_columns={"google": "google"}))
    assert info.value.field == "attributed_columns"


def test_a_stated_role_is_the_whole_role() -> None:
    # spend_columns names the spend; a spend_<channel> column it leaves out is not silently a
    # control (it would become a channel when the stored frame is read back).
    frame = spreadsheet(spend_radio=["5"] * PERIODS)
    roles = ColumnRoles(spend_columns=SPEND)
    with pytest.raises(DataError, match="add it to spend_columns") as info:
        canonicalise(frame, roles)
    assert info.value.field == "spend_radio"
    explicit = ColumnRoles(spend_columns=SPEND, control_columns=["email"])
    dataset = canonicalise(frame, explicit)
    assert dataset.ignored_columns == ("spend_radio",)
    assert dataset.controls == ("email",)
    with pytest.raises(DataError, match="named like a KPI column") as info:
        canonicalise(
            spreadsheet(conversions=["1"] * PERIODS),
            ColumnRoles(spend_columns=SPEND, kpi_column="revenue"),
        )
    assert info.value.field == "conversions"


def test_geo_column_by_name() -> None:
    north = spreadsheet(Region=["north"] * PERIODS)
    south = spreadsheet(Region=["south"] * PERIODS)
    roles = ColumnRoles(spend_columns=SPEND, geo_column="Region", control_columns=[])
    dataset = canonicalise(pl.concat([north, south]), roles)
    assert dataset.geos == ("north", "south")
    assert dataset.frame.columns[:2] == ["geo", "date"]
    assert dataset.source_columns["geo"] == "Region"
    assert dataset.ignored_columns == ("email",)


def test_channels_from_columns() -> None:
    assert channels_from_columns(["FB Spend", "Google Ads (EUR)", "tv_2"]) == {
        "fb_spend": "FB Spend",
        "google_ads_eur": "Google Ads (EUR)",
        "tv_2": "tv_2",
    }
    with pytest.raises(DataError, match="1-40") as info:
        channels_from_columns(["a" * 41], field="spend")
    assert info.value.field == "spend"


def test_no_roles_is_the_convention() -> None:
    layout = resolve_columns(["date", "spend_tv", "revenue", "price"])
    assert layout.rename == {c: c for c in ("date", "spend_tv", "revenue", "price")}
    assert layout.controls == ("price",)
    assert layout.source == {"date": "date", "spend_tv": "spend_tv", "revenue": "revenue"} | {
        "price": "price"
    }

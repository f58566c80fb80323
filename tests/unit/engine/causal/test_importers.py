"""Ad-platform exports: headers and quirks as the platforms write them, into canonical columns."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from engine.causal.canonical import canonicalise
from engine.causal.data import DataError
from engine.causal.importers import combine, import_export, parse_export_dates
from engine.causal.selection import to_model_input
from engine.causal.tables import read_table

FIXTURES = Path(__file__).parent / "fixtures"
START = date(2024, 1, 1)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def column(frame: pl.DataFrame, name: str) -> list[float]:
    return [round(value, 6) for value in frame[name].to_list()]


def test_google_ads_report() -> None:
    frame = import_export("google_ads", fixture("google_ads_campaign_report.csv"))
    assert frame.columns == ["date", "spend_google_ads", "attributed_google_ads", "conversions"]
    assert frame["date"].to_list() == [START + timedelta(days=i) for i in range(4)]
    # campaigns summed, "1,234.56" and "--" understood, totals lines dropped, 2024-01-03 filled
    assert column(frame, "spend_google_ads") == [1534.56, 1100.0, 0.0, 900.1]
    assert column(frame, "attributed_google_ads") == [2765.67, 0.0, 0.0, 1800.0]
    assert column(frame, "conversions") == [15.5, 0.0, 0.0, 9.0]


def test_google_ads_excel_csv_is_utf16_with_tabs() -> None:
    rows = list(csv.reader(io.StringIO(fixture("google_ads_campaign_report.csv").decode())))
    text = io.StringIO()
    csv.writer(text, delimiter="\t", lineterminator="\r\n").writerows(rows)
    excel = import_export("google_ads", text.getvalue().encode("utf-16"), channel="search")
    plain = import_export("google_ads", fixture("google_ads_campaign_report.csv"), channel="search")
    assert excel.equals(plain)
    assert "spend_search" in excel.columns


def test_meta_currency_comes_from_the_spend_header() -> None:
    content = fixture("meta_ads_manager.csv")
    in_euros = import_export("meta", content)
    assert column(in_euros, "spend_meta") == [160.5, 99.5, 110.0]
    assert column(in_euros, "attributed_meta") == [630.0, 0.0, 330.0]
    assert column(in_euros, "conversions") == [6.0, 0.0, 3.0]  # "Purchases", not "Results"
    in_dollars = import_export("meta", content, currency="usd", fx_rates={"EUR": 1.1})
    assert column(in_dollars, "spend_meta") == [176.55, 109.45, 121.0]
    assert column(in_dollars, "attributed_meta") == [693.0, 0.0, 363.0]
    assert column(in_dollars, "conversions") == [6.0, 0.0, 3.0]  # counts are not converted
    assert import_export("meta", content, currency="EUR").equals(in_euros)
    with pytest.raises(DataError, match=r"in EUR but no exchange rate to USD.*have: GBP") as info:
        import_export("meta", content, currency="USD", fx_rates={"GBP": 1.27})
    assert info.value.field == "currency"
    with pytest.raises(DataError, match="must be positive"):
        import_export("meta", content, currency="USD", fx_rates={"EUR": 0.0})


def test_meta_without_day_breakdown_is_refused() -> None:
    text = fixture("meta_ads_manager.csv").decode()
    header, *rows = text.splitlines()
    without_day = [",".join(c for i, c in enumerate(line.split(",")) if i != 3) for line in rows]
    header = ",".join(c for i, c in enumerate(header.split(",")) if i != 3)
    content = "\n".join([header, *without_day]).encode()
    with pytest.raises(
        DataError, match=re.escape("row 1 covers 2024-01-01..2024-01-03, not one day")
    ) as info:
        import_export("meta", content)
    assert info.value.field == "Reporting ends"
    one_day = content.decode().replace("2024-01-01,2024-01-03", "2024-01-02,2024-01-02")
    assert import_export("meta", one_day.encode())["date"].to_list() == [date(2024, 1, 2)]


def test_tiktok_per_row_currency_and_total_line() -> None:
    content = fixture("tiktok_ads_manager.csv")
    frame = import_export("tiktok", content, currency="USD", fx_rates={"GBP": 1.25})
    assert column(frame, "spend_tiktok") == [93.75, 68.75, 0.0]
    assert column(frame, "attributed_tiktok") == [318.75, 325.0, 0.0]
    assert column(frame, "conversions") == [4.0, 4.0, 0.0]
    mixed = content.decode().replace("2024-01-02,Spark Ads - UGC,GBP", "2024-01-02,Spark,EUR")
    with pytest.raises(DataError, match="mixes EUR, GBP") as info:
        import_export("tiktok", mixed.encode())
    assert info.value.field == "currency"
    converted = import_export(
        "tiktok", mixed.encode(), currency="GBP", fx_rates={"EUR": 0.5, "GBP": 99.0}
    )
    assert column(converted, "spend_tiktok") == [75.0, 27.5, 0.0]  # GBP→GBP is always 1
    blank = content.decode().replace("2024-01-02,Spark Ads - UGC,GBP", "2024-01-02,Spark,")
    with pytest.raises(DataError, match="row 3: the currency is missing") as info:
        import_export("tiktok", blank.encode())
    assert info.value.field == "Currency"


def test_klaviyo_has_no_spend_unless_priced() -> None:
    content = fixture("klaviyo_campaigns.csv")
    free = import_export("klaviyo", content, channel="email")
    assert free["date"].to_list() == [date(2024, 1, i) for i in range(2, 6)]
    assert column(free, "spend_email") == [0.0, 0.0, 0.0, 0.0]
    assert column(free, "attributed_email") == [3790.0, 0.0, 0.0, 1020.5]
    assert column(free, "conversions") == [43.0, 0.0, 0.0, 12.0]
    priced = import_export("klaviyo", content, channel="email", cost_per_recipient=0.002)
    assert column(priced, "spend_email") == [28.0, 0.0, 0.0, 23.0]
    with pytest.raises(DataError, match="must be zero or positive") as info:
        import_export("klaviyo", content, cost_per_recipient=-1.0)
    assert info.value.field == "cost_per_recipient"


@pytest.mark.parametrize(
    ("source", "name", "old", "new", "field", "fragments"),
    [
        (
            "google_ads",
            "google_ads_campaign_report.csv",
            ",Cost,",
            ",Spend,",
            "Cost",
            ["no 'Cost' column", "found: Day, Campaign, Campaign type, Currency code, Spend"],
        ),
        (
            "tiktok",
            "tiktok_ads_manager.csv",
            "By Day,",
            "Week,",
            "By Day",
            ["no header line with a 'By Day' / 'Date'", "broken down by day"],
        ),
        (
            "klaviyo",
            "klaviyo_campaigns.csv",
            ",Revenue,",
            ",Clicks value,",
            "Revenue",
            ["no 'Revenue' / 'Placed Order Value'"],
        ),
        (
            "google_ads",
            "google_ads_campaign_report.csv",
            "2024-01-02,Brand",
            "01/02/2024,Brand",
            "Day",
            ["row 3", "'01/02/2024' is not a date"],
        ),
        (
            "tiktok",
            "tiktok_ads_manager.csv",
            "55.00",
            "55 GBP",
            "Cost",
            ["row 3", "'55 GBP' is not a number"],
        ),
        (
            "meta",
            "meta_ads_manager.csv",
            "2024-01-01,active",
            ",active",
            "Day",
            ["row 1", "the date is missing"],
        ),
    ],
)
def test_export_problems_name_the_column_and_row(
    source: str, name: str, old: str, new: str, field: str, fragments: list[str]
) -> None:
    content = fixture(name).decode().replace(old, new, 1).encode()
    with pytest.raises(DataError) as info:
        import_export(source, content)  # type: ignore[arg-type]
    assert info.value.field == field
    for fragment in fragments:
        assert fragment in str(info.value)


def test_bad_arguments() -> None:
    content = fixture("tiktok_ads_manager.csv")
    with pytest.raises(DataError, match="unknown source 'snapchat'") as info:
        import_export("snapchat", content)  # type: ignore[arg-type]
    assert info.value.field == "source"
    with pytest.raises(DataError, match="'TikTok Ads'") as info:
        import_export("tiktok", content, channel="TikTok Ads")
    assert info.value.field == "channel"
    with pytest.raises(DataError, match="empty") as info:
        import_export("tiktok", b"", filename="tiktok.csv")
    assert info.value.field == "file"


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-05",
        "2024-1-5",
        "2024/01/05",
        "Jan 5, 2024",
        "January 5, 2024",
        "Fri, Jan 5, 2024",
        "5 Jan 2024",
        "20240105",
        "2024-01-05 10:00:00",
        "2024-01-05T23:59:59+01:00",
        " Jan. 5 2024 9:00 AM",
    ],
)
def test_export_date_formats(text: str) -> None:
    rows = pl.Series([7])
    assert parse_export_dates(pl.Series([text]), rows, "Day").to_list() == [date(2024, 1, 5)]


# -- combining exports with the user's KPI -----------------------------------------------------


def google_export(days: int) -> bytes:
    lines = [
        "Campaign report",
        '"January 1, 2024 - ..."',
        "Day,Campaign,Currency code,Cost,Conv. value",
    ]
    for i in range(days):
        day = START + timedelta(days=i)
        if i % 9 == 4:
            continue  # no delivery that day: Google leaves the row out
        shown = f'"{day:%b} {day.day}, {day.year}"'  # as Google writes days in some locales
        lines.append(f'{shown},Brand,USD,"{1000 + 10 * i:,}.50",{2 * i}')
        lines.append(f"{shown},Generic,USD,20.00,--")
    lines.append("Total: Account,--,USD,--,--")
    return "\n".join(lines).encode()


def meta_export(first: int, days: int) -> bytes:
    header = "Reporting starts,Reporting ends,Campaign name,Day,Amount spent (EUR)"
    lines = [f"{header},Purchases conversion value"]
    for i in range(first, first + days):
        day = (START + timedelta(days=i)).isoformat()
        lines.append(f"{START},{START + timedelta(days=90)},Prospecting,{day},{50 + i},{3 * i}")
    return "\n".join(lines).encode()


def user_revenue(days: int, *, step: int = 1) -> pl.DataFrame:
    rows = "\n".join(
        f"{START + timedelta(days=i * step)},{5000 + 7 * i},{i % 2}" for i in range(days)
    )
    return read_table(f"date,revenue,promo\n{rows}\n".encode())


def test_combined_exports_fit_the_canonical_shape() -> None:
    google = import_export("google_ads", google_export(28), channel="search")
    meta = import_export("meta", meta_export(3, 20), currency="USD", fx_rates={"EUR": 1.1})
    combined = combine([google, meta], kpi=user_revenue(28))
    assert combined.columns == [
        "date",
        "spend_search",
        "spend_meta",
        "revenue",
        "attributed_search",
        "attributed_meta",
        "promo",
    ]
    dataset = canonicalise(combined)
    assert dataset.frequency == "daily"
    assert dataset.periods == 28
    assert dataset.channels == ("search", "meta")
    assert dataset.controls == ("promo",)
    spend = dataset.frame
    assert spend["spend_search"][4] == 0.0  # the day Google left out
    assert spend["spend_search"][5] == pytest.approx(1050.5 + 20.0)
    assert spend["spend_meta"].to_list()[:3] == [0.0, 0.0, 0.0]  # before the Meta export starts
    assert spend["spend_meta"][3] == pytest.approx(53 * 1.1)
    assert spend["attributed_meta"][22] == pytest.approx(66 * 1.1)
    assert spend["spend_meta"][23] == 0.0
    model_input = to_model_input(dataset, controls=[])
    assert model_input.data.kpi[0] == 5000.0
    assert set(model_input.attributed) == {"search", "meta"}


def test_platforms_are_summed_into_the_kpi_weeks() -> None:
    google = import_export("google_ads", google_export(21), channel="search")
    weekly = combine([google], kpi=user_revenue(3, step=7))
    assert weekly["date"].to_list() == [START, START + timedelta(days=7), START + timedelta(14)]
    daily = google["spend_search"].to_list()
    expected = [sum(daily[week * 7 : week * 7 + 7]) for week in range(3)]
    assert weekly["spend_search"].to_list() == pytest.approx(expected)


def test_combine_without_kpi_is_daily_and_gap_free() -> None:
    google = import_export("google_ads", google_export(5), channel="search")
    late = import_export("meta", meta_export(10, 3))
    combined = combine([google, late])
    assert combined.height == 13
    assert combined.columns == [
        "date",
        "spend_search",
        "spend_meta",
        "attributed_search",
        "attributed_meta",
    ]
    assert combined["spend_search"][7] == 0.0
    assert combined["spend_meta"][7] == 0.0


def test_combine_refuses_ambiguous_inputs() -> None:
    google = import_export("google_ads", google_export(5))
    with pytest.raises(DataError, match="comes from frames 1 and 2; pass channel=") as info:
        combine([google, google])
    assert info.value.field == "spend_google_ads"
    with pytest.raises(DataError, match="national") as info:
        combine([google], kpi=user_revenue(5).with_columns(geo=pl.lit("north")))
    assert info.value.field == "geo"
    with pytest.raises(DataError, match="'revenue' and/or 'conversions'") as info:
        combine([google], kpi=user_revenue(5).drop("revenue"))
    assert info.value.field == "kpi"
    dotted = ["2024-01-01", "05.01.2024", "2024-01-03", "2024-01-04", "2024-01-05"]
    kpi = user_revenue(5).with_columns(date=pl.Series(dotted))
    with pytest.raises(DataError, match=re.escape("row 2: '05.01.2024' is not a date")) as info:
        combine([google], kpi=kpi)
    assert info.value.field == "date"
    with pytest.raises(DataError, match="nothing to combine"):
        combine([])

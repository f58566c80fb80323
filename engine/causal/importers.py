"""Ad-platform report exports turned into canonical columns, one row per day.

Each importer reads the CSV a marketer downloads from the platform's UI (header names, number
formats, title and total lines as the platforms write them; the mapping is documented in
``docs/causal-data.md``), sums campaigns per day, converts money into one currency and fills
days the export left out (platforms omit days without delivery) with zeros. Platforms report
what they *claim* to have caused, never the business's actual revenue: their conversion value
becomes ``attributed_<channel>``, and :func:`combine` joins the exports to the user's own KPI.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Literal

import polars as pl

from engine.causal.columns import ATTRIBUTED_PREFIX, CHANNEL_NAME, KPI_COLUMNS, SPEND_PREFIX
from engine.causal.data import DataError
from engine.causal.tables import csv_frame, decode_text, sniff_separator

Source = Literal["google_ads", "meta", "tiktok", "klaviyo"]

_HEADER_SEARCH_LINES = 20  # Google Ads puts a report title and a date-range line above the header
_NONE_TOKENS = ("", "--", "-", "—", "n/a", "na", "none", "null")  # platform spellings of "nothing"
_MONEY_NOISE = re.compile(r"[,\s\u00a0\u202f$€£¥]")  # thousands separators and currency symbols
_ROW = "__liftos_row"


@dataclass(frozen=True)
class ExportFormat:
    """Where one platform's export keeps each quantity: header aliases, first present wins."""

    label: str
    date: tuple[str, ...]
    spend: tuple[str, ...]
    value: tuple[str, ...]
    conversions: tuple[str, ...]
    currency: tuple[str, ...]
    recipients: tuple[str, ...] = ()


FORMATS: Mapping[Source, ExportFormat] = MappingProxyType(
    {
        "google_ads": ExportFormat(
            label="Google Ads",
            date=("Day", "Date"),
            spend=("Cost",),
            value=("Conv. value", "Conversion value", "Total conv. value", "All conv. value"),
            conversions=("Conversions", "All conv."),
            currency=("Currency code", "Currency"),
        ),
        "meta": ExportFormat(
            label="Meta Ads Manager",
            date=("Day", "Date", "Reporting starts"),
            spend=("Amount spent",),  # matched with or without the "(USD)" currency suffix
            value=(
                "Purchases conversion value",
                "Website purchases conversion value",
                "Purchase conversion value",
                "Conversion value",
            ),
            conversions=("Purchases", "Website purchases", "Results"),
            currency=("Currency",),
        ),
        "tiktok": ExportFormat(
            label="TikTok Ads Manager",
            date=("By Day", "Date", "Day", "stat_time_day"),
            spend=("Cost", "Total cost", "spend"),
            value=(
                "Total complete payment value",
                "Complete payment value",
                "Total Complete Payment",
                "Total purchase value",
                "Purchase value",
            ),
            conversions=("Conversions", "Complete payment", "Purchases"),
            currency=("Currency",),
        ),
        "klaviyo": ExportFormat(
            label="Klaviyo",
            date=("Send Time", "Send Date", "Sent At", "Date"),
            spend=(),
            value=("Revenue", "Placed Order Value", "Conversion Value"),
            conversions=(
                "Unique Placed Order",
                "Placed Order",
                "Unique Conversions",
                "Conversions",
            ),
            currency=("Currency",),
            recipients=("Total Recipients", "Recipients", "Successful Deliveries"),
        ),
    }
)

_META_SPEND = re.compile(r"amount spent(?:\s*\(([a-z]{3})\))?", re.IGNORECASE)


def _key(header: str) -> str:
    return " ".join(header.lower().split())


def _find(columns: Sequence[str], aliases: Sequence[str]) -> str | None:
    by_key = {_key(column): column for column in columns}
    for alias in aliases:
        if _key(alias) in by_key:
            return by_key[_key(alias)]
    return None


def _require(columns: Sequence[str], aliases: Sequence[str], label: str) -> str:
    found = _find(columns, aliases)
    if found is None:
        raise DataError(
            aliases[0],
            f"the {label} export has no {' / '.join(repr(a) for a in aliases)} column "
            f"(found: {', '.join(columns)})",
        )
    return found


def _header_start(text: str, export: ExportFormat) -> int:
    """Offset of the header line: the first line naming a date column (title lines precede)."""
    wanted = {_key(alias) for alias in export.date}
    offset = 0
    for _ in range(_HEADER_SEARCH_LINES):
        end = text.find("\n", offset)
        line = text[offset : len(text) if end < 0 else end].rstrip("\r")
        if line.strip():
            cells = next(csv.reader([line], delimiter=sniff_separator(line)), [])
            if any(_key(cell) in wanted for cell in cells):
                return offset
        if end < 0:
            break
        offset = end + 1
    aliases = " / ".join(repr(a) for a in export.date)
    raise DataError(
        export.date[0],
        f"no header line with a {aliases} column in the first {_HEADER_SEARCH_LINES} lines of "
        f"the {export.label} export; export the report broken down by day",
    )


def parse_export_dates(values: pl.Series, rows: pl.Series, column: str) -> pl.Series:
    """Dates as platforms write them: ``2024-01-05``, ``2024/01/05``, ``Jan 5, 2024``,
    ``Fri, Jan 5, 2024``, ``5 Jan 2024``, ``20240105``, each optionally followed by a time.

    Slash dates with the day or month first (``01/05/2024``) are refused: they are ambiguous.
    """
    text = values.cast(pl.String).str.strip_chars()
    iso = text.str.extract(r"^(\d{4}-\d{1,2}-\d{1,2})(?:[T ].*)?$").str.to_date(
        "%Y-%m-%d", strict=False
    )
    slashed = text.str.extract(r"^(\d{4}/\d{1,2}/\d{1,2})(?:[T ].*)?$").str.to_date(
        "%Y/%m/%d", strict=False
    )
    compact = text.str.extract(r"^(\d{8})$").str.to_date("%Y%m%d", strict=False)
    month_first = (
        text.str.extract(r"^(?:[A-Za-z]{3,9},?\s+)?([A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{4})")
        .str.replace_all(r"[.,]", "")
        .str.replace_all(r"\s+", " ")
    )
    day_first = (
        text.str.extract(r"^(\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+\d{4})")
        .str.replace_all(r"[.,]", "")
        .str.replace_all(r"\s+", " ")
    )
    parsed = pl.select(
        pl.coalesce(
            pl.lit(iso),
            pl.lit(slashed),
            pl.lit(compact),
            pl.lit(month_first).str.to_date("%b %d %Y", strict=False),
            pl.lit(month_first).str.to_date("%B %d %Y", strict=False),
            pl.lit(day_first).str.to_date("%d %b %Y", strict=False),
            pl.lit(day_first).str.to_date("%d %B %Y", strict=False),
        )
    ).to_series()
    bad = parsed.is_null().arg_true()
    if bad.len():
        index = int(bad[0])
        shown = values[index]
        problem = (
            "the date is missing"
            if shown is None or not str(shown).strip()
            else (
                f"{shown!r} is not a date (accepted: 2024-01-05, 2024/01/05, Jan 5, 2024, "
                "5 Jan 2024, 20240105)"
            )
        )
        raise DataError(column, f"row {rows[index]}: {problem}")
    return parsed.alias("date")


def parse_export_numbers(values: pl.Series, rows: pl.Series, column: str) -> pl.Series:
    """Amounts as exports write them: ``1,234.56``, ``$12``, ``--`` or blank for none (0)."""
    text = values.cast(pl.String).str.strip_chars()
    nothing = text.is_null() | text.str.to_lowercase().is_in(list(_NONE_TOKENS))
    parsed = text.str.replace_all(_MONEY_NOISE.pattern, "").cast(pl.Float64, strict=False)
    bad = (~nothing & (parsed.is_null() | ~parsed.is_finite())).arg_true()
    if bad.len():
        index = int(bad[0])
        raise DataError(column, f"row {rows[index]}: {values[index]!r} is not a number")
    return pl.select(pl.when(pl.lit(nothing)).then(0.0).otherwise(pl.lit(parsed))).to_series()


def _currency_rates(
    currencies: pl.Series,
    rows: pl.Series,
    column: str,
    target: str | None,
    fx_rates: Mapping[str, float],
) -> pl.Series | float:
    """Per-row multipliers into ``target`` (units of target per unit of the row's currency)."""
    codes = currencies.cast(pl.String).str.strip_chars().str.to_uppercase()
    missing = codes.is_null() | codes.is_in(["", "--"])
    if missing.any():
        index = int(missing.arg_true()[0])
        raise DataError(column, f"row {rows[index]}: the currency is missing")
    found = sorted(codes.unique().to_list())
    if target is None:
        if len(found) > 1:
            raise DataError(
                "currency",
                f"the export mixes {', '.join(found)}; pass currency= and fx_rates to convert",
            )
        return 1.0
    rates = {code: _rate(code, target, fx_rates) for code in found}
    return codes.replace_strict(rates, return_dtype=pl.Float64)


def _rate(code: str, target: str, fx_rates: Mapping[str, float]) -> float:
    if code == target:
        return 1.0
    normalised = {key.strip().upper(): value for key, value in fx_rates.items()}
    if code not in normalised:
        raise DataError(
            "currency",
            f"the export is in {code} but no exchange rate to {target} was given: pass "
            f"fx_rates={{'{code}': <{target} per {code}>}} (have: "
            f"{', '.join(sorted(normalised)) or 'none'})",
        )
    rate = float(normalised[code])
    if not (math.isfinite(rate) and rate > 0):
        raise DataError("currency", f"the {code} exchange rate must be positive, got {rate}")
    return rate


def import_export(
    source: Source,
    content: bytes,
    *,
    filename: str | None = None,
    channel: str | None = None,
    currency: str | None = None,
    fx_rates: Mapping[str, float] | None = None,
    cost_per_recipient: float = 0.0,
) -> pl.DataFrame:
    """One platform export as ``date, spend_<channel>[, attributed_<channel>][, conversions]``.

    ``channel`` names the channel (default: the source). ``currency`` is the currency of the
    result; money in another currency is converted with ``fx_rates`` (units of ``currency`` per
    unit of the file's), and an export that does not say its currency is taken to be in
    ``currency`` already. Klaviyo reports no spend: ``cost_per_recipient`` (in ``currency``)
    times recipients is its spend, zero by default. ``conversions`` is the platform's own count,
    kept for a single-platform look; :func:`combine` drops it in favour of the user's KPI.
    ``filename`` is only used in messages.
    """
    if source not in FORMATS:
        raise DataError("source", f"unknown source {source!r}; one of {', '.join(FORMATS)}")
    export = FORMATS[source]
    name = channel if channel is not None else source
    if not CHANNEL_NAME.fullmatch(name):
        raise DataError("channel", f"{name!r} must be 1-40 characters of a-z, 0-9 and _")
    target = currency.strip().upper() if currency else None
    if not (math.isfinite(cost_per_recipient) and cost_per_recipient >= 0):
        raise DataError("cost_per_recipient", f"must be zero or positive, got {cost_per_recipient}")
    if not content:
        raise DataError("file", f"{filename or 'the upload'} is empty")
    text = decode_text(content)
    frame = csv_frame(text[_header_start(text, export) :], field="file")
    columns = frame.columns
    date_column = _find(columns, [c for c in export.date if _key(c) != "reporting starts"])
    date_column = date_column or _require(columns, export.date, export.label)
    # Totals that exports append ("Total: Account", "Total of 12 results") are not days.
    first_column = columns[0]
    is_total = pl.col(first_column).str.strip_chars().str.to_lowercase().str.starts_with(
        "total"
    ) | pl.col(date_column).str.strip_chars().str.to_lowercase().str.starts_with("total")
    frame = frame.with_row_index(_ROW, offset=1).filter(~is_total.fill_null(False))
    if frame.height == 0:
        raise DataError("file", f"the {export.label} export has no day rows")
    rows = frame[_ROW]
    dates = parse_export_dates(frame[date_column], rows, date_column)
    if _key(date_column) == "reporting starts":
        _check_single_days(frame, dates, columns, export)

    spend_column, header_currency = _spend_column(columns, export, source)
    currency_column = _find(columns, export.currency)
    if currency_column is not None:
        rate: pl.Series | float = _currency_rates(
            frame[currency_column], rows, currency_column, target, fx_rates or {}
        )
    elif header_currency is not None and target is not None:
        rate = _rate(header_currency, target, fx_rates or {})
    else:
        rate = 1.0

    money = pl.lit(rate) if isinstance(rate, pl.Series) else pl.lit(rate, dtype=pl.Float64)
    measures: dict[str, pl.Expr] = {}
    if spend_column is not None:
        measures[f"{SPEND_PREFIX}{name}"] = (
            pl.lit(parse_export_numbers(frame[spend_column], rows, spend_column)) * money
        )
    else:
        recipients_column = _find(columns, export.recipients)
        if cost_per_recipient > 0:
            recipients_column = _require(columns, export.recipients, export.label)
        recipients = (
            pl.lit(parse_export_numbers(frame[recipients_column], rows, recipients_column))
            if recipients_column is not None
            else pl.lit(0.0)
        )
        measures[f"{SPEND_PREFIX}{name}"] = recipients * cost_per_recipient
    value_column = _find(columns, export.value)
    if source == "klaviyo":
        value_column = _require(columns, export.value, export.label)
    if value_column is not None:
        measures[f"{ATTRIBUTED_PREFIX}{name}"] = (
            pl.lit(parse_export_numbers(frame[value_column], rows, value_column)) * money
        )
    conversions_column = _find(columns, export.conversions)
    if conversions_column is not None:
        measures["conversions"] = pl.lit(
            parse_export_numbers(frame[conversions_column], rows, conversions_column)
        )

    daily = (
        pl.DataFrame({"date": dates})
        .with_columns(**{column: expr.cast(pl.Float64) for column, expr in measures.items()})
        .group_by("date")
        .agg(pl.all().sum())
    )
    return _fill_days(daily, list(measures))


def _spend_column(
    columns: Sequence[str], export: ExportFormat, source: Source
) -> tuple[str | None, str | None]:
    """The spend header and, for Meta's ``Amount spent (USD)``, the currency it names."""
    if not export.spend:
        return None, None
    if source == "meta":
        for column in columns:
            match = _META_SPEND.fullmatch(column.strip())
            if match:
                code = match.group(1)
                return column, code.upper() if code else None
    return _require(columns, export.spend, export.label), None


def _check_single_days(
    frame: pl.DataFrame, starts: pl.Series, columns: Sequence[str], export: ExportFormat
) -> None:
    """Meta rows without a Day breakdown cover the whole reporting window: not daily data."""
    ends_column = _find(columns, ("Reporting ends",))
    if ends_column is None:
        return
    ends = parse_export_dates(frame[ends_column], frame[_ROW], ends_column)
    spans = (ends != starts).arg_true()
    if spans.len():
        index = int(spans[0])
        raise DataError(
            ends_column,
            f"row {frame[_ROW][index]} covers {starts[index]}..{ends[index]}, not one day; "
            f"export the {export.label} report with the Breakdown → By time → Day option",
        )


def _fill_days(daily: pl.DataFrame, measures: Sequence[str]) -> pl.DataFrame:
    """Every day from the first to the last, zero where the export had no row (no delivery)."""
    days = daily["date"].sort()
    every_day = pl.DataFrame({"date": pl.date_range(days[0], days[-1], "1d", eager=True)})
    return (
        every_day.join(daily, on="date", how="left")
        .with_columns(pl.col(list(measures)).fill_null(0.0))
        .select("date", *measures)
    )


def combine(frames: Sequence[pl.DataFrame], *, kpi: pl.DataFrame | None = None) -> pl.DataFrame:
    """Join platform frames from :func:`import_export` on date, with the user's KPI if given.

    Spend and attributed value of days a platform did not report are 0. Platform conversion
    counts are dropped: each platform claims the same sales, so they are neither the KPI nor a
    control. ``kpi`` is the user's own table (``date`` plus ``revenue`` and/or ``conversions``,
    and any controls or offline ``spend_`` channels); its rows and dates decide the result's
    rows, and daily platform data is summed into its weeks when it is weekly (a week is labelled
    by its first day). The result is ready for :func:`engine.causal.canonical.canonicalise`.
    """
    owners: dict[str, int] = {}
    platform: pl.DataFrame | None = None
    for position, frame in enumerate(frames, start=1):
        if "date" not in frame.columns or frame["date"].dtype != pl.Date:
            raise DataError("frames", f"frame {position} has no date column of dates")
        kept = [c for c in frame.columns if c.startswith((SPEND_PREFIX, ATTRIBUTED_PREFIX))]
        for column in kept:
            if column in owners:
                raise DataError(
                    column,
                    f"comes from frames {owners[column]} and {position}; pass channel= to "
                    "import_export to tell the exports apart",
                )
            owners[column] = position
        part = frame.select("date", *kept).group_by("date").agg(pl.all().sum())
        platform = (
            part if platform is None else platform.join(part, on="date", how="full", coalesce=True)
        )
    measures = list(owners)
    if platform is not None:
        platform = _fill_days(platform, measures)
    if kpi is None:
        if platform is None:
            raise DataError("frames", "nothing to combine")
        return _ordered(platform)
    user = _user_kpi(kpi, owners)
    if platform is None:
        return _ordered(user)
    platform = _to_periods(platform, user["date"], measures)
    joined = user.with_row_index(_ROW).join(platform, on="date", how="left")
    return _ordered(joined.sort(_ROW).drop(_ROW).with_columns(pl.col(measures).fill_null(0.0)))


def _user_kpi(kpi: pl.DataFrame, platform_columns: Mapping[str, int]) -> pl.DataFrame:
    if "date" not in kpi.columns:
        raise DataError(
            "date", f"the KPI table has no 'date' column (found: {', '.join(kpi.columns)})"
        )
    if not any(k in kpi.columns for k in KPI_COLUMNS):
        raise DataError(
            "kpi",
            "the KPI table needs a 'revenue' and/or 'conversions' column "
            f"(found: {', '.join(kpi.columns)})",
        )
    if "geo" in kpi.columns:
        raise DataError(
            "geo", "platform exports are national; combine them with a national KPI table"
        )
    clash = sorted(set(kpi.columns) & set(platform_columns))
    if clash:
        raise DataError(clash[0], "is both in the KPI table and in a platform export")
    if kpi["date"].dtype == pl.Date:
        return kpi
    rows = pl.Series(_ROW, range(1, kpi.height + 1))
    return kpi.with_columns(parse_export_dates(kpi["date"], rows, "date"))


def _to_periods(
    platform: pl.DataFrame, periods: pl.Series, measures: Sequence[str]
) -> pl.DataFrame:
    """Sum daily platform data into the KPI's weeks when the KPI is weekly."""
    distinct = periods.unique().sort()
    if distinct.len() < 2 or distinct.diff().dt.total_days().min() != 7:
        return platform
    anchor: date = distinct[0]
    days_in = (pl.col("date") - pl.lit(anchor)).dt.total_days()
    week_start = pl.lit(anchor) + pl.duration(days=(days_in // 7) * 7)
    return (
        platform.with_columns(week_start.alias("date"))
        .group_by("date")
        .agg(pl.col(list(measures)).sum())
    )


def _ordered(frame: pl.DataFrame) -> pl.DataFrame:
    """date, spend_*, KPIs, attributed_*, then everything else (controls) in original order."""
    columns = frame.columns
    spend = [c for c in columns if c.startswith(SPEND_PREFIX)]
    kpis = [c for c in KPI_COLUMNS if c in columns]
    attributed = [c for c in columns if c.startswith(ATTRIBUTED_PREFIX)]
    rest = [c for c in columns if c not in {"date", *spend, *kpis, *attributed}]
    return frame.select("date", *spend, *kpis, *attributed, *rest)

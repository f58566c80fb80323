"""A canonical dataset selected for a fit: national model input or a per-geo panel."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

import numpy as np
import polars as pl
from numpy.typing import NDArray

from engine.causal.canonical import STEP_DAYS, CanonicalDataset, Frequency
from engine.causal.columns import ATTRIBUTED_PREFIX, SPEND_PREFIX
from engine.causal.data import DataError, LiftTest, MMMData, minimum_periods
from engine.causal.periods import LiftTestInput


@dataclass(frozen=True, eq=False)
class ModelInput:
    """What a national fit needs, plus the dates and platform claims to report against."""

    data: MMMData
    dates: tuple[date, ...]
    frequency: Frequency
    kpi: str
    attributed: Mapping[str, NDArray[np.float64]]


@dataclass(frozen=True, eq=False)
class GeoPanel:
    """Per-geo arrays for the hierarchical model; geos and dates in the dataset's sorted order."""

    geos: tuple[str, ...]
    channels: tuple[str, ...]
    dates: tuple[date, ...]
    spend: NDArray[np.float64]  # (geos, periods, channels)
    kpi: NDArray[np.float64]  # (geos, periods)
    controls: NDArray[np.float64]  # (geos, periods, controls)
    control_names: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class _Selection:
    frame: pl.DataFrame
    channels: tuple[str, ...]
    kpi: str
    controls: tuple[str, ...]
    dates: tuple[date, ...]
    filtered: bool


def _choose(
    asked: Sequence[str] | None, available: tuple[str, ...], field: str, *, allow_none: bool
) -> tuple[str, ...]:
    if asked is None:
        return available
    if isinstance(asked, str):
        raise DataError(field, f"must be a list of names, got the string {asked!r}")
    chosen = tuple(asked)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise DataError(
            field,
            f"unknown {', '.join(map(repr, unknown))}; the dataset has "
            f"{', '.join(available) or 'none'}",
        )
    if len(set(chosen)) != len(chosen):
        raise DataError(field, "a name is listed twice")
    if not chosen and not allow_none:
        raise DataError(field, "choose at least one")
    return chosen


def _select(
    dataset: CanonicalDataset,
    channels: Sequence[str] | None,
    kpi: str,
    controls: Sequence[str] | None,
    start: date | None,
    end: date | None,
) -> _Selection:
    chosen_channels = _choose(channels, dataset.channels, "channels", allow_none=False)
    if kpi not in dataset.kpis:
        raise DataError("kpi", f"{kpi!r} is not in the dataset (it has {', '.join(dataset.kpis)})")
    chosen_controls = _choose(controls, dataset.controls, "controls", allow_none=True)
    frame = dataset.frame
    filtered = start is not None or end is not None
    if filtered:
        if start is not None and end is not None and start > end:
            raise DataError("date_range", f"starts {start}, after its end {end}")
        first, last = start or dataset.start, end or dataset.end
        if last < dataset.start or first > dataset.end:
            raise DataError(
                "date_range",
                f"{first}..{last} lies outside the data ({dataset.start}..{dataset.end})",
            )
        frame = frame.filter(pl.col("date").is_between(first, last))
        periods = frame["date"].n_unique()
        needed = minimum_periods(len(chosen_channels))
        if periods < needed:
            raise DataError(
                "date_range",
                f"{first}..{last} leaves {periods} periods; {len(chosen_channels)} channels "
                f"need at least {needed}",
            )
    dates = tuple(frame["date"].unique().sort().to_list())
    return _Selection(frame, chosen_channels, kpi, chosen_controls, dates, filtered)


def _matrix(frame: pl.DataFrame, columns: Sequence[str]) -> NDArray[np.float64]:
    if not columns:
        return np.zeros((frame.height, 0), dtype=np.float64)
    return np.ascontiguousarray(frame.select(columns).to_numpy(), dtype=np.float64)


def _lift_tests(
    tests: Sequence[LiftTestInput], selection: _Selection, frequency: Frequency
) -> tuple[LiftTest, ...]:
    """Map stated experiments onto period indices: a period is the one containing the date
    (a weekly row's date is the first day of its week)."""
    starts = np.array(selection.dates, dtype="datetime64[D]")
    covered_until = selection.dates[-1] + timedelta(days=STEP_DAYS[frequency] - 1)
    mapped = []
    for test in tests:  # a handful of experiments, not rows
        if test.channel not in selection.channels:
            raise DataError(
                "lift_tests",
                f"{test.channel!r} is not among the selected channels "
                f"({', '.join(selection.channels)})",
            )
        if test.start < selection.dates[0] or test.end > covered_until:
            raise DataError(
                "lift_tests",
                f"the {test.channel} test {test.start}..{test.end} is not inside the selected "
                f"range {selection.dates[0]}..{covered_until}",
            )
        first, last = (
            np.searchsorted(
                starts, np.array([test.start, test.end], dtype="datetime64[D]"), side="right"
            )
            - 1
        )
        mapped.append(
            LiftTest(test.channel, int(first), int(last), test.incremental_kpi, test.standard_error)
        )
    return tuple(mapped)


_PERIOD_INDEX = re.compile(r"\bperiod (\d+)\b")


def to_model_input(
    dataset: CanonicalDataset,
    *,
    channels: Sequence[str] | None = None,
    kpi: str = "revenue",
    controls: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    lift_tests: Sequence[LiftTestInput] = (),
    extra_controls: tuple[Sequence[str], NDArray[np.float64]] | None = None,
) -> ModelInput:
    """The national model input for a selection of the dataset.

    Geos are summed for spend, KPI and attributed revenue (they add up to the nation) and
    averaged for controls (a price or a promotion flag does not add up). A range partly outside
    the data is clipped to it; ``ModelInput.dates`` says which periods were used.
    ``extra_controls`` are ``(names, values)`` with one row per selected period, appended to the
    chosen controls (calendar effects computed elsewhere).
    """
    selection = _select(dataset, channels, kpi, controls, start, end)
    spend_columns = [f"{SPEND_PREFIX}{c}" for c in selection.channels]
    attributed = [c for c in selection.channels if c in dataset.attributed]
    attributed_columns = [f"{ATTRIBUTED_PREFIX}{c}" for c in attributed]
    national = selection.frame
    if dataset.geos:
        national = (
            national.group_by("date")
            .agg(
                [pl.col(c).sum() for c in (*spend_columns, kpi, *attributed_columns)]
                + [pl.col(c).mean() for c in selection.controls]
            )
            .sort("date")
        )
    periods = national.height
    control_names = selection.controls
    control_values = _matrix(national, selection.controls)
    if extra_controls is not None:
        extra_names, extra_values = tuple(extra_controls[0]), np.asarray(extra_controls[1])
        if extra_values.ndim != 2 or extra_values.shape != (periods, len(extra_names)):
            raise DataError(
                "controls",
                f"extra controls have shape {extra_values.shape}; the selection needs "
                f"({periods}, {len(extra_names)}): one row per period, one column per name",
            )
        clash = sorted(set(extra_names) & set(control_names)) or sorted(
            {n for n in extra_names if extra_names.count(n) > 1}
        )
        if clash:
            raise DataError("controls", f"extra control {clash[0]!r} is already a control")
        control_names = control_names + extra_names
        control_values = np.hstack([control_values, extra_values.astype(np.float64)])
    needed = minimum_periods(len(selection.channels), len(control_names))
    if periods < needed:
        raise DataError(
            "date_range" if selection.filtered else "controls",
            f"{periods} periods are too few for {len(selection.channels)} channels and "
            f"{len(control_names)} controls: need at least {needed}; "
            "choose fewer controls or channels, or a longer range",
        )
    try:
        data = MMMData(
            channels=selection.channels,
            spend=_matrix(national, spend_columns),
            kpi=np.ascontiguousarray(national[kpi].to_numpy(), dtype=np.float64),
            controls=control_values,
            control_names=control_names,
            lift_tests=_lift_tests(lift_tests, selection, dataset.frequency),
        )
    except DataError as error:
        raise _with_dates(error, selection, kpi) from None
    claims = {c: _matrix(national, [f"{ATTRIBUTED_PREFIX}{c}"])[:, 0] for c in attributed}
    return ModelInput(
        data=data,
        dates=selection.dates,
        frequency=dataset.frequency,
        kpi=kpi,
        attributed=MappingProxyType(claims),
    )


def _with_dates(error: DataError, selection: _Selection, kpi: str) -> DataError:
    """Restate an :class:`MMMData` error (period indices, bare channel names) in dataset terms."""
    field = error.field
    if field in selection.channels:
        field = f"{SPEND_PREFIX}{field}"
    elif field == "kpi":
        field = kpi
    message = str(error).removeprefix(f"{error.field}: ")
    message = _PERIOD_INDEX.sub(
        lambda m: (
            f"{selection.dates[int(m.group(1))]}"
            if int(m.group(1)) < len(selection.dates)
            else m.group(0)
        ),
        message,
    )
    if field == kpi:  # canonicalise saw a non-zero KPI: the selected range is what is empty
        message = message.replace(
            "in every period", f"in every period of {selection.dates[0]}..{selection.dates[-1]}"
        )
    return DataError(field, message)


def to_geo_panel(
    dataset: CanonicalDataset,
    *,
    channels: Sequence[str] | None = None,
    kpi: str = "revenue",
    controls: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> GeoPanel:
    """Per-geo arrays; the canonical frame is sorted by (geo, date) with equal dates per geo,
    so each column reshapes straight into (geos, periods)."""
    if not dataset.geos:
        raise DataError("geo", "the dataset has no geo column; a geo panel needs one row per geo")
    selection = _select(dataset, channels, kpi, controls, start, end)
    shape = (len(dataset.geos), len(selection.dates))
    spend_columns = [f"{SPEND_PREFIX}{c}" for c in selection.channels]
    frame = selection.frame
    return GeoPanel(
        geos=dataset.geos,
        channels=selection.channels,
        dates=selection.dates,
        spend=_matrix(frame, spend_columns).reshape(*shape, len(spend_columns)),
        kpi=_matrix(frame, [kpi]).reshape(shape),
        controls=_matrix(frame, selection.controls).reshape(*shape, len(selection.controls)),
        control_names=selection.controls,
    )

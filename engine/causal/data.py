"""The canonical input of a marketing-mix model, validated once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


class DataError(ValueError):
    """Bad input; ``field`` names the column (or ``rows``) and the message says what and where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class LiftTest:
    """An experiment: turning ``channel`` on (or its spend up) during periods ``start..end``
    (inclusive indices) caused ``incremental_kpi`` ± ``standard_error``."""

    channel: str
    start: int
    end: int
    incremental_kpi: float
    standard_error: float


def _check_lift_tests(
    lift_tests: tuple[LiftTest, ...], channels: tuple[str, ...], periods: int
) -> None:
    for test in lift_tests:
        if test.channel not in channels:
            raise DataError("lift_tests", f"unknown channel {test.channel!r}")
        if not 0 <= test.start <= test.end < periods:
            raise DataError(
                "lift_tests", f"period range {test.start}..{test.end} is outside the data"
            )
        if not test.standard_error > 0:
            raise DataError("lift_tests", "standard_error must be positive")


def minimum_periods(channels: int, controls: int = 0) -> int:
    """Periods a fit of ``channels`` media channels and ``controls`` controls needs.

    The one place of this rule: the model checks it, and validation of an upload applies it
    with the upload's channels (its controls may be deselected later), so an accepted upload
    can be fit with its channels alone.
    """
    return 4 * (channels + controls) + 8


def _check_size(periods: int, channels: int, controls: int) -> None:
    minimum = minimum_periods(channels, controls)
    if periods < minimum:
        raise DataError(
            "rows",
            f"{periods} periods are too few for {channels} channels and "
            f"{controls} controls (need at least {minimum})",
        )


@dataclass(frozen=True)
class MMMData:
    """Aligned arrays: ``spend`` is (periods, channels), ``controls`` (periods, controls)."""

    channels: tuple[str, ...]
    spend: NDArray[np.float64]
    kpi: NDArray[np.float64]
    controls: NDArray[np.float64]
    control_names: tuple[str, ...] = ()
    lift_tests: tuple[LiftTest, ...] = ()

    def __post_init__(self) -> None:
        periods = self.kpi.shape[0]
        if self.kpi.ndim != 1:
            raise DataError("kpi", "must be one value per period")
        if self.spend.shape != (periods, len(self.channels)):
            raise DataError("spend", f"expected shape ({periods}, {len(self.channels)})")
        if self.controls.shape != (periods, len(self.control_names)):
            raise DataError("controls", f"expected shape ({periods}, {len(self.control_names)})")
        if not self.channels:
            raise DataError("channels", "at least one media channel is required")
        for name, values in (("kpi", self.kpi), ("spend", self.spend), ("controls", self.controls)):
            bad = np.argwhere(~np.isfinite(values))
            if bad.size:
                raise DataError(name, f"non-numeric or missing value at period {int(bad[0][0])}")
        negative = np.argwhere(self.spend < 0)
        if negative.size:
            period, channel = (int(i) for i in negative[0])
            raise DataError(
                self.channels[channel],
                f"negative spend {self.spend[period, channel]} at period {period}",
            )
        if not np.any(self.kpi != 0):
            raise DataError("kpi", "is zero in every period; there is nothing to explain")
        _check_size(periods, len(self.channels), len(self.control_names))
        _check_lift_tests(self.lift_tests, self.channels, periods)

    @property
    def periods(self) -> int:
        return int(self.kpi.shape[0])


@dataclass(frozen=True)
class GeoMMMData:
    """A panel of geos sharing channels and periods: ``spend`` is (geos, periods, channels),
    ``kpi`` (geos, periods), ``controls`` (geos, periods, controls). Lift tests are national:
    their incremental KPI is the sum over all geos."""

    geos: tuple[str, ...]
    channels: tuple[str, ...]
    spend: NDArray[np.float64]
    kpi: NDArray[np.float64]
    controls: NDArray[np.float64]
    control_names: tuple[str, ...] = ()
    lift_tests: tuple[LiftTest, ...] = ()

    def __post_init__(self) -> None:
        if not self.geos:
            raise DataError("geos", "at least one geo is required")
        if len(set(self.geos)) != len(self.geos):
            raise DataError("geos", "geo names must be unique")
        if not self.channels:
            raise DataError("channels", "at least one media channel is required")
        if self.kpi.ndim != 2 or self.kpi.shape[0] != len(self.geos):
            raise DataError("kpi", f"expected shape ({len(self.geos)}, periods)")
        geos, periods = self.kpi.shape
        if self.spend.shape != (geos, periods, len(self.channels)):
            raise DataError("spend", f"expected shape ({geos}, {periods}, {len(self.channels)})")
        if self.controls.shape != (geos, periods, len(self.control_names)):
            raise DataError(
                "controls", f"expected shape ({geos}, {periods}, {len(self.control_names)})"
            )
        where = "geo {!r}, period {}"
        for name, values in (("kpi", self.kpi), ("spend", self.spend), ("controls", self.controls)):
            bad = np.argwhere(~np.isfinite(values))
            if bad.size:
                geo, period = int(bad[0][0]), int(bad[0][1])
                raise DataError(
                    name, f"non-numeric or missing value at {where.format(self.geos[geo], period)}"
                )
        negative = np.argwhere(self.spend < 0)
        if negative.size:
            geo, period, channel = (int(i) for i in negative[0])
            raise DataError(
                self.channels[channel],
                f"negative spend {self.spend[geo, period, channel]} at "
                f"{where.format(self.geos[geo], period)}",
            )
        silent = np.flatnonzero(~np.any(self.kpi != 0, axis=1))
        if silent.size:
            raise DataError("kpi", f"is zero in every period of geo {self.geos[int(silent[0])]!r}")
        _check_size(periods, len(self.channels), len(self.control_names))
        _check_lift_tests(self.lift_tests, self.channels, periods)

    @property
    def periods(self) -> int:
        return int(self.kpi.shape[1])

    def national(self) -> MMMData:
        """The panel summed over geos (controls averaged): the national view of the same data."""
        return MMMData(
            channels=self.channels,
            spend=self.spend.sum(axis=0),
            kpi=self.kpi.sum(axis=0),
            controls=self.controls.mean(axis=0),
            control_names=self.control_names,
            lift_tests=self.lift_tests,
        )

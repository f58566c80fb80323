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
        minimum = 4 * (len(self.channels) + len(self.control_names)) + 8
        if periods < minimum:
            raise DataError(
                "rows",
                f"{periods} periods are too few for {len(self.channels)} channels and "
                f"{len(self.control_names)} controls (need at least {minimum})",
            )
        for test in self.lift_tests:
            if test.channel not in self.channels:
                raise DataError("lift_tests", f"unknown channel {test.channel!r}")
            if not 0 <= test.start <= test.end < periods:
                raise DataError(
                    "lift_tests", f"period range {test.start}..{test.end} is outside the data"
                )
            if not test.standard_error > 0:
                raise DataError("lift_tests", "standard_error must be positive")

    @property
    def periods(self) -> int:
        return int(self.kpi.shape[0])

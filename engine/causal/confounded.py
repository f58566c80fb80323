"""A marketing-mix data set with a hidden confounder, and the experiments that correct for it.

The data-generating process is Juan Orduz's "Media Mix Model and Experimental Calibration: A
Simulation Study" (https://juanitorduz.github.io/mmm_roas/), whose data PyMC-Marketing ships as
``data/mmm_roas_data.csv`` for its notebook "Mitigating Unobserved Confounders in MMMs with Lift
Test Likelihoods". PyMC-Marketing is licensed under the Apache License 2.0; this module
re-implements the documented process (no code or data is copied) and keeps that notice.

Weekly KPI ``y`` (amplitude 100) is trend + seasonality + an unobserved confounder ``z`` + the
effects of two media channels + noise. ``z`` also drives the spend on ``x1`` (a marketer who
spends more when demand is high), so a model that cannot see ``z`` credits part of ``z``'s effect
to ``x1``: its ROAS is biased upwards. A lift test on ``x1`` measures the channel's effect
directly and, added to the likelihood, removes most of that bias.

What the process pins, checked row by row against the published file:
- trend ``(linspace(0, 50, n) + 10) ** (1/3) - 1``; seasonality ``0.3 * (cs + cc)`` with
  ``cs = -sin(2 * 2π doy / 365.25)``, ``cc = cos(2π doy / 365.25)`` (doy: day of the year);
- ``z = 0.3 * Gamma(shape=1, scale=2/3)``, i.e. exponential with mean 0.2 (Orduz's notebook);
- normalised geometric adstock over 4 weeks (alpha 0.3 for x1, 0.5 for x2), logistic saturation
  ``(1 - e^{-λx}) / (1 + e^{-λx})`` (λ 1.0 and 2.5), effect = β · saturated (β 2.0 and 1.5);
- ``y = 100 * (trend + seasonality + z + effect_x1 + effect_x2 + epsilon)``.

What is inferred from the file because the sources at hand do not state it (assumptions):
- ``x1 = 0.6 + 0.72 z + 0.48 seasonality + 0.12 k`` with ``k`` a non-negative integer per week:
  the file satisfies this to float precision with k in {0, 1, 2, 3} at counts 73/41/16/1, which
  fits ``k ~ Poisson(0.6)`` (maximum-likelihood rate on the file: 0.58);
- ``x2 ~ Exponential(mean 0.3)`` independent of everything (file: mean 0.299, sd 0.290);
- ``epsilon ~ Normal(0, 0.09)`` (file: sd 0.092).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from engine.causal.data import DataError, LiftTest, MMMData
from engine.causal.spec import RoasPrior

CHANNELS = ("x1", "x2")
AMPLITUDE = 100.0
ADSTOCK_MAX_LAG = 4
ADSTOCK_ALPHA = np.array([0.3, 0.5])
SATURATION_LAMBDA = np.array([1.0, 2.5])
EFFECT_BETA = np.array([2.0, 1.5])
CONFOUNDER_NAME = "z"

# The parts of the spend and noise processes inferred from the published file (see above).
_X1_BASE, _X1_ON_Z, _X1_ON_SEASON, _X1_STEP, _X1_STEP_RATE = 0.6, 0.72, 0.48, 0.12, 0.6
_X2_MEAN = 0.3
_NOISE_SD = 0.09

_CSV_COLUMNS = ("date", "x1", "x2", "y", "z", "y01", "y02")


@dataclass(frozen=True)
class ConfoundedSimulation:
    """One realisation of the process, with the answers a real analysis never has.

    ``data`` is what a model may see: spend on ``x1``, ``x2`` and the KPI ``y``, no controls.
    ``confounder`` (``z``) is kept apart for the oracle comparison only. ``channel_contribution``
    is ``y - y_without_channel`` per period and channel: the counterfactual a perfect
    experiment measures, and the source of ``true_roas``.
    """

    data: MMMData
    dates: NDArray[np.datetime64]
    confounder: NDArray[np.float64]
    channel_contribution: NDArray[np.float64]  # (periods, channels), in KPI units

    @property
    def true_roas(self) -> NDArray[np.float64]:
        """Per channel ``sum(y - y_without_channel) / sum(spend)``: the notebook's definition,
        which credits carry-over past the last week to nobody."""
        roas: NDArray[np.float64] = self.channel_contribution.sum(axis=0) / self.data.spend.sum(
            axis=0
        )
        return roas

    def true_roas_of(self, channel: str) -> float:
        return float(self.true_roas[self._channel_index(channel)])

    def incremental_kpi(self, channel: str, start: int, end: int) -> float:
        """The KPI the channel truly added in periods ``start..end`` (inclusive): what an
        experiment switching the channel off over that window would find, without noise."""
        index = self._channel_index(channel)
        if not 0 <= start <= end < self.data.periods:
            raise DataError(
                "lift_tests",
                f"window {start}..{end} is outside the {self.data.periods} periods of the data",
            )
        return float(self.channel_contribution[start : end + 1, index].sum())

    def lift_test(
        self, channel: str, *, start: int, end: int, standard_error: float, seed: int
    ) -> LiftTest:
        """An experiment on ``channel`` over ``start..end`` as one would really measure it: the
        true incremental KPI plus Gaussian noise with the stated standard error (seeded)."""
        if not (standard_error > 0 and math.isfinite(standard_error)):
            raise DataError("standard_error", f"must be positive and finite, got {standard_error}")
        truth = self.incremental_kpi(channel, start, end)
        measured = truth + standard_error * float(np.random.default_rng(seed).standard_normal())
        return LiftTest(
            channel=channel,
            start=start,
            end=end,
            incremental_kpi=measured,
            standard_error=standard_error,
        )

    def with_lift_tests(self, *tests: LiftTest) -> MMMData:
        """The model's data with ``tests`` in its likelihood (the confounder still hidden)."""
        return replace(self.data, lift_tests=tuple(tests))

    def with_spend_as_control(self, channel: str, *tests: LiftTest) -> MMMData:
        """The model's data with ``channel``'s own spend also entered as a control, plus
        ``tests``: the confounder stays hidden.

        Why: a marketer who spends more when demand is high makes spend carry a non-causal
        association with the KPI. The control gives that association a term of its own (linear,
        no carry-over, no saturation) beside the channel's causal response. The time series
        alone cannot tell the two apart, so without an experiment the channel's ROAS comes out
        wide (honestly unidentified) rather than precisely wrong; a lift test pins the causal
        part and the control takes the rest. Without the control, the model has to reconcile
        the experiment with a time series that the confounder makes look precise, and settles
        between the two.
        """
        index = self._channel_index(channel)
        return replace(
            self.data,
            controls=self.data.spend[:, index : index + 1],
            control_names=(f"{channel}_spend",),
            lift_tests=tuple(tests),
        )

    def with_confounder_as_control(self, *tests: LiftTest) -> MMMData:
        """The oracle: the same data with ``z`` given as a control, which closes the back-door
        path and so needs no experiment to be unbiased."""
        return replace(
            self.data,
            controls=self.confounder[:, None],
            control_names=(CONFOUNDER_NAME,),
            lift_tests=tuple(tests),
        )

    def _channel_index(self, channel: str) -> int:
        if channel not in self.data.channels:
            raise DataError("channel", f"unknown channel {channel!r}; have {self.data.channels}")
        return self.data.channels.index(channel)


def channel_effects(spend: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-period effect of each channel before the amplitude: β · logistic(adstock(spend)).

    Adstock is zero-padded before the first week, as in the published file.
    """
    lags = np.arange(ADSTOCK_MAX_LAG)[:, None]
    weights = ADSTOCK_ALPHA[None, :] ** lags
    weights = weights / weights.sum(axis=0, keepdims=True)
    # Written apart from the model's transforms, so a bug there cannot hide in the answer key:
    # window[t, c, l] = spend[t + l - (L - 1), c], reversed so that lag l pairs with weights[l].
    padded = np.vstack([np.zeros((ADSTOCK_MAX_LAG - 1, spend.shape[1])), spend])
    window = sliding_window_view(padded, ADSTOCK_MAX_LAG, axis=0)[:, :, ::-1]
    carried = np.einsum("tcl,lc->tc", window, weights)
    # tanh(λx/2) is (1 - e^{-λx}) / (1 + e^{-λx}) without overflow for large λx.
    effects: NDArray[np.float64] = EFFECT_BETA * np.tanh(SATURATION_LAMBDA * carried / 2.0)
    return effects


def simulate_confounded(
    *, seed: int, start: date = date(2021, 10, 2), periods: int = 131
) -> ConfoundedSimulation:
    """Draw one data set from the documented process (defaults: the published file's weeks)."""
    if periods < 2:
        raise DataError("periods", f"need at least 2 weekly periods, got {periods}")
    rng = np.random.default_rng(seed)
    dates = np.datetime64(start, "D") + 7 * np.arange(periods)
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    trend = (np.linspace(0.0, 50.0, periods) + 10.0) ** (1 / 3) - 1
    angle = 2 * np.pi * day_of_year / 365.25
    seasonality = 0.3 * (-np.sin(2 * angle) + np.cos(angle))
    confounder = 0.3 * rng.gamma(shape=1.0, scale=2 / 3, size=periods)
    # The draw order (z, x1 steps, x2, noise) is part of what a seed means; keep it.
    x1 = (
        _X1_BASE
        + _X1_ON_Z * confounder
        + _X1_ON_SEASON * seasonality
        + _X1_STEP * rng.poisson(_X1_STEP_RATE, size=periods)
    )
    x2 = rng.exponential(_X2_MEAN, size=periods)
    noise = rng.normal(0.0, _NOISE_SD, size=periods)
    spend = np.column_stack([x1, x2])
    contribution = AMPLITUDE * channel_effects(spend)
    kpi = AMPLITUDE * (trend + seasonality + confounder + noise) + contribution.sum(axis=1)
    data = MMMData(channels=CHANNELS, spend=spend, kpi=kpi, controls=np.zeros((periods, 0)))
    return ConfoundedSimulation(
        data=data, dates=dates, confounder=confounder, channel_contribution=contribution
    )


def load_pymc_marketing_csv(path: str | Path) -> ConfoundedSimulation:
    """The published file (``mmm_roas_data.csv`` of PyMC-Marketing, Apache-2.0) as the same
    container; its counterfactual columns ``y01``/``y02`` give the true channel contributions."""
    frame = pl.read_csv(path, infer_schema_length=None)
    missing = [c for c in _CSV_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(missing[0], f"column missing from {path}; need {', '.join(_CSV_COLUMNS)}")
    numeric = {}
    for column in _CSV_COLUMNS[1:]:
        values = frame.get_column(column).cast(pl.Float64, strict=False).to_numpy()
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(column, f"non-numeric or missing value at row {int(bad[0])} of {path}")
        numeric[column] = values
    dates = frame.get_column("date").cast(pl.Utf8).str.to_date(strict=False)
    if dates.null_count():
        row = int(np.flatnonzero(dates.is_null().to_numpy())[0])
        raise DataError("date", f"not an ISO date at row {row} of {path}")
    kpi = numeric["y"]
    contribution = np.column_stack([kpi - numeric["y01"], kpi - numeric["y02"]])
    data = MMMData(
        channels=CHANNELS,
        spend=np.column_stack([numeric["x1"], numeric["x2"]]),
        kpi=kpi,
        controls=np.zeros((kpi.shape[0], 0)),
    )
    return ConfoundedSimulation(
        data=data,
        dates=dates.to_numpy().astype("datetime64[D]"),
        confounder=numeric["z"],
        channel_contribution=contribution,
    )


def kpi_share_roas_priors(
    data: MMMData, *, share: float = 0.1, spread: float = 4.0
) -> dict[str, RoasPrior]:
    """A vague prior per channel from the data's own scale: "the channel drives about ``share``
    of the KPI", i.e. ROAS median ``share * sum(kpi) / sum(spend)``, with a wide ``spread``.

    The default RoasPrior (median 1) is meant for currency KPIs per currency spent; here one unit
    of spend buys around a hundred units of KPI, so a prior must first find the right scale.
    This one uses no knowledge of the truth.
    """
    totals = data.spend.sum(axis=0)
    kpi_total = float(data.kpi.sum())
    return {
        channel: RoasPrior(median=share * kpi_total / float(total), spread=spread)
        for channel, total in zip(data.channels, totals, strict=True)
        if total > 0
    }

"""What a fitted marketing-mix model says, in KPI units and with credible intervals.

Every quantity is computed once per posterior draw and only then summarised, so an interval of a
ratio (ROAS, shares, over-attribution) is the interval of the ratio, not a ratio of intervals.
All media answers go through the model's own response functions
(:func:`engine.causal.model.posterior_response` and
:func:`engine.causal.model.posterior_adstock_weights`) so they agree with the fit's decomposition.

"Current spend" is the mean spend per period over the fit window (the model's ``channel_scale``),
the same reference the budget optimiser defaults to. A recent window (say the last quarter) is
closer to "now" but, with flighting (weeks with no spend), too noisy to differentiate at; the fit
window is also where the curves are best informed by data.

Results are frozen dataclasses of plain floats, strings, tuples and ``None`` so that
``dataclasses.asdict`` gives JSON-serialisable output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from engine.causal.data import DataError, GeoMMMData, MMMData
from engine.causal.inference import Diagnostics, FitResult
from engine.causal.model import posterior_adstock_weights, posterior_response
from engine.causal.spec import ModelSpec

CURRENT_SPEND_BASIS = "mean spend per period over the fit window"
CARRYOVER_DELIVERED = 0.9
# Below this carried spend (in units of the channel's mean spend) the slope of a Hill curve with
# slope < 1 is unbounded; evaluating there keeps marginal returns finite for the optimiser.
_MIN_RELATIVE_SPEND = 1e-9


@dataclass(frozen=True)
class Interval:
    """Posterior mean and median with an equal-tailed credible interval."""

    mean: float
    median: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Carryover:
    """How a unit of spend is spread over the following periods (lag 0 = the period itself)."""

    weights: tuple[float, ...]  # posterior mean weight per lag
    weights_lower: tuple[float, ...]
    weights_upper: tuple[float, ...]
    periods_to_90_percent: Interval  # periods until 90 % of the effect has been delivered
    mean_lag: Interval  # average delay of the effect, in periods


@dataclass(frozen=True)
class ChannelAnalysis:
    channel: str
    spend: float  # total over the fit window
    incremental_kpi: Interval  # over the fit window
    contribution_share: Interval  # of the modelled (expected) KPI over the fit window
    roas: Interval | None  # incremental KPI / spend over the fit window; None without spend
    current_spend_per_period: float
    current_roas: Interval | None  # steady-state average return at the current spend rate
    marginal_roas: Interval  # KPI from the next unit of spend at the current spend rate
    carryover: Carryover


@dataclass(frozen=True)
class Contribution:
    total: Interval  # KPI over the fit window
    share: Interval  # of the modelled KPI over the fit window


@dataclass(frozen=True)
class ChannelSeries:
    channel: str
    mean: tuple[float, ...]  # KPI per period


@dataclass(frozen=True)
class ContributionSeries:
    """Per-period decomposition over all periods; those after ``fit_periods`` are held out."""

    dates: tuple[str, ...] | None  # ISO dates, when given
    fit_periods: int
    actual: tuple[float, ...]
    expected: tuple[float, ...]  # posterior mean of the modelled KPI
    baseline: tuple[float, ...]  # posterior mean of everything that is not media
    channels: tuple[ChannelSeries, ...]
    media_mean: tuple[float, ...]
    media_lower: tuple[float, ...]
    media_upper: tuple[float, ...]


@dataclass(frozen=True)
class ResponseCurve:
    """Expected incremental KPI per period of a constant spend per period (steady state)."""

    channel: str
    spend_per_period: tuple[float, ...]
    mean: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    current_spend_per_period: float
    current_kpi_per_period: float  # posterior mean at the current spend


@dataclass(frozen=True)
class ChannelClaim:
    channel: str
    spend: float
    claimed: float  # KPI the platform attributes to itself over the fit window
    claimed_roas: float | None
    incremental_kpi: Interval
    over_attribution: Interval | None  # claimed / incremental; None when nothing was spent


@dataclass(frozen=True)
class PlatformClaims:
    """What ad platforms claim against what happened and what the model finds incremental."""

    claimed_total: float
    actual_kpi_total: float
    claimed_vs_actual: float  # 2.4 means the platforms claim 240 % of the actual KPI
    incremental_total: Interval  # modelled, for the channels that made claims
    claimed_vs_incremental: Interval | None
    channels: tuple[ChannelClaim, ...]


@dataclass(frozen=True)
class HoldoutInfo:
    holdout_periods: int
    fit_periods: int
    mape: float | None
    actual_total: float | None
    predicted_total: Interval | None  # modelled expected KPI over the held-out periods


@dataclass(frozen=True)
class Analysis:
    credible_mass: float
    adstock: str
    saturation: str
    max_lag: int
    current_spend_basis: str
    kpi_total: float  # actual KPI over the fit window
    expected_kpi_total: Interval
    channels: tuple[ChannelAnalysis, ...]
    baseline: Contribution
    media: Contribution
    contributions: ContributionSeries
    response_curves: tuple[ResponseCurve, ...]
    platform_claims: PlatformClaims | None
    diagnostics: Diagnostics
    holdout: HoldoutInfo


def check_credible_mass(credible_mass: float) -> None:
    if not 0.0 < credible_mass < 1.0:
        raise DataError("credible_mass", f"must be between 0 and 1, got {credible_mass}")


def summarize(draws: NDArray[np.float64], credible_mass: float) -> tuple[Interval, ...]:
    """One interval per column of ``draws`` (draws, k), or a single one for (draws,)."""
    columns = np.asarray(draws, dtype=np.float64).reshape(draws.shape[0], -1)
    tail = (1.0 - credible_mass) / 2.0
    lower, median, upper = np.quantile(columns, [tail, 0.5, 1.0 - tail], axis=0)
    mean = columns.mean(axis=0)
    return tuple(
        Interval(mean=m, median=q, lower=lo, upper=hi)
        for m, q, lo, hi in zip(
            mean.tolist(), median.tolist(), lower.tolist(), upper.tolist(), strict=True
        )
    )


def summarize_one(draws: NDArray[np.float64], credible_mass: float) -> Interval:
    return summarize(draws.reshape(-1, 1), credible_mass)[0]


def response_slope(
    spec: ModelSpec, samples: Mapping[str, NDArray[np.float64]], relative: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Derivative of :func:`posterior_response` with respect to ``relative``, same shapes.

    Analytic, so the optimiser gets exact gradients; the tests hold it to finite differences of
    ``posterior_response``, which stays the single definition of the response itself.
    """
    beta = np.asarray(samples["beta"], dtype=np.float64)
    expand = (slice(None), *([None] * (relative.ndim - 2)), slice(None))
    x = np.maximum(np.asarray(relative, dtype=np.float64), _MIN_RELATIVE_SPEND)
    if spec.saturation == "hill":
        half = np.asarray(samples["half_saturation"], dtype=np.float64)[expand]
        slope = np.asarray(samples["hill_slope"], dtype=np.float64)[expand]
        # Written through the curve value h: s·h·(1-h)/x stays finite far beyond saturation,
        # where the textbook form divides infinity by infinity.
        curve = 1.0 / (1.0 + (half / x) ** slope)
        curve_slope = slope * curve * (1.0 - curve) / x
    else:
        lam = np.asarray(samples["logistic_lambda"], dtype=np.float64)[expand]
        curve_slope = lam / 2.0 * (1.0 - np.tanh(lam * x / 2.0) ** 2)
    result: NDArray[np.float64] = beta[expand] * curve_slope
    return result


def steady_state_kpi(
    result: FitResult, spend_per_period: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Incremental KPI per period, per draw, of spending ``spend_per_period`` (..., channels)
    every period: (draws, ..., channels). Adstock weights sum to one, so at a constant spend the
    carried spend equals the spend and only the saturation curve matters."""
    relative = np.asarray(spend_per_period, dtype=np.float64) / result.channel_scale
    scaled = posterior_response(result.spec, result.samples, relative[None, ...])
    return np.asarray(scaled, dtype=np.float64) * result.kpi_scale


def marginal_roas_draws(
    result: FitResult, spend_per_period: NDArray[np.float64]
) -> NDArray[np.float64]:
    """KPI per extra unit of spend at a constant ``spend_per_period`` (..., channels), per draw.

    The horizon cancels: spending one more unit over H periods adds 1/H per period for H periods.
    """
    relative = np.asarray(spend_per_period, dtype=np.float64) / result.channel_scale
    slope = response_slope(result.spec, result.samples, relative[None, ...])
    return slope * result.kpi_scale / result.channel_scale


def _check_alignment(result: FitResult, data: MMMData) -> None:
    if tuple(data.channels) != tuple(result.channels):
        raise DataError(
            "channels",
            f"data has channels {list(data.channels)}, the fit {list(result.channels)}",
        )
    modelled_periods = result.samples["mu"].shape[1]
    if data.periods != modelled_periods:
        raise DataError(
            "rows", f"data has {data.periods} periods, the fit modelled {modelled_periods}"
        )
    fitted_mean = data.spend[: result.fit_periods].mean(axis=0)
    spent = fitted_mean > 0
    if not np.allclose(fitted_mean[spent], result.channel_scale[spent], rtol=1e-6):
        raise DataError("spend", "does not match the spend the model was fitted on")


def _carryover(
    spec: ModelSpec, samples: Mapping[str, NDArray[np.float64]], credible_mass: float
) -> list[Carryover]:
    weights = posterior_adstock_weights(spec, samples)  # (draws, lags, channels)
    delivered = np.cumsum(weights, axis=1)
    # Periods needed = index of the first lag whose cumulative weight reaches 90 %, plus one.
    # The small slack keeps float round-off from pushing a draw past the last lag.
    periods_to_90 = (delivered < CARRYOVER_DELIVERED - 1e-12).sum(axis=1) + 1.0
    mean_lag = (weights * np.arange(weights.shape[1])[None, :, None]).sum(axis=1)
    tail = (1.0 - credible_mass) / 2.0
    low, high = np.quantile(weights, [tail, 1.0 - tail], axis=0)
    average = weights.mean(axis=0)
    to_90 = summarize(periods_to_90, credible_mass)
    lags = summarize(mean_lag, credible_mass)
    return [
        Carryover(
            weights=tuple(average[:, c].tolist()),
            weights_lower=tuple(low[:, c].tolist()),
            weights_upper=tuple(high[:, c].tolist()),
            periods_to_90_percent=to_90[c],
            mean_lag=lags[c],
        )
        for c in range(weights.shape[2])
    ]


def _dates(dates: Sequence[date] | None, periods: int) -> tuple[str, ...] | None:
    if dates is None:
        return None
    if len(dates) != periods:
        raise DataError("dates", f"{len(dates)} dates for {periods} periods")
    return tuple(d.isoformat() for d in dates)


def _platform_claims(
    attributed: Mapping[str, NDArray[np.float64]],
    data: MMMData,
    incremental: NDArray[np.float64],
    spend: NDArray[np.float64],
    fit_periods: int,
    credible_mass: float,
) -> PlatformClaims:
    unknown = sorted(set(attributed) - set(data.channels))
    if unknown:
        raise DataError("attributed", f"unknown channels: {', '.join(unknown)}")
    indices = [data.channels.index(name) for name in data.channels if name in attributed]
    claimed_per_channel = []
    for index in indices:
        name = data.channels[index]
        values = np.asarray(attributed[name], dtype=np.float64)
        if values.shape != (data.periods,):
            raise DataError("attributed", f"{name}: expected one value per period ({data.periods})")
        bad = np.argwhere(~np.isfinite(values) | (values < 0))
        if bad.size:
            period = int(bad[0][0])
            raise DataError(
                "attributed", f"{name}: missing or negative value {values[period]} at {period}"
            )
        claimed_per_channel.append(values[:fit_periods].sum())
    claimed = np.asarray(claimed_per_channel)
    modelled = incremental[:, indices]  # (draws, claiming channels)
    spent = spend[indices]
    over = np.divide(claimed[None, :], modelled, out=np.zeros_like(modelled), where=modelled > 0)
    over_intervals = summarize(over, credible_mass)
    modelled_intervals = summarize(modelled, credible_mass)
    modelled_total = modelled.sum(axis=1)
    actual_total = float(data.kpi[:fit_periods].sum())
    if actual_total == 0:
        raise DataError("kpi", "sums to zero over the fit window; claims cannot be set against it")
    claimed_total = float(claimed.sum())
    channel_claims = tuple(
        ChannelClaim(
            channel=data.channels[index],
            spend=float(spent[k]),
            claimed=float(claimed[k]),
            claimed_roas=float(claimed[k] / spent[k]) if spent[k] > 0 else None,
            incremental_kpi=modelled_intervals[k],
            over_attribution=over_intervals[k] if np.all(modelled[:, k] > 0) else None,
        )
        for k, index in enumerate(indices)
    )
    return PlatformClaims(
        claimed_total=claimed_total,
        actual_kpi_total=actual_total,
        claimed_vs_actual=claimed_total / actual_total,
        incremental_total=summarize_one(modelled_total, credible_mass),
        claimed_vs_incremental=(
            summarize_one(claimed_total / modelled_total, credible_mass)
            if np.all(modelled_total > 0)
            else None
        ),
        channels=channel_claims,
    )


def analyze(
    result: FitResult,
    data: MMMData | GeoMMMData,
    *,
    dates: Sequence[date] | None = None,
    attributed: Mapping[str, NDArray[np.float64]] | None = None,
    curve_points: int = 40,
    credible_mass: float = 0.9,
) -> Analysis:
    """Everything a marketer asks of a fit: what each channel returned, what the next unit of
    spend would return, how long effects last, how the KPI splits over time, and how far the
    platforms' own attribution (``attributed``: channel -> KPI claimed per period) overstates it.

    ``data`` must be the data the model was fitted on (the holdout periods included); a geo
    panel is analysed nationally, as the fit's "media" and "mu" are national sums.
    """
    if isinstance(data, GeoMMMData):
        data = data.national()
    check_credible_mass(credible_mass)
    if curve_points < 2:
        raise DataError("curve_points", f"need at least 2 points, got {curve_points}")
    _check_alignment(result, data)
    iso_dates = _dates(dates, data.periods)
    fit = result.fit_periods
    scale = result.kpi_scale
    samples = result.samples
    media = np.asarray(samples["media"], dtype=np.float64) * scale  # (draws, periods, ch)
    expected = np.asarray(samples["mu"], dtype=np.float64) * scale  # (draws, periods)
    # The baseline is defined as everything that is not media, so the decomposition adds up
    # exactly whatever the model puts in its non-media part (intercept, trend, season, controls).
    baseline = expected - media.sum(axis=2)

    incremental = media[:, :fit].sum(axis=1)  # (draws, channels)
    expected_total = expected[:, :fit].sum(axis=1)
    baseline_total = baseline[:, :fit].sum(axis=1)
    spend = data.spend[:fit].sum(axis=0)
    spent = spend > 0
    roas = incremental / np.where(spent, spend, 1.0)

    current = spend / fit
    current_kpi = steady_state_kpi(result, current)  # (draws, channels)
    current_roas = current_kpi / np.where(spent, current, 1.0)
    marginal = marginal_roas_draws(result, current)

    mass = credible_mass
    incremental_iv = summarize(incremental, mass)
    share_iv = summarize(incremental / expected_total[:, None], mass)
    roas_iv = summarize(roas, mass)
    current_roas_iv = summarize(current_roas, mass)
    marginal_iv = summarize(marginal, mass)
    carryover = _carryover(result.spec, samples, mass)
    channel_results = tuple(
        ChannelAnalysis(
            channel=name,
            spend=float(spend[c]),
            incremental_kpi=incremental_iv[c],
            contribution_share=share_iv[c],
            roas=roas_iv[c] if spent[c] else None,
            current_spend_per_period=float(current[c]),
            current_roas=current_roas_iv[c] if spent[c] else None,
            marginal_roas=marginal_iv[c],
            carryover=carryover[c],
        )
        for c, name in enumerate(data.channels)
    )

    media_per_period = media.sum(axis=2)
    tail = (1.0 - mass) / 2.0
    media_low, media_high = np.quantile(media_per_period, [tail, 1.0 - tail], axis=0)
    channel_means = media.mean(axis=0)
    contributions = ContributionSeries(
        dates=iso_dates,
        fit_periods=fit,
        actual=tuple(np.asarray(data.kpi, dtype=np.float64).tolist()),
        expected=tuple(expected.mean(axis=0).tolist()),
        baseline=tuple(baseline.mean(axis=0).tolist()),
        channels=tuple(
            ChannelSeries(channel=name, mean=tuple(channel_means[:, c].tolist()))
            for c, name in enumerate(data.channels)
        ),
        media_mean=tuple(media_per_period.mean(axis=0).tolist()),
        media_lower=tuple(media_low.tolist()),
        media_upper=tuple(media_high.tolist()),
    )

    peak = data.spend[:fit].max(axis=0)
    top = 2.0 * np.where(peak > 0, peak, result.channel_scale)
    grid = np.linspace(0.0, 1.0, curve_points)[:, None] * top[None, :]  # (points, channels)
    curve = steady_state_kpi(result, grid)  # (draws, points, channels)
    curve_low, curve_high = np.quantile(curve, [tail, 1.0 - tail], axis=0)
    curve_mean = curve.mean(axis=0)
    current_kpi_mean = current_kpi.mean(axis=0)
    curves = tuple(
        ResponseCurve(
            channel=name,
            spend_per_period=tuple(grid[:, c].tolist()),
            mean=tuple(curve_mean[:, c].tolist()),
            lower=tuple(curve_low[:, c].tolist()),
            upper=tuple(curve_high[:, c].tolist()),
            current_spend_per_period=float(current[c]),
            current_kpi_per_period=float(current_kpi_mean[c]),
        )
        for c, name in enumerate(data.channels)
    )

    # Platform claims are optional input: most first datasets have none, and a few channels
    # with claims among many without is the usual case.
    claims = (
        _platform_claims(attributed, data, incremental, spend, fit, mass) if attributed else None
    )
    held_out = data.periods - fit
    holdout = HoldoutInfo(
        holdout_periods=held_out,
        fit_periods=fit,
        mape=result.diagnostics.holdout_mape,
        actual_total=float(data.kpi[fit:].sum()) if held_out else None,
        predicted_total=summarize_one(expected[:, fit:].sum(axis=1), mass) if held_out else None,
    )
    return Analysis(
        credible_mass=mass,
        adstock=result.spec.adstock,
        saturation=result.spec.saturation,
        max_lag=result.spec.max_lag,
        current_spend_basis=CURRENT_SPEND_BASIS,
        kpi_total=float(data.kpi[:fit].sum()),
        expected_kpi_total=summarize_one(expected_total, mass),
        channels=channel_results,
        baseline=Contribution(
            total=summarize_one(baseline_total, mass),
            share=summarize_one(baseline_total / expected_total, mass),
        ),
        media=Contribution(
            total=summarize_one(incremental.sum(axis=1), mass),
            share=summarize_one(incremental.sum(axis=1) / expected_total, mass),
        ),
        contributions=contributions,
        response_curves=curves,
        platform_claims=claims,
        diagnostics=result.diagnostics,
        holdout=holdout,
    )

"""The numpyro marketing-mix model.

KPI (scaled by its mean) = baseline + linear trend + Fourier seasonality + controls
                           + Σ_channels β_c · saturation(adstock(spend_c))
with each β_c derived from the channel's ROAS over the fit window, so that the prior an analyst
states on ROAS is the prior the model uses. Lift tests add one Gaussian term each: the model's
incremental KPI of the tested channel over the test window against the measured one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import Array
from numpy.typing import NDArray

from engine.causal.data import MMMData
from engine.causal.spec import ModelSpec
from engine.causal.transforms import (
    adstock,
    geometric_weights,
    hill,
    lag_stack,
    logistic,
    weibull_weights,
)


@dataclass(frozen=True)
class Design:
    """The data prepared once for the sampler (scaled, lagged, as JAX arrays)."""

    lagged: Array  # (periods, lags, channels): spend / channel mean spend
    spend_totals: Array  # (channels,) spend over the fit window, in currency
    channel_scale: NDArray[np.float64]  # (channels,) mean spend over the fit window
    kpi_scale: float
    kpi: Array  # (periods,) scaled
    trend: Array  # (periods,) in [0, 1]
    fourier: Array  # (periods, 2 * order)
    controls: Array  # (periods, controls) standardised
    fit_periods: int
    roas_log_mean: Array  # (channels,)
    roas_log_sd: Array  # (channels,)
    lift_channel: Array  # (tests,) channel index
    lift_window: Array  # (tests, periods) 1 inside the test window
    lift_value: Array  # (tests,) scaled incremental KPI
    lift_se: Array  # (tests,) scaled standard error


def build_design(data: MMMData, spec: ModelSpec) -> Design:
    periods = data.periods
    fit = periods - spec.holdout_periods
    if fit < 8:
        raise ValueError(f"holdout_periods={spec.holdout_periods} leaves too few periods to fit")
    channel_mean = data.spend[:fit].mean(axis=0)
    channel_mean = np.where(channel_mean > 0, channel_mean, 1.0)
    kpi_scale = float(np.abs(data.kpi[:fit]).mean())
    t = np.arange(periods, dtype=np.float64)
    angles = 2 * np.pi * t[:, None] * np.arange(1, spec.seasonality_order + 1)[None, :]
    angles = angles / spec.seasonality_period
    fourier = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    controls = data.controls
    if controls.shape[1]:
        spread = controls[:fit].std(axis=0)
        controls = (controls - controls[:fit].mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    priors = [spec.prior_for(c) for c in data.channels]
    window = np.zeros((len(data.lift_tests), periods))
    for i, test in enumerate(data.lift_tests):
        window[i, test.start : test.end + 1] = 1.0
    return Design(
        lagged=jnp.asarray(lag_stack(data.spend / channel_mean, spec.max_lag)),
        spend_totals=jnp.asarray(data.spend[:fit].sum(axis=0)),
        channel_scale=channel_mean,
        kpi_scale=kpi_scale,
        kpi=jnp.asarray(data.kpi / kpi_scale),
        trend=jnp.asarray(t / max(periods - 1, 1)),
        fourier=jnp.asarray(fourier),
        controls=jnp.asarray(controls),
        fit_periods=fit,
        roas_log_mean=jnp.asarray([p.log_mean for p in priors]),
        roas_log_sd=jnp.asarray([p.log_sd for p in priors]),
        lift_channel=jnp.asarray([data.channels.index(t.channel) for t in data.lift_tests], int),
        lift_window=jnp.asarray(window),
        lift_value=jnp.asarray([t.incremental_kpi / kpi_scale for t in data.lift_tests]),
        lift_se=jnp.asarray([t.standard_error / kpi_scale for t in data.lift_tests]),
    )


def media_response(design: Design, spec: ModelSpec, channels: int) -> Array:
    """Sample the adstock and saturation parameters; return saturation curves (periods, ch)."""
    with numpyro.plate("channel", channels):
        if spec.adstock == "geometric":
            alpha = numpyro.sample("adstock_alpha", dist.Beta(2.0, 3.0))
            weights = geometric_weights(alpha, spec.max_lag)
        else:
            shape = numpyro.sample("adstock_shape", dist.LogNormal(jnp.log(1.5), 0.5))
            scale = numpyro.sample("adstock_scale", dist.LogNormal(jnp.log(2.0), 0.5))
            weights = weibull_weights(shape, scale, spec.max_lag)
        carried = adstock(design.lagged, weights)
        if spec.saturation == "hill":
            half = numpyro.sample("half_saturation", dist.LogNormal(0.0, 0.7))
            slope = numpyro.sample("hill_slope", dist.LogNormal(jnp.log(1.5), 0.4))
            return hill(carried, half, slope)
        lam = numpyro.sample("logistic_lambda", dist.LogNormal(0.0, 0.8))
        return logistic(carried, lam)


def mmm_model(design: Design, spec: ModelSpec) -> None:
    channels = design.lagged.shape[2]
    fit = design.fit_periods
    with numpyro.plate("channel_roas", channels):
        roas = numpyro.sample("roas", dist.LogNormal(design.roas_log_mean, design.roas_log_sd))
    saturated = media_response(design, spec, channels)
    # β makes Σ_fit β·saturation equal ROAS * spend: the KPI the channel added, scaled.
    beta = roas * design.spend_totals / design.kpi_scale / (saturated[:fit].sum(axis=0) + 1e-9)
    numpyro.deterministic("beta", beta)
    media = saturated * beta
    numpyro.deterministic("media", media)

    baseline = numpyro.sample("baseline", dist.Normal(0.5, 0.5))
    mu = baseline + media.sum(axis=1)
    if spec.trend:
        mu = mu + numpyro.sample("trend", dist.Normal(0.0, 0.5)) * design.trend
    if design.fourier.shape[1]:
        with numpyro.plate("fourier_terms", design.fourier.shape[1]):
            season = numpyro.sample("seasonality", dist.Normal(0.0, 0.25))
        mu = mu + design.fourier @ season
    if design.controls.shape[1]:
        with numpyro.plate("control", design.controls.shape[1]):
            gamma = numpyro.sample("control_effect", dist.Normal(0.0, 0.25))
        mu = mu + design.controls @ gamma
    numpyro.deterministic("mu", mu)
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.25))
    numpyro.sample("kpi", dist.Normal(mu[:fit], sigma), obs=design.kpi[:fit])

    if design.lift_value.shape[0]:
        implied = (design.lift_window * media[:, design.lift_channel].T).sum(axis=1)
        numpyro.sample("lift", dist.Normal(implied, design.lift_se), obs=design.lift_value)


def posterior_adstock_weights(
    spec: ModelSpec, samples: Mapping[str, NDArray[np.float64]]
) -> NDArray[np.float64]:
    """Carry-over weights of every posterior draw: (draws, max_lag, channels), summing to one."""
    if spec.adstock == "geometric":
        alpha = samples["adstock_alpha"]
        weights = alpha[:, None, :] ** np.arange(spec.max_lag)[None, :, None]
    else:
        shape, scale = samples["adstock_shape"], samples["adstock_scale"]
        x = (np.arange(spec.max_lag) + 0.5)[None, :, None]
        z = x / scale[:, None, :]
        log_pdf = np.log(shape / scale)[:, None, :] + (shape[:, None, :] - 1) * np.log(z)
        log_pdf = log_pdf - z ** shape[:, None, :]
        weights = np.exp(log_pdf - log_pdf.max(axis=1, keepdims=True))
    result: NDArray[np.float64] = weights / weights.sum(axis=1, keepdims=True)
    return result


def posterior_response(
    spec: ModelSpec, samples: Mapping[str, NDArray[np.float64]], relative: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Scaled KPI per period that each draw expects from carried spend ``relative`` (in units of
    the channel's mean spend over the fit window): ``beta * saturation(relative)``.

    ``relative`` has the draws first and the channels last, (draws, ..., channels); pass a
    leading axis of one to evaluate the same spend under every draw. At a constant spend per
    period the carried spend equals that spend (adstock weights sum to one), which is what
    response curves and the budget optimiser evaluate.
    """
    beta = samples["beta"]
    expand = (slice(None), *([None] * (relative.ndim - 2)), slice(None))
    x = relative
    if spec.saturation == "hill":
        half = samples["half_saturation"][expand]
        slope = samples["hill_slope"][expand]
        ratio = np.where(x > 0, x, 1.0) / half
        powered = np.where(x > 0, ratio**slope, 0.0)
        curve = powered / (1.0 + powered)
    else:
        curve = np.tanh(samples["logistic_lambda"][expand] * x / 2.0)
    result: NDArray[np.float64] = beta[expand] * curve
    return result

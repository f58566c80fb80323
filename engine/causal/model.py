"""The numpyro marketing-mix model, national or with a geo hierarchy.

KPI (scaled by its mean) = baseline + centred linear trend + smooth trend bends
                           + Fourier seasonality + controls
                           + Σ_channels β_c · saturation(adstock(spend_c))
with each β_c derived from the channel's ROAS over the fit window, so that the prior an analyst
states on ROAS is the prior the model uses. Lift tests add one Gaussian term each: the model's
incremental KPI of the tested channel over the test window against the measured one. The
first ``max_lag`` periods are left out of the likelihood by default (``unseen_history``): their
KPI carries over spend from before the data, which the model cannot see.

Geo panels (``GeoMMMData``) share the channels' carry-over and saturation shapes, seasonality
and control effects; each geo has its own baseline, trend and noise scale, and its own ROAS
per channel, pooled towards the national one: ``log ROAS_gc = log ROAS_c + τ · z_gc``
(non-centred, so weakly identified geos do not create a funnel; one spread τ for all
channels). The mass matrix of a panel is dense over the shared sites only
(:func:`dense_mass_sites`). National data are the same
model with one geo and no geo ROAS deviations, so both paths share one implementation.

The sampler sees only unit-scale, unconstrained-friendly quantities (standard-normal ROAS
offsets, a trend centred on the fit window so intercept and slope are nearly uncorrelated);
the quantities reported (``roas``, ``beta``, ``media``, ``baseline``) are deterministic sites.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import Array
from numpy.typing import NDArray
from numpyro.distributions import constraints

from engine.causal.data import GeoMMMData, MMMData
from engine.causal.spec import ModelSpec
from engine.causal.transforms import (
    adstock,
    geometric_weights,
    lag_stack,
    log_hill,
    log_logistic,
    weibull_weights,
)


@partial(
    jax.tree_util.register_dataclass,
    meta_fields=["fit_periods", "first_observed", "geo_level"],
    data_fields=[
        "lagged",
        "spend_totals",
        "channel_scale",
        "kpi_scale",
        "geo_weight",
        "kpi",
        "trend",
        "trend_bends",
        "fourier",
        "controls",
        "roas_log_mean",
        "roas_log_sd",
        "lift_channel",
        "lift_window",
        "lift_value",
        "lift_se",
    ],
)
@dataclass(frozen=True)
class Design:
    """The data prepared once for the sampler (scaled, lagged, as JAX arrays).

    A JAX pytree, so the sampler takes it as an argument rather than baking it into the
    compiled program: datasets of the same shape then share one compilation.

    Every array carries a leading geo axis; national data have one geo. Each geo's KPI is
    scaled by its own mean and its spend by its own mean per channel, so one set of priors
    fits geos of any size; ``geo_weight`` converts a geo's scaled KPI into national units.
    """

    lagged: Array  # (geos, periods, lags, channels): spend / the geo's mean channel spend
    spend_totals: Array  # (geos, channels) spend over the fit window, in currency
    channel_scale: NDArray[np.float64]  # (channels,) national mean spend over the fit window
    kpi_scale: float  # national mean |KPI| over the fit window
    geo_weight: Array  # (geos,) a geo's KPI scale / the national one
    kpi: Array  # (geos, periods) each scaled by its own mean
    trend: Array  # (periods,) (t / (periods - 1)) minus its mean over the fit window
    trend_bends: Array  # (periods, knots - 2) smooth deviations from the line, max |.| = 1
    fourier: Array  # (periods, 2 * order)
    controls: Array  # (geos, periods, controls) standardised per geo
    fit_periods: int
    first_observed: int  # periods before this carry unseen carry-over: not in the likelihood
    geo_level: bool  # True for geo panels: per-geo ROAS, baselines and noise
    roas_log_mean: Array  # (channels,)
    roas_log_sd: Array  # (channels,)
    lift_channel: Array  # (tests,) channel index
    lift_window: Array  # (tests, periods) 1 inside the test window
    lift_value: Array  # (tests,) scaled incremental KPI (national)
    lift_se: Array  # (tests,) scaled standard error


@dataclass(frozen=True)
class Priors:
    """The model's fixed priors (everything but ROAS, which the spec states). Scales are in the
    design's units: spend relative to the channel's mean over the fit window, KPI relative to
    its mean. A module constant rather than a spec field: they are the model's definition, not
    an analyst's choice; ``bench/mmm_ablation.py`` swaps them to measure what each one costs,
    and the sampler cache is keyed on them."""

    adstock_alpha: tuple[float, float] = (2.0, 3.0)  # Beta(a, b)
    weibull_shape: tuple[float, float] = (math.log(1.5), 0.5)  # LogNormal(loc, scale)
    weibull_scale: tuple[float, float] = (math.log(2.0), 0.5)  # LogNormal(loc, scale)
    half_saturation: tuple[float, float] = (0.0, 0.7)  # LogNormal(loc, scale)
    hill_slope: tuple[float, float] = (math.log(1.5), 0.4)  # LogNormal(loc, scale)
    logistic_lambda: tuple[float, float] = (0.0, 0.8)  # LogNormal(loc, scale)
    intercept: tuple[float, float] = (0.5, 0.5)  # Normal(loc, scale)
    trend: float = 0.5  # Normal(0, .)
    trend_bend: float = 0.1  # Normal(0, .)
    seasonality: float = 0.25  # Normal(0, .)
    control: float = 0.25  # Normal(0, .)
    sigma: float = 0.25  # HalfNormal(.)


PRIORS = Priors()


def trend_bends(periods: int, fit: int, knots: int) -> NDArray[np.float64]:
    """Piecewise-linear "hat" functions on ``knots`` evenly spaced knots of the fit window,
    stripped of their constant and linear parts (the intercept and slope already say those),
    so no direction of the posterior is left to the priors alone. Beyond the window the bends
    stay at their last value. Returns (periods, knots - 2); empty when ``knots`` is 0."""
    if knots == 0:
        return np.zeros((periods, 0))
    position = np.minimum(np.arange(periods), fit - 1) / max(fit - 1, 1) * (knots - 1)
    hats = np.maximum(0.0, 1.0 - np.abs(position[:, None] - np.arange(knots)[None, :]))
    line = np.stack([np.ones(periods), np.arange(periods) / max(periods - 1, 1)], axis=1)
    coefficients, *_ = np.linalg.lstsq(line[:fit], hats[:fit], rcond=None)
    residual = hats - line @ coefficients
    _, _, directions = np.linalg.svd(residual[:fit], full_matrices=False)
    bends = residual @ directions[: knots - 2].T
    result: NDArray[np.float64] = bends / np.abs(bends[:fit]).max(axis=0)
    return result


def build_design(data: MMMData | GeoMMMData, spec: ModelSpec) -> Design:
    geo_level = isinstance(data, GeoMMMData)
    spend = data.spend if isinstance(data, GeoMMMData) else data.spend[None]
    kpi = data.kpi if isinstance(data, GeoMMMData) else data.kpi[None]
    controls = data.controls if isinstance(data, GeoMMMData) else data.controls[None]
    periods = data.periods
    fit = periods - spec.holdout_periods
    if fit < 8:
        raise ValueError(f"holdout_periods={spec.holdout_periods} leaves too few periods to fit")
    geo_channel_mean = spend[:, :fit].mean(axis=1)
    geo_channel_mean = np.where(geo_channel_mean > 0, geo_channel_mean, 1.0)
    national_mean = spend[:, :fit].sum(axis=0).mean(axis=0)
    geo_kpi_scale = np.abs(kpi[:, :fit]).mean(axis=1)
    geo_kpi_scale = np.where(geo_kpi_scale > 0, geo_kpi_scale, 1.0)
    kpi_scale = float(np.abs(kpi[:, :fit].sum(axis=0)).mean())
    t = np.arange(periods, dtype=np.float64)
    trend = t / max(periods - 1, 1)
    angles = 2 * np.pi * t[:, None] * np.arange(1, spec.seasonality_order + 1)[None, :]
    angles = angles / spec.seasonality_period
    fourier = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    if controls.shape[2]:
        spread = controls[:, :fit].std(axis=1, keepdims=True)
        centred = controls - controls[:, :fit].mean(axis=1, keepdims=True)
        controls = centred / np.where(spread > 0, spread, 1.0)
    priors = [spec.prior_for(c) for c in data.channels]
    window = np.zeros((len(data.lift_tests), periods))
    for i, test in enumerate(data.lift_tests):
        window[i, test.start : test.end + 1] = 1.0
    lagged = np.stack(
        [
            lag_stack(geo_spend / mean, spec.max_lag)
            for geo_spend, mean in zip(spend, geo_channel_mean, strict=True)
        ]
    )
    return Design(
        lagged=jnp.asarray(lagged),
        spend_totals=jnp.asarray(spend[:, :fit].sum(axis=1)),
        channel_scale=np.where(national_mean > 0, national_mean, 1.0),
        kpi_scale=kpi_scale,
        geo_weight=jnp.asarray(geo_kpi_scale / kpi_scale),
        kpi=jnp.asarray(kpi / geo_kpi_scale[:, None]),
        trend=jnp.asarray(trend - trend[:fit].mean()),
        trend_bends=jnp.asarray(trend_bends(periods, fit, spec.trend_knots if spec.trend else 0)),
        fourier=jnp.asarray(fourier),
        controls=jnp.asarray(controls),
        fit_periods=fit,
        first_observed=min(spec.max_lag, fit // 4) if spec.unseen_history else 0,
        geo_level=geo_level,
        roas_log_mean=jnp.asarray([p.log_mean for p in priors]),
        roas_log_sd=jnp.asarray([p.log_sd for p in priors]),
        lift_channel=jnp.asarray([data.channels.index(t.channel) for t in data.lift_tests], int),
        lift_window=jnp.asarray(window),
        lift_value=jnp.asarray([t.incremental_kpi / kpi_scale for t in data.lift_tests]),
        lift_se=jnp.asarray([t.standard_error / kpi_scale for t in data.lift_tests]),
    )


def dense_mass_sites(design: Design, spec: ModelSpec) -> tuple[str, ...]:
    """The sampled sites every geo shares: national ROAS, curve shapes, trend bends,
    seasonality, control effects and the geo spread. A geo panel's mass matrix is dense over
    these and diagonal over the per-geo sites (levels, trends, noise, ROAS deviations).

    A dense matrix over every site of a panel is estimated from the few hundred draws of
    warm-up's last window: for 10 geos x 10 channels that is about 200 dimensions, and a
    covariance of 200 dimensions from some 500 autocorrelated draws is mostly noise (even for
    independent draws of an identity covariance, Marchenko-Pastur spreads such an estimate's
    eigenvalues over a factor of about 20). NUTS then took
    small steps for the shrunk directions and ~1,000 of them per draw to cross the inflated
    ones (bench/mmm_geo.py). The shared sites are the correlated ones; per-geo sites are
    nearly independent given them."""
    channels = design.lagged.shape[3]
    sites = ["roas_z"]
    if spec.roas_pooling > 0 and channels > 1:
        sites.append("roas_shared")
    if spec.adstock == "geometric":
        sites.append("adstock_alpha")
    else:
        sites += ["adstock_shape", "adstock_scale"]
    if spec.saturation == "hill":
        sites += ["half_saturation", "hill_slope"]
    else:
        sites.append("logistic_lambda")
    if design.trend_bends.shape[1]:
        sites.append("trend_bend")
    if design.fourier.shape[1]:
        sites.append("seasonality")
    if design.controls.shape[2]:
        sites.append("control_effect")
    if design.geo_level:
        sites.append("geo_roas_spread")
    return tuple(sites)


def media_response(design: Design, spec: ModelSpec, channels: int) -> Array:
    """Sample the adstock and saturation parameters; return the log of the saturation curves,
    (geos, periods, channels), ``-inf`` where no spend has been carried."""
    with numpyro.plate("channel", channels):
        if spec.adstock == "geometric":
            alpha = numpyro.sample("adstock_alpha", dist.Beta(*PRIORS.adstock_alpha))
            weights = geometric_weights(alpha, spec.max_lag)
        else:
            shape = numpyro.sample("adstock_shape", dist.LogNormal(*PRIORS.weibull_shape))
            scale = numpyro.sample("adstock_scale", dist.LogNormal(*PRIORS.weibull_scale))
            weights = weibull_weights(shape, scale, spec.max_lag)
        carried = adstock(design.lagged, weights)
        if spec.saturation == "hill":
            half = numpyro.sample("half_saturation", dist.LogNormal(*PRIORS.half_saturation))
            slope = numpyro.sample("hill_slope", dist.LogNormal(*PRIORS.hill_slope))
            return log_hill(carried, half, slope)
        lam = numpyro.sample("logistic_lambda", dist.LogNormal(*PRIORS.logistic_lambda))
        return log_logistic(carried, lam)


def _geo_roas(design: Design, spec: ModelSpec, channels: int, geos: int) -> Array:
    """Sample ROAS (non-centred); return each geo's ROAS, (geos, channels)."""
    with numpyro.plate("channel_roas", channels):
        own = numpyro.sample("roas_z", dist.Normal(0.0, 1.0))
    unit = own
    if spec.roas_pooling > 0 and channels > 1:
        shared = numpyro.sample("roas_shared", dist.Normal(0.0, 1.0))
        unit = np.sqrt(spec.roas_pooling) * shared + np.sqrt(1.0 - spec.roas_pooling) * own
    log_roas = design.roas_log_mean + design.roas_log_sd * unit
    if not design.geo_level:
        return jnp.exp(log_roas)[None, :]
    # One spread for all channels, not one each: ten geos cannot pin a channel's own spread,
    # and a spread the data leave loose makes the non-centred deviations a funnel (each
    # deviation's scale moves with it). Pinned by every geo x channel deviation at once, one
    # spread is nearly a constant. (The geo fits' speed came from the mass matrix, not from
    # this: with it alone a panel still took ~900 steps per draw; see dense_mass_sites.)
    spread = numpyro.sample("geo_roas_spread", dist.HalfNormal(spec.geo_roas_spread))
    with numpyro.plate("geo_roas_geo", geos, dim=-2), numpyro.plate("geo_roas_ch", channels):
        deviation = numpyro.sample("geo_roas_z", dist.Normal(0.0, 1.0))
    return jnp.exp(log_roas + spread * deviation)


def _per_geo(design: Design, name: str, prior: dist.Distribution, geos: int) -> Array:
    """A parameter per geo for panels, (geos,); one scalar (broadcasting as one geo) otherwise."""
    if not design.geo_level:
        scalar: Array = numpyro.sample(name, prior)
        return scalar
    with numpyro.plate("geo", geos):
        per_geo: Array = numpyro.sample(name, prior)
    return per_geo


def mmm_model(design: Design, spec: ModelSpec) -> None:
    geos, _, _, channels = design.lagged.shape
    fit = design.fit_periods
    geo_roas = _geo_roas(design, spec, channels, geos)
    log_saturated = media_response(design, spec, channels)  # (geos, periods, channels)
    # β makes Σ_fit β·saturation equal ROAS * spend: the KPI the channel added, geo-scaled.
    # Computed in logs (β·saturation_t = ROAS·spend·softmax_t): in single precision a curve
    # summing to almost nothing over the window made β overflow and NUTS diverge.
    scale = design.geo_weight * design.kpi_scale
    log_total = jnp.log(geo_roas * design.spend_totals / scale[:, None])
    log_beta = log_total - jax.nn.logsumexp(log_saturated[:, :fit], axis=1)
    beta = jnp.exp(log_beta)
    geo_media = jnp.exp(log_saturated + log_beta[:, None, :])
    to_national = design.geo_weight[:, None, None]
    spent = design.spend_totals.sum(axis=0)
    numpyro.deterministic("roas", (geo_roas * design.spend_totals).sum(axis=0) / spent)
    # National β: the response when every geo's carried spend is the same multiple of its mean.
    numpyro.deterministic("beta", (beta * design.geo_weight[:, None]).sum(axis=0))
    media = numpyro.deterministic("media", (geo_media * to_national).sum(axis=0))

    # The sampler's coordinate is the KPI level the intercept and media explain together, not
    # the intercept: the data pin that sum, and with the intercept sampled directly the
    # posterior was a curved ridge (intercept + Σ exp(log ROAS)·const = level) whose curvature
    # grew with ROAS. NUTS diverged in that tail, where the truth often lay, and needed
    # small steps everywhere else. The change of variables is a shift (unit Jacobian), so the
    # intercept's prior, added as a factor, is exactly the stated one.
    first = design.first_observed
    media_level = geo_media[:, first:fit].sum(axis=2).mean(axis=1)  # (geos,)
    kpi_level = _per_geo(design, "kpi_level", dist.ImproperUniform(constraints.real, (), ()), geos)
    intercept = kpi_level - (media_level if design.geo_level else media_level[0])
    numpyro.deterministic("intercept", intercept)
    numpyro.factor("intercept_prior", dist.Normal(*PRIORS.intercept).log_prob(intercept).sum())
    level = jnp.broadcast_to(jnp.atleast_1d(intercept)[:, None], design.kpi.shape)
    if spec.trend:
        slope = _per_geo(design, "trend", dist.Normal(0.0, PRIORS.trend), geos)
        trend_part = jnp.atleast_1d(slope)[:, None] * design.trend
        level = level + trend_part
        origin = jnp.atleast_1d(intercept) + jnp.atleast_1d(slope) * design.trend[0]
    else:
        origin = jnp.atleast_1d(intercept)
    if design.trend_bends.shape[1]:
        # Shared by all geos: a drift in demand is rarely local, and per-geo bends would
        # multiply parameters without data to pin them.
        with numpyro.plate("trend_bends", design.trend_bends.shape[1]):
            bend = numpyro.sample("trend_bend", dist.Normal(0.0, PRIORS.trend_bend))
        drift = design.trend_bends @ bend
        level = level + drift
        origin = origin + drift[0]
    if design.fourier.shape[1]:
        with numpyro.plate("fourier_terms", design.fourier.shape[1]):
            season = numpyro.sample("seasonality", dist.Normal(0.0, PRIORS.seasonality))
        level = level + design.fourier @ season
    if design.controls.shape[2]:
        with numpyro.plate("control", design.controls.shape[2]):
            gamma = numpyro.sample("control_effect", dist.Normal(0.0, PRIORS.control))
        level = level + design.controls @ gamma
    baseline = (origin * design.geo_weight).sum()
    numpyro.deterministic("baseline", baseline if design.geo_level else origin[0])
    geo_mu = level + geo_media.sum(axis=2)
    numpyro.deterministic("mu", (geo_mu * design.geo_weight[:, None]).sum(axis=0))
    if design.geo_level:
        numpyro.deterministic("geo_roas", geo_roas)
        numpyro.deterministic("geo_media", geo_media * to_national)
    sigma = _per_geo(design, "sigma", dist.HalfNormal(PRIORS.sigma), geos)
    noise = jnp.atleast_1d(sigma)[:, None]
    with numpyro.plate("kpi_geo", geos, dim=-2), numpyro.plate("kpi_period", fit - first):
        numpyro.sample(
            "kpi", dist.Normal(geo_mu[:, first:fit], noise), obs=design.kpi[:, first:fit]
        )

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

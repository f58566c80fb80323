"""The MMM on plain data from a process written independently of engine/causal/simulate.py,
next to a textbook numpyro model of exactly the generating family and a least-squares oracle.

``engine.causal.simulate`` is the process the model's defaults were tuned against; a model can
do well there and still fail on data that anyone else would simulate. These generators are the
plain case of the MMM literature (Jin et al. 2017; Meridian's and PyMC-Marketing's examples):

- ``weekly``: geometric carry-over (weights ``alpha^l`` over 8 weeks, normalised to one,
  ``alpha ~ U(0.1, 0.7)``), Hill saturation of carried spend relative to its mean
  (half-saturation ``U(0.7, 1.3)``, slope ``U(0.8, 2.5)``), true ROAS ``LogNormal(0.3, 0.5)``;
  a baseline with a straight trend and one yearly harmonic pair, one promo (binary weeks with a
  known effect) and Gaussian noise. Spend per channel is log-AR(1) around its level, with
  on/off flighting for some channels and a mild shared budget cycle; on odd seeds spend started
  8 weeks before the data (so the first weeks carry spend the data do not show), on even seeds
  with the data.
- ``daily``: two years of days x 3 channels with nearly linear responses (half-saturation 3-6
  times the mean carried spend, slope ``U(0.9, 1.2)``), carry-over over 21 days with a daily
  decay ``U(0.2, 0.8)``, a day-of-week profile and yearly seasonality in the KPI, spend a
  little lower at weekends, promo days.

The truth is defined as the model reports ROAS: the channel's contribution over the fit window
(the periods the model's likelihood window and its ROAS deterministic run over: all periods
but the holdout) divided by its spend over the same window.

Three estimators are compared on the same data:

- ``liftos``: ``engine.causal.inference.fit`` with a ``ModelSpec`` and, to emulate what the API
  does (``deployments/causal/pipeline.py``), optionally the holdout it defaulted to until
  issue 12 (``min(13, periods // 10)``) and the calendar controls of ``engine.calendar``;
- ``plain``: a textbook numpyro model of the generating family (geometric adstock, Hill,
  Normal / HalfNormal priors on effect sizes, straight trend, Fourier seasonality, the promo,
  no trend bends, no pooling, adstock from zero at the first period, every period in the
  likelihood), numpyro's own NUTS with a diagonal mass matrix;
- ``oracle``: least squares handed each channel's true contribution curve and the true baseline
  terms, so only each curve's scale is estimated: the error the data's noise alone leaves.

Run: ``.venv/bin/python bench/mmm_plain.py --cases weekly-104x4 --seeds 3`` (``--help``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import partial
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpy.typing import NDArray
from numpyro.infer import MCMC, NUTS

from engine.calendar import calendar_controls
from engine.causal.data import MMMData
from engine.causal.inference import FitConfig, FitResult, fit
from engine.causal.spec import DEFAULT_MAX_LAG, PERIODS_PER_YEAR, ModelSpec

L_MAX = 8  # weeks of carry-over in the weekly generator
DAILY_L_MAX = 21  # days of carry-over in the daily one
Frequency = Literal["weekly", "daily"]
FIRST_DATE = date(2022, 1, 3)  # a Monday


@dataclass(frozen=True)
class PlainCase:
    """One simulated dataset with its known answer."""

    name: str
    frequency: Frequency
    data: MMMData  # one control: the promo indicator
    contributions: NDArray[np.float64]  # (periods, channels), KPI units
    baseline_terms: NDArray[np.float64]  # (periods, k): the true baseline's regressors
    dates: tuple[date, ...]

    def true_roas_over(self, periods: int) -> NDArray[np.float64]:
        spent = self.data.spend[:periods].sum(axis=0)
        result: NDArray[np.float64] = self.contributions[:periods].sum(axis=0) / spent
        return result


def _geometric_carry(
    spend: NDArray[np.float64], alpha: NDArray[np.float64], l_max: int
) -> NDArray[np.float64]:
    """Normalised geometric carry-over over ``l_max`` periods, from zero before the series."""
    weights = alpha[None, :] ** np.arange(l_max)[:, None]
    weights = weights / weights.sum(axis=0)
    carried = np.zeros_like(spend)
    for lag in range(l_max):
        carried[lag:] += weights[lag] * spend[: spend.shape[0] - lag]
    return carried


def _log_ar1(
    rng: np.random.Generator, periods: int, channels: int, phi: float, sd: float
) -> NDArray[np.float64]:
    z = np.zeros((periods, channels))
    innovation = rng.normal(0.0, sd, (periods, channels))
    z[0] = innovation[0] / np.sqrt(1 - phi**2)
    for t in range(1, periods):  # a recursion in time; channels are vectorised
        z[t] = phi * z[t - 1] + innovation[t]
    stationary_var = sd**2 / (1 - phi**2)
    result: NDArray[np.float64] = np.exp(z - stationary_var / 2)
    return result


def _spend(
    rng: np.random.Generator, periods: int, channels: int, frequency: Frequency
) -> NDArray[np.float64]:
    level = rng.uniform(1_000, 10_000, channels)
    per_year = PERIODS_PER_YEAR[frequency]
    phi, sd = (0.5, 0.5) if frequency == "weekly" else (0.8, 0.3)
    t = np.arange(periods)
    budget = 1.0 + 0.15 * np.sin(2 * np.pi * t / per_year + rng.uniform(0, 2 * np.pi))
    spend = level * budget[:, None] * _log_ar1(rng, periods, channels, phi, sd)
    flighted = rng.uniform(size=channels) < 0.4
    off = rng.uniform(size=(periods, channels)) < 0.25
    spend = np.where(flighted & off, 0.0, spend)
    if frequency == "daily":
        weekday = (t + FIRST_DATE.weekday()) % 7
        spend = spend * np.where(weekday >= 5, 0.85, 1.0)[:, None]
    return spend


def _case(
    *,
    name: str,
    frequency: Frequency,
    periods: int,
    channels: int,
    seed: int,
    half_range: tuple[float, float],
    slope_range: tuple[float, float],
    noise_range: tuple[float, float],
    alpha_range: tuple[float, float],
    l_max: int,
    burn_in: int,
) -> PlainCase:
    rng = np.random.default_rng(seed)
    per_year = PERIODS_PER_YEAR[frequency]
    spend_all = _spend(rng, periods + burn_in, channels, frequency)
    alpha = rng.uniform(*alpha_range, channels)
    carried = _geometric_carry(spend_all, alpha, l_max)[burn_in:]
    spend = spend_all[burn_in:]
    relative = carried / carried.mean(axis=0)
    half = rng.uniform(*half_range, channels)
    slope = rng.uniform(*slope_range, channels)
    curve = relative**slope / (relative**slope + half**slope)
    roas = rng.lognormal(0.3, 0.5, channels)
    contributions = curve * roas * spend.sum(axis=0) / curve.sum(axis=0)

    media_mean = contributions.sum(axis=1).mean()
    level = media_mean * rng.uniform(1.0, 2.5)
    t = np.arange(periods)
    angle = 2 * np.pi * t / per_year
    terms = [np.ones(periods), t / periods, np.sin(angle), np.cos(angle)]
    coefficients = [1.0, rng.uniform(-0.2, 0.3), *rng.uniform(-0.1, 0.1, 2)]
    if frequency == "daily":
        weekday = (t + FIRST_DATE.weekday()) % 7
        profile = rng.normal(0.0, 0.05, 7)
        profile[5:] += 0.06  # weekends sell more
        profile -= profile.mean()
        dummies = (weekday[:, None] == np.arange(7)[None, :]).astype(np.float64)
        terms += list((dummies - dummies.mean(axis=0)).T[:6])
        coefficients += list(profile[:6] - profile[6])
    promo = (rng.uniform(size=periods) < (0.1 if frequency == "weekly" else 0.05)).astype(float)
    terms.append(promo)
    coefficients.append(rng.uniform(0.05, 0.2))
    baseline_terms = np.column_stack(terms)
    baseline = level * baseline_terms @ np.asarray(coefficients)
    noise = level * rng.uniform(*noise_range)
    kpi = baseline + contributions.sum(axis=1) + noise * rng.standard_normal(periods)
    step = 7 if frequency == "weekly" else 1
    dates = tuple(FIRST_DATE + timedelta(days=step * i) for i in range(periods))
    data = MMMData(
        channels=tuple(f"channel_{i + 1}" for i in range(channels)),
        spend=spend,
        kpi=kpi,
        controls=promo[:, None],
        control_names=("promo",),
    )
    return PlainCase(name, frequency, data, contributions, baseline_terms, dates)


def weekly_case(periods: int, channels: int, seed: int) -> PlainCase:
    return _case(
        name=f"weekly-{periods}x{channels}/{seed}",
        frequency="weekly",
        periods=periods,
        channels=channels,
        seed=seed,
        half_range=(0.7, 1.3),
        slope_range=(0.8, 2.5),
        noise_range=(0.02, 0.05),
        alpha_range=(0.1, 0.7),
        l_max=L_MAX,
        burn_in=L_MAX if seed % 2 else 0,
    )


def daily_case(seed: int) -> PlainCase:
    return _case(
        name=f"daily-730x3/{seed}",
        frequency="daily",
        periods=730,
        channels=3,
        seed=seed,
        half_range=(3.0, 6.0),
        slope_range=(0.9, 1.2),
        noise_range=(0.05, 0.08),
        alpha_range=(0.2, 0.8),
        l_max=DAILY_L_MAX,
        burn_in=DAILY_L_MAX if seed % 2 else 0,
    )


CASES: dict[str, Callable[[int], PlainCase]] = {
    "weekly-104x4": partial(weekly_case, 104, 4),
    "weekly-156x5": partial(weekly_case, 156, 5),
    "weekly-156x10": partial(weekly_case, 156, 10),
    "daily-730x3": daily_case,
}


# --- the estimators -------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """Per-channel ROAS median and 90 % interval, with the truth over the estimator's window."""

    median: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    truth: NDArray[np.float64]
    divergences: int = 0
    steps: float = 0.0
    max_rhat: float = float("nan")
    wall: float = 0.0
    step_size: float = float("nan")

    @property
    def errors(self) -> NDArray[np.float64]:
        result: NDArray[np.float64] = np.abs(self.median / self.truth - 1)
        return result

    @property
    def covered(self) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = (self.lower <= self.truth) & (self.truth <= self.upper)
        return result

    @property
    def widths(self) -> NDArray[np.float64]:
        result: NDArray[np.float64] = (self.upper - self.lower) / self.truth
        return result


def default_holdout(periods: int) -> int:
    """The API's default holdout until issue 12 (now 0: every period is fitted); kept to
    measure what it cost (bench/mmm_ablation.py)."""
    return min(13, periods // 10)


def api_data(case: PlainCase, calendar: bool) -> MMMData:
    """The case's data with the calendar controls the API adds by default."""
    if not calendar:
        return case.data
    names, values = calendar_controls(list(case.dates), case.frequency, country="US")
    return replace(
        case.data,
        controls=np.concatenate([case.data.controls, values], axis=1),
        control_names=(*case.data.control_names, *names),
    )


def liftos(
    case: PlainCase,
    spec: ModelSpec,
    config: FitConfig,
    *,
    holdout: bool,
    calendar: bool,
) -> tuple[Estimate, FitResult]:
    """A LiftOS fit; ``holdout`` and ``calendar`` emulate the API's defaults."""
    spec = replace(
        spec,
        seasonality_period=PERIODS_PER_YEAR[case.frequency],
        holdout_periods=default_holdout(case.data.periods) if holdout else 0,
    )
    data = api_data(case, calendar)
    started = time.perf_counter()
    result = fit(data, spec, config)
    wall = time.perf_counter() - started
    d = result.diagnostics
    estimate = Estimate(
        median=np.array([r.median for r in result.roas]),
        lower=np.array([r.lower for r in result.roas]),
        upper=np.array([r.upper for r in result.roas]),
        truth=case.true_roas_over(result.fit_periods),
        divergences=d.divergences,
        steps=d.mean_steps,
        max_rhat=d.max_rhat,
        wall=wall,
        step_size=d.step_size,
    )
    return estimate, result


def _plain_model(
    lagged: jax.Array,
    fourier: jax.Array,
    trend: jax.Array,
    controls: jax.Array,
    kpi: jax.Array | None,
) -> None:
    """Textbook MMM on KPI / its mean and spend / its mean: geometric adstock (uniform decay),
    Hill (half-saturation and slope truncated normals around the mean spend and 1.5), a
    half-normal effect size per channel, a straight trend, Fourier seasonality, controls."""
    lags, channels = lagged.shape[1], lagged.shape[2]
    with numpyro.plate("channel", channels):
        alpha = numpyro.sample("alpha", dist.Beta(1.0, 1.0))
        half = numpyro.sample("half", dist.TruncatedNormal(1.0, 0.5, low=0.1))
        slope = numpyro.sample("slope", dist.TruncatedNormal(1.5, 0.75, low=0.3))
        beta = numpyro.sample("beta", dist.HalfNormal(0.5))
    weights = alpha[None, :] ** jnp.arange(lags)[:, None]
    carried = jnp.einsum("tlc,lc->tc", lagged, weights / weights.sum(axis=0))
    ratio = jnp.where(carried > 0, carried, 1.0) / half
    curve = jnp.where(carried > 0, ratio**slope / (1 + ratio**slope), 0.0)
    media = numpyro.deterministic("media", beta * curve)
    intercept = numpyro.sample("intercept", dist.Normal(0.5, 0.5))
    growth = numpyro.sample("trend", dist.Normal(0.0, 0.5))
    with numpyro.plate("fourier", fourier.shape[1]):
        season = numpyro.sample("season", dist.Normal(0.0, 0.5))
    with numpyro.plate("controls", controls.shape[1]):
        gamma = numpyro.sample("gamma", dist.Normal(0.0, 0.5))
    mu = intercept + growth * trend + fourier @ season + controls @ gamma + media.sum(axis=1)
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.5))
    numpyro.sample("kpi", dist.Normal(mu, sigma), obs=kpi)


def _fourier(periods: int, per_year: float, order: int) -> NDArray[np.float64]:
    t = np.arange(periods)
    angles = 2 * np.pi * t[:, None] * np.arange(1, order + 1)[None, :] / per_year
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def plain(case: PlainCase, chains: int, warmup: int, samples: int, seed: int = 0) -> Estimate:
    """The textbook model over every period (no holdout), numpyro's own NUTS loop."""
    data = case.data
    periods = data.periods
    spend_scale = data.spend.mean(axis=0)
    kpi_scale = float(data.kpi.mean())
    relative = data.spend / spend_scale
    l_max = L_MAX if case.frequency == "weekly" else DAILY_L_MAX
    lagged = np.zeros((periods, l_max, len(data.channels)))
    for lag in range(l_max):
        lagged[lag:, lag] = relative[: periods - lag]
    fourier = _fourier(periods, PERIODS_PER_YEAR[case.frequency], 2)
    if case.frequency == "daily":
        fourier = np.concatenate([fourier, _fourier(periods, 7.0, 3)], axis=1)
    trend = np.arange(periods) / periods - 0.5
    controls = (data.controls - data.controls.mean(axis=0)) / data.controls.std(axis=0)
    mcmc = MCMC(
        NUTS(_plain_model, target_accept_prob=0.9),
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method="sequential",
        progress_bar=False,
    )
    started = time.perf_counter()
    mcmc.run(
        jax.random.PRNGKey(seed),
        jnp.asarray(lagged),
        jnp.asarray(fourier),
        jnp.asarray(trend),
        jnp.asarray(controls),
        jnp.asarray(data.kpi / kpi_scale),
        extra_fields=("diverging", "num_steps"),
    )
    wall = time.perf_counter() - started
    media = np.asarray(mcmc.get_samples()["media"])
    roas = media.sum(axis=1) * kpi_scale / data.spend.sum(axis=0)
    extra = mcmc.get_extra_fields()
    rhat = numpyro.diagnostics.summary(mcmc.get_samples(group_by_chain=True))
    return Estimate(
        median=np.median(roas, axis=0),
        lower=np.quantile(roas, 0.05, axis=0),
        upper=np.quantile(roas, 0.95, axis=0),
        truth=case.true_roas_over(periods),
        divergences=int(np.asarray(extra["diverging"]).sum()),
        steps=float(np.asarray(extra["num_steps"]).mean()),
        max_rhat=float(max(np.nanmax(s["r_hat"]) for k, s in rhat.items() if k not in ("media",))),
        wall=wall,
    )


def oracle_errors(case: PlainCase) -> NDArray[np.float64]:
    """Least squares on the true contribution curves and the true baseline terms: the absolute
    relative error of each channel's scale (= of its ROAS), over every period."""
    design = np.column_stack([case.contributions, case.baseline_terms])
    scales, *_ = np.linalg.lstsq(design, case.data.kpi, rcond=None)
    result: NDArray[np.float64] = np.abs(scales[: len(case.data.channels)] - 1)
    return result


# --- the table ------------------------------------------------------------------------------


def summary_row(label: str, estimates: Sequence[Estimate], oracle: Sequence[float]) -> str:
    errors = np.concatenate([e.errors for e in estimates])
    covered = np.concatenate([e.covered for e in estimates])
    widths = np.concatenate([e.widths for e in estimates])
    divergent = [e.divergences for e in estimates]
    return (
        f"{label:34} {np.median(errors):>7.1%} {np.median(oracle):>6.1%} "
        f"{np.median(errors) / max(np.median(oracle), 1e-9):>6.2f} "
        f"{covered.mean():>6.0%} {np.median(widths):>6.2f} {sum(divergent):>5} "
        f"{sum(d == 0 for d in divergent):>3}/{len(divergent):<3} "
        f"{np.mean([e.steps for e in estimates]):>5.0f} "
        f"{np.median([e.step_size for e in estimates]):>5.3f} "
        f"{np.median([e.wall for e in estimates]):>6.1f} "
        f"{max(e.max_rhat for e in estimates):>6.3f}"
    )


SUMMARY_HEADER = (
    f"{'estimator':34} {'med.err':>7} {'oracle':>6} {'ratio':>6} {'cover':>6} {'width':>6} "
    f"{'div':>5} {'0div':>7} {'steps':>5} {'eps':>5} {'wall s':>6} {'R-hat':>6}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument(
        "--estimators",
        nargs="+",
        default=["liftos-api", "liftos", "plain"],
        choices=["liftos-api", "liftos", "plain"],
        help="liftos-api: what the API fits by default (calendar controls, every period "
        "fitted, 21 lags for daily data); liftos: ModelSpec defaults, no calendar controls",
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")
    config = FitConfig(chains=args.chains, warmup=args.warmup, samples=args.samples)
    for case_name in args.cases:
        cases = [CASES[case_name](seed) for seed in range(args.seeds)]
        oracle = np.concatenate([oracle_errors(c) for c in cases])
        print(f"\n{case_name}, {args.seeds} seeds")
        print(SUMMARY_HEADER)
        for estimator in args.estimators:
            estimates = []
            for case in cases:
                if estimator == "plain":
                    estimates.append(plain(case, args.chains, args.warmup, args.samples))
                else:
                    api = estimator == "liftos-api"
                    lag = DEFAULT_MAX_LAG[case.frequency] if api else ModelSpec.max_lag
                    spec = ModelSpec(max_lag=lag)
                    estimate, _ = liftos(case, spec, config, holdout=False, calendar=api)
                    estimates.append(estimate)
            print(summary_row(estimator, estimates, list(oracle)), flush=True)


if __name__ == "__main__":
    main()

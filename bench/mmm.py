"""Speed and truthfulness of the MMM fit on simulated data with a known answer.

Prints, per dataset, wall time, max R-hat, divergences, leapfrog steps per draw, peak memory,
the share of channels whose true ROAS lies in the 90 % interval, and the median absolute ROAS
error; then each target with PASS or FAIL. Datasets cycle through carry-over (geometric /
Weibull) and saturation (Hill / logistic) and three noise levels; the generating process is
engine.causal.simulate, which differs from the model on purpose (see its docstring). Each fit
uses the model family an analyst would pick for that data (the simulator's adstock and
saturation kind); the shapes, truncation, trend, noise and spend process still differ.
The ``oracle`` column is least squares handed the true contribution curves (see
``_oracle_errors``): the error that remains with the curves known, i.e. what the data allow.

Run: ``.venv/bin/python bench/mmm.py --datasets 20`` (``--help`` for sizes); ``--geo`` times a
geo-panel fit instead. Issue 3's targets on 2 cores: 156 weeks x 10 channels plus controls,
4 chains x (1000 + 1000) in ≤ 20 s with max R-hat ≤ 1.01 and < 4 GB; coverage ≥ 90 % and median
error ≤ 15 % over 20 datasets.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from engine.causal.inference import FitConfig, fit
from engine.causal.model import trend_bends
from engine.causal.simulate import SimulatedMMM, simulate, simulate_geo
from engine.causal.spec import AdstockKind, ModelSpec, SaturationKind

VARIANTS: tuple[tuple[AdstockKind, SaturationKind], ...] = (
    ("geometric", "hill"),
    ("weibull", "logistic"),
    ("geometric", "logistic"),
    ("weibull", "hill"),
)
NOISE_LEVELS = (0.03, 0.06, 0.10)  # log-scale sd of the multiplicative noise
MAX_WALL_S = 20.0
MAX_RHAT = 1.01
MAX_RSS_MB = 4096.0
MIN_COVERAGE = 0.90
MAX_MEDIAN_ERROR = 0.15


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Dataset:
    """One of the benchmark's simulated datasets and the model family fitted to it."""

    index: int
    adstock: AdstockKind
    saturation: SaturationKind
    noise: float
    sim: SimulatedMMM
    spec: ModelSpec


def dataset(index: int, periods: int = 156, channels: int = 10) -> Dataset:
    """The ``index``-th dataset of ``--datasets N``: variants and noise levels cycle, seed 100+i."""
    adstock, saturation = VARIANTS[index % len(VARIANTS)]
    noise = NOISE_LEVELS[index % len(NOISE_LEVELS)]
    sim = simulate(
        periods=periods,
        channels=channels,
        adstock=adstock,
        saturation=saturation,
        noise=noise,
        seed=100 + index,
    )
    spec = ModelSpec(adstock=adstock, saturation=saturation)
    return Dataset(index, adstock, saturation, noise, sim, spec)


@dataclass(frozen=True)
class OracleFit:
    """Each channel's estimated scale of its true contribution curve (1 is exact) with an
    ordinary least-squares confidence interval of ``mass`` (t quantiles, homoscedastic errors;
    the simulator's noise is multiplicative and its baseline not exactly the oracle's, so this
    interval is the textbook one, not a guaranteed one). ROAS estimate and interval are these
    times the true ROAS over the fit window."""

    scales: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]


def oracle_fit(sim: SimulatedMMM, spec: ModelSpec, mass: float = 0.90) -> OracleFit:
    """An oracle: least squares that is handed each channel's true contribution curve (its
    exact carry-over and saturation), so only the scale of each curve is left to estimate, next
    to the model's own baseline terms (intercept, trend and its bends, Fourier seasonality,
    controls). No fit of this data can expect to do much better; the gap between the model and
    the oracle is what not knowing the curves costs."""
    periods = sim.data.periods
    t = np.arange(periods)
    angles = 2 * np.pi * t[:, None] * np.arange(1, spec.seasonality_order + 1) / 52.18
    design = np.column_stack(
        [
            sim.contributions,
            np.ones(periods),
            t / periods,
            trend_bends(periods, periods, spec.trend_knots),
            np.sin(angles),
            np.cos(angles),
            sim.data.controls,
        ]
    )
    first = spec.max_lag if spec.unseen_history else 0  # the model's likelihood window
    x, y = design[first:], sim.data.kpi[first:]
    scales, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = x.shape[0] - x.shape[1]
    sigma2 = float(np.sum((y - x @ scales) ** 2)) / dof
    se = np.sqrt(sigma2 * np.diag(np.linalg.pinv(x.T @ x)))
    half = stats.t.ppf(0.5 + mass / 2, dof) * se
    k = len(sim.data.channels)
    return OracleFit(scales[:k], scales[:k] - half[:k], scales[:k] + half[:k])


def _oracle_errors(sim: SimulatedMMM, spec: ModelSpec) -> list[float]:
    """Absolute relative ROAS errors of ``oracle_fit``."""
    return [float(abs(s - 1.0)) for s in oracle_fit(sim, spec).scales]


def _national(args: argparse.Namespace) -> None:
    header = f"{'#':>3} {'adstock':9} {'saturation':10} {'noise':>5} {'wall s':>7} {'R-hat':>6} "
    header += f"{'div':>4} {'steps':>5} {'covered':>7} {'med.err':>7} {'oracle':>6} {'RSS MB':>7}"
    print(header)
    covered_all: list[bool] = []
    errors_all: list[float] = []
    oracle_all: list[float] = []
    walls: list[float] = []
    rhats: list[float] = []
    for index in range(args.datasets):
        case = dataset(index, args.periods, args.channels)
        adstock, saturation, noise = case.adstock, case.saturation, case.noise
        sim, spec = case.sim, case.spec
        config = FitConfig(
            chains=args.chains,
            warmup=args.warmup,
            samples=args.samples,
            target_accept=args.target_accept,
        )
        started = time.perf_counter()
        result = fit(sim.data, spec, config)
        wall = time.perf_counter() - started
        truth = sim.true_roas_over(result.fit_periods)
        covered = [r.lower <= t <= r.upper for r, t in zip(result.roas, truth, strict=True)]
        errors = [abs(r.median - t) / t for r, t in zip(result.roas, truth, strict=True)]
        oracle = _oracle_errors(sim, spec)
        covered_all += covered
        errors_all += errors
        oracle_all += oracle
        walls.append(wall)
        d = result.diagnostics
        rhats.append(d.max_rhat)
        print(
            f"{index:>3} {adstock:9} {saturation:10} {noise:>5.2f} {wall:>7.1f} "
            f"{d.max_rhat:>6.3f} {d.divergences:>4} {d.mean_steps:>5.0f} {np.mean(covered):>7.0%} "
            f"{np.median(errors):>7.1%} {np.median(oracle):>6.1%} {_peak_rss_mb():>7.0f}",
            flush=True,
        )
    coverage, error = float(np.mean(covered_all)), float(np.median(errors_all))
    slowest, worst_rhat, rss = max(walls), max(rhats), _peak_rss_mb()
    print(f"wall time: median {np.median(walls):.1f} s, slowest {slowest:.1f} s")
    print(
        f"{_verdict(slowest <= MAX_WALL_S)} fit wall ≤ {MAX_WALL_S:.0f} s: slowest {slowest:.1f} s"
    )
    print(f"{_verdict(worst_rhat <= MAX_RHAT)} max R-hat ≤ {MAX_RHAT}: worst {worst_rhat:.3f}")
    print(f"{_verdict(rss < MAX_RSS_MB)} memory < 4 GB: peak RSS {rss:.0f} MB")
    print(
        f"{_verdict(coverage >= MIN_COVERAGE)} true ROAS inside the 90 % interval for "
        f"≥ {MIN_COVERAGE:.0%} of channels: {coverage:.1%} of {len(covered_all)}"
    )
    print(
        f"{_verdict(error <= MAX_MEDIAN_ERROR)} median absolute ROAS error ≤ "
        f"{MAX_MEDIAN_ERROR:.0%}: {error:.1%} (oracle that knows the true curves: "
        f"{np.median(oracle_all):.1%})"
    )


def _geo(args: argparse.Namespace) -> None:
    sim = simulate_geo(geos=args.geos, periods=args.periods, channels=args.channels, seed=7)
    config = FitConfig(
        chains=args.chains,
        warmup=args.warmup,
        samples=args.samples,
        target_accept=args.target_accept,
    )
    started = time.perf_counter()
    result = fit(sim.data, ModelSpec(), config)
    wall = time.perf_counter() - started
    d = result.diagnostics
    national = np.array([r.median for r in result.roas])
    covered = np.mean(
        [r.lower <= t <= r.upper for r, t in zip(result.roas, sim.true_roas, strict=True)]
    )
    geo_truth = sim.true_geo_roas.ravel()
    geo_covered = np.mean(
        [r.lower <= t <= r.upper for r, t in zip(result.geo_roas, geo_truth, strict=True)]
    )
    geo_error = np.median(np.abs(np.array([r.median for r in result.geo_roas]) / geo_truth - 1))
    print(
        f"geo panel {args.geos} geos x {args.periods} periods x {args.channels} channels: "
        f"wall {wall:.1f} s, max R-hat {d.max_rhat:.3f}, {d.divergences} divergences, "
        f"{d.mean_steps:.0f} steps/draw, peak RSS {_peak_rss_mb():.0f} MB"
    )
    print(
        f"national ROAS: median error {np.median(np.abs(national / sim.true_roas - 1)):.1%}, "
        f"{covered:.0%} covered; geo ROAS: median error {geo_error:.1%}, {geo_covered:.0%} covered"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1)
    parser.add_argument("--periods", type=int, default=156)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--target-accept", type=float, default=FitConfig().target_accept)
    parser.add_argument("--geo", action="store_true", help="time a geo panel instead")
    parser.add_argument("--geos", type=int, default=10)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")
    if args.geo:
        _geo(args)
    else:
        _national(args)


if __name__ == "__main__":
    main()

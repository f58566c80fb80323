"""What each of the MMM's defaults costs or buys, one factor at a time, measured on two unrelated
data generators: ``bench/mmm.py``'s datasets (engine.causal.simulate) and the plain ones of
``bench/mmm_plain.py``.

A variant is the defaults with one thing changed: a spec field, a fixed prior of
``engine.causal.model.PRIORS``, a sampler setting, or what the API adds around the fit (the
default holdout, the calendar controls). Per variant and source the table prints the median
absolute ROAS error, the oracle's (least squares with the true curves) and their ratio, the
share of channels whose truth lies in the 90 % interval, the median interval width relative to
the truth, divergences (total, and fits with none), leapfrog steps per draw, the adapted step
size, the median wall time and the worst R-hat. ``--jsonl`` appends one line per fit.

Run: ``.venv/bin/python bench/mmm_ablation.py --variants defaults no-calendar --sources
bench:0-5 weekly-104x4:0-2 --chains 2 --warmup 300 --samples 300`` (``--list`` shows variants).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mmm import dataset, oracle_fit
from bench.mmm_plain import (
    CASES,
    FIRST_DATE,
    SUMMARY_HEADER,
    Estimate,
    PlainCase,
    liftos,
    oracle_errors,
    summary_row,
)
from engine.causal import model
from engine.causal.inference import FitConfig
from engine.causal.spec import ModelSpec, RoasPrior


@dataclass(frozen=True)
class Variant:
    """The defaults with some things changed."""

    spec: dict[str, Any] = field(default_factory=dict)
    priors: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    holdout: bool = False  # the API's default holdout
    calendar: bool = False  # the API's calendar controls


VARIANTS: dict[str, Variant] = {
    "defaults": Variant(),
    # The API's defaults before issue 12 (a 10 % holdout, max 13, and the calendar controls);
    # since then it fits every period, and daily data get 21 lags ("calendar-lag-21").
    "holdout-calendar": Variant(holdout=True, calendar=True),
    "calendar": Variant(calendar=True),
    "holdout": Variant(holdout=True),
    "logistic": Variant(spec={"saturation": "logistic"}),
    "K-narrow": Variant(priors={"half_saturation": (0.0, 0.4)}),
    "slope-narrow": Variant(priors={"hill_slope": (math.log(1.5), 0.25)}),
    "lambda-narrow": Variant(priors={"logistic_lambda": (0.0, 0.5)}),
    "K-wide": Variant(priors={"half_saturation": (0.0, 1.2)}),
    "K-meridian": Variant(priors={"half_saturation": (math.log(0.8), 0.8)}),
    "slope-1": Variant(priors={"hill_slope": (0.0, 0.05)}),
    "slope-wide": Variant(priors={"hill_slope": (math.log(1.5), 0.7)}),
    "lambda-wide": Variant(priors={"logistic_lambda": (0.0, 1.2)}),
    "alpha-flat": Variant(priors={"adstock_alpha": (1.0, 1.0)}),
    "roas-spread-4": Variant(spec={"roas_prior": RoasPrior(1.0, 4.0)}),
    "roas-median-2": Variant(spec={"roas_prior": RoasPrior(2.0, 2.5)}),
    "no-pooling": Variant(spec={"roas_pooling": 0.0}),
    "pooling-0.8": Variant(spec={"roas_pooling": 0.8}),
    "no-bends": Variant(spec={"trend_knots": 0}),
    "knots-4": Variant(spec={"trend_knots": 4}),
    "no-unseen": Variant(spec={"unseen_history": False}),
    "season-1": Variant(spec={"seasonality_order": 1}),
    "season-3": Variant(spec={"seasonality_order": 3}),
    "lag-4": Variant(spec={"max_lag": 4}),
    "lag-13": Variant(spec={"max_lag": 13}),
    "lag-21": Variant(spec={"max_lag": 21}),
    "lag-28": Variant(spec={"max_lag": 28}),
    "calendar-lag-21": Variant(spec={"max_lag": 21}, calendar=True),
    "accept-0.8": Variant(config={"target_accept": 0.8}),
    "accept-0.9": Variant(config={"target_accept": 0.9}),
    "diag-mass": Variant(config={"dense_mass": False}),
    "sigma-wide": Variant(priors={"sigma": 1.0}),
    "control-wide": Variant(priors={"control": 1.0}),
}


@contextmanager
def priors(overrides: dict[str, Any]) -> Iterator[None]:
    """The model's fixed priors with ``overrides`` for the duration (the sampler cache is keyed
    on them, so no compiled program of other priors is reused)."""
    saved = model.PRIORS
    model.PRIORS = replace(saved, **overrides)
    try:
        yield
    finally:
        model.PRIORS = saved


def _bench_case(index: int) -> tuple[PlainCase, ModelSpec, list[float]]:
    """``bench/mmm.py``'s ``index``-th dataset as a case (weekly dates from a Monday)."""
    chosen = dataset(index)
    sim = chosen.sim
    periods = sim.data.periods
    case = PlainCase(
        name=f"bench/{index}",
        frequency="weekly",
        data=sim.data,
        contributions=sim.contributions,
        baseline_terms=np.ones((periods, 1)),
        dates=tuple(FIRST_DATE + timedelta(days=7 * i) for i in range(periods)),
    )
    oracle = [float(abs(s - 1)) for s in oracle_fit(sim, chosen.spec).scales]
    return case, chosen.spec, oracle


def _sources(text: str) -> tuple[str, list[tuple[PlainCase, ModelSpec, list[float]]]]:
    """``bench:0-19`` or ``weekly-104x4:0-2``: a source and its dataset indices (seeds)."""
    name, _, indices = text.partition(":")
    first, _, last = (indices or "0-2").partition("-")
    chosen = range(int(first), int(last or first) + 1)
    if name == "bench":
        return name, [_bench_case(i) for i in chosen]
    cases = [CASES[name](seed) for seed in chosen]
    return name, [(c, ModelSpec(), list(oracle_errors(c))) for c in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["defaults"])
    parser.add_argument("--sources", nargs="+", default=["bench:0-5", "weekly-104x4:0-2"])
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--jsonl", type=Path, default=None)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for name, variant in VARIANTS.items():
            print(f"{name:16} {variant}")
        return
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")
    print(f"{args.chains} chains x ({args.warmup} + {args.samples})")
    sources = [_sources(s) for s in args.sources]
    for source, cases in sources:
        print(f"\n{source}: {len(cases)} datasets")
        print(SUMMARY_HEADER)
        for name in args.variants:
            variant = VARIANTS[name]
            config = FitConfig(
                chains=args.chains, warmup=args.warmup, samples=args.samples, **variant.config
            )
            estimates: list[Estimate] = []
            oracle: list[float] = []
            with priors(variant.priors):
                for case, spec, case_oracle in cases:
                    estimate, result = liftos(
                        case,
                        replace(spec, **variant.spec),
                        config,
                        holdout=variant.holdout,
                        calendar=variant.calendar,
                    )
                    estimates.append(estimate)
                    oracle += case_oracle
                    if args.jsonl is not None:
                        record = {
                            "variant": name,
                            "case": case.name,
                            "chains": args.chains,
                            "warmup": args.warmup,
                            "samples": args.samples,
                            "errors": estimate.errors.tolist(),
                            "covered": estimate.covered.tolist(),
                            "widths": estimate.widths.tolist(),
                            "oracle": case_oracle,
                            "divergences": estimate.divergences,
                            "steps": estimate.steps,
                            "step_size": result.diagnostics.step_size,
                            "max_rhat": estimate.max_rhat,
                            "wall": estimate.wall,
                        }
                        with args.jsonl.open("a") as out:
                            out.write(json.dumps(record) + "\n")
            print(summary_row(name, estimates, oracle), flush=True)


if __name__ == "__main__":
    main()

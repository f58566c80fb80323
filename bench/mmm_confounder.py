"""Hidden-confounder benchmark: the MMM's ROAS on PyMC-Marketing's ``mmm_roas_data.csv`` without
and with a lift test.

The file (PyMC-Marketing, Apache License 2.0; data-generating process by Juan Orduz, "Media Mix
Model and Experimental Calibration: A Simulation Study") has an unobserved confounder ``z`` that
drives both the spend on ``x1`` and the KPI. True ROAS: x1 93.39, x2 171.41. It is read from
``../shared/data/mmm/`` beside the repository, never copied into it; ``--data`` points elsewhere.

Variants (z hidden unless said otherwise; all share one vague KPI-share ROAS prior):
- ``biased``: the known process's adstock/saturation (geometric, 4 lags, logistic), no test;
- ``lift SE p%``: plus one lift test on x1 (default weeks 52-63) with standard error p % of the
  true effect, measured as true incremental KPI + seeded noise;
- ``lift SE p% + spend ctl``: the same test, with x1's spend also entered as a control so the
  non-causal spend-demand association has a term of its own (see
  ``ConfoundedSimulation.with_spend_as_control``);
- ``oracle (z control)``: z given as a control, no test;
- ``default spec …``: ``ModelSpec()``'s Hill saturation and 8 lags instead of the known shape.

Run from the repository root: ``.venv/bin/python -m bench.mmm_confounder`` (``--help`` for
options).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.causal.confounded import (
    ConfoundedSimulation,
    kpi_share_roas_priors,
    load_pymc_marketing_csv,
)
from engine.causal.data import LiftTest, MMMData
from engine.causal.inference import FitConfig, fit
from engine.causal.spec import ModelSpec

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "mmm"
    / "pymc_marketing_mmm_roas_data.csv"
)


def _variants(
    sim: ConfoundedSimulation, args: argparse.Namespace
) -> list[tuple[str, MMMData, ModelSpec]]:
    priors = kpi_share_roas_priors(sim.data)
    known = ModelSpec(
        adstock="geometric", max_lag=4, saturation="logistic", channel_roas_priors=priors
    )
    default = ModelSpec(channel_roas_priors=priors)
    start, end = args.window
    effect = sim.incremental_kpi("x1", start, end)

    def lift(relative_se: float) -> LiftTest:
        se = relative_se * effect
        return sim.lift_test("x1", start=start, end=end, standard_error=se, seed=args.lift_seed)

    first = lift(args.relative_se[0])
    variants = [("biased", sim.data, known)]
    for relative_se in args.relative_se:
        label = f"lift SE {relative_se:.0%}"
        variants.append((label, sim.with_lift_tests(lift(relative_se)), known))
    label = f"lift SE {args.relative_se[0]:.0%} + spend ctl"
    variants.append((label, sim.with_spend_as_control("x1", first), known))
    variants.append(("oracle (z control)", sim.with_confounder_as_control(), known))
    variants.append(("default spec, biased", sim.data, default))
    variants.append((f"default spec, {label}", sim.with_spend_as_control("x1", first), default))
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="sampler seed")
    parser.add_argument("--lift-seed", type=int, default=1, help="seed of the test's noise")
    parser.add_argument("--window", type=int, nargs=2, default=(52, 63), metavar=("START", "END"))
    parser.add_argument(
        "--relative-se",
        type=float,
        nargs="+",
        default=[0.10, 0.02],
        help="standard errors of the lift test, as fractions of its true effect",
    )
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(
            f"data file not found: {args.data}\n"
            "It is PyMC-Marketing's data/mmm_roas_data.csv (Apache-2.0), kept outside the "
            "repository in ../shared/data/mmm/; pass --data PATH to use another copy."
        )
    sim = load_pymc_marketing_csv(args.data)
    truth = sim.true_roas
    config = FitConfig(chains=args.chains, warmup=args.warmup, samples=args.samples, seed=args.seed)
    start, end = args.window
    print(
        f"{args.data.name}: {sim.data.periods} weeks; true ROAS x1 {truth[0]:.2f}, "
        f"x2 {truth[1]:.2f}; lift test on x1, weeks {start}-{end}, true effect "
        f"{sim.incremental_kpi('x1', start, end):.1f}; {config.chains} chains x "
        f"({config.warmup} + {config.samples})"
    )
    header = (
        f"{'variant':34} {'ROAS x1 median [5%, 95%]':>26} {'ROAS x2 median [5%, 95%]':>26} "
        f"{'err x1':>7} {'err x2':>7} {'covered':>8} {'R-hat':>6} {'div':>4} {'wall s':>7}"
    )
    print(header)
    for label, data, spec in _variants(sim, args):
        started = time.perf_counter()
        result = fit(data, spec, config)
        wall = time.perf_counter() - started
        cells, errors, covered = [], [], []
        for estimate, true_roas in zip(result.roas, truth, strict=True):
            cells.append(f"{estimate.median:7.1f} [{estimate.lower:6.1f}, {estimate.upper:6.1f}]")
            errors.append(f"{(estimate.median - true_roas) / true_roas:+7.0%}")
            covered.append("y" if estimate.lower <= true_roas <= estimate.upper else "n")
        d = result.diagnostics
        print(
            f"{label:34} {cells[0]:>26} {cells[1]:>26} {errors[0]} {errors[1]} "
            f"{'/'.join(covered):>8} {d.max_rhat:6.3f} {d.divergences:4d} {wall:7.1f}",
            flush=True,
        )
    print("covered: truth inside the 90 % interval (x1/x2); err: (median - truth) / truth")


if __name__ == "__main__":
    main()

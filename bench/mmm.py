"""Speed and truthfulness of the MMM fit on simulated data with a known answer.

Prints, per dataset, wall time, max R-hat, divergences, peak memory, the share of channels whose
true ROAS lies in the 90 % interval, and the median absolute ROAS error. Datasets vary adstock
(geometric / Weibull), saturation (Hill / logistic) and noise; the generating process is
engine.causal.simulate, written separately from the model.

Run: ``.venv/bin/python bench/mmm.py`` (``--help`` for sizes). Issue 3's targets on 2 cores:
156 weeks x 10 channels, 4 chains x (1000 + 1000) in ≤ 20 s with max R-hat ≤ 1.01; coverage
≥ 90 % and median error ≤ 15 % over 20 datasets.
"""

from __future__ import annotations

import os

# One XLA host device per chain lets NUTS run the chains in parallel (pmap) instead of
# vectorised on one device; XLA reads this once, before JAX starts, hence before the imports.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import argparse
import resource
import time

import numpy as np

from engine.causal.inference import FitConfig, fit
from engine.causal.simulate import simulate
from engine.causal.spec import ModelSpec

VARIANTS = (
    ("geometric", "hill"),
    ("weibull", "logistic"),
    ("geometric", "logistic"),
    ("weibull", "hill"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1)
    parser.add_argument("--periods", type=int, default=156)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    header = f"{'#':>3} {'adstock':9} {'saturation':10} {'noise':>5} {'wall s':>7} {'R-hat':>6} "
    header += f"{'div':>4} {'covered':>7} {'med.err':>7} {'RSS MB':>7}"
    print(header)
    covered_all: list[bool] = []
    errors_all: list[float] = []
    for index in range(args.datasets):
        adstock, saturation = VARIANTS[index % len(VARIANTS)]
        noise = (0.03, 0.06, 0.1)[index % 3]
        sim = simulate(
            periods=args.periods,
            channels=args.channels,
            adstock=adstock,
            saturation=saturation,
            noise=noise,
            seed=100 + index,
        )
        spec = ModelSpec(adstock=adstock, saturation=saturation)
        config = FitConfig(chains=args.chains, warmup=args.warmup, samples=args.samples)
        started = time.perf_counter()
        result = fit(sim.data, spec, config)
        wall = time.perf_counter() - started
        truth = sim.true_roas_over(sim.data.periods)
        covered = [r.lower <= t <= r.upper for r, t in zip(result.roas, truth, strict=True)]
        errors = [abs(r.median - t) / t for r, t in zip(result.roas, truth, strict=True)]
        covered_all += covered
        errors_all += errors
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        d = result.diagnostics
        print(
            f"{index:>3} {adstock:9} {saturation:10} {noise:>5.2f} {wall:>7.1f} "
            f"{d.max_rhat:>6.3f} {d.divergences:>4} {np.mean(covered):>7.0%} "
            f"{np.median(errors):>7.1%} {rss_mb:>7.0f}"
        )
    print(
        f"overall: {np.mean(covered_all):.0%} of channels covered by the 90 % interval, "
        f"median absolute ROAS error {np.median(errors_all):.1%}"
    )


if __name__ == "__main__":
    main()

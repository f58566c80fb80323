"""LiftOS's MMM beside PyMC-Marketing on the same simulated datasets: wall time, max R-hat,
coverage of the true ROAS by the 90 % interval and median absolute ROAS error.

PyMC-Marketing is not a LiftOS dependency; it runs in its own virtualenv, given by ``--python``
(for example ``python -m venv /tmp/pymc && /tmp/pymc/bin/pip install pymc-marketing==0.19.0
nutpie``). Each dataset is written to CSV and fitted there by a small worker script with
PyMC-Marketing's ``MMM`` (geometric adstock, logistic saturation, yearly seasonality, 4 chains
x (1000 tune + 1000 draws), nutpie sampler), the configuration of the issue's reference run.
LiftOS fits the same data in this process with the matching ``ModelSpec``.

Run: ``.venv/bin/python bench/mmm_pymc.py --python /tmp/pymc/bin/python``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.causal.inference import FitConfig, fit
from engine.causal.simulate import simulate
from engine.causal.spec import ModelSpec

WORKER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import arviz as az
import numpy as np
import pandas as pd
from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation

path, chains, draws, tune, sampler, l_max = sys.argv[1:7]
frame = pd.read_csv(path, parse_dates=["date"])
channels = [c for c in frame.columns if c.startswith("spend_")]
mmm = MMM(
    date_column="date",
    channel_columns=channels,
    adstock=GeometricAdstock(l_max=int(l_max)),
    saturation=LogisticSaturation(),
    yearly_seasonality=2,
)
started = time.perf_counter()
mmm.fit(frame[["date", *channels]], frame["revenue"], chains=int(chains), draws=int(draws),
        tune=int(tune), nuts_sampler=sampler, random_seed=1, progressbar=False)
wall = time.perf_counter() - started
contribution = mmm.compute_channel_contribution_original_scale().sum(dim="date")
draws_ = contribution.stack(sample=("chain", "draw")).transpose("sample", ...).values
roas = draws_ / frame[channels].sum().values[None, :]
rhat = float(az.rhat(mmm.idata.posterior).to_array().max())
print(json.dumps({"wall": wall, "rhat": rhat, "median": np.median(roas, 0).tolist(),
                  "lower": np.quantile(roas, 0.05, 0).tolist(),
                  "upper": np.quantile(roas, 0.95, 0).tolist()}))
"""


def fit_pymc(python: str, csv: Path, args: argparse.Namespace) -> dict[str, object]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(WORKER)
    started = time.perf_counter()
    try:
        completed = subprocess.run(  # our own worker script, our own arguments
            [
                python,
                script.name,
                str(csv),
                str(args.chains),
                str(args.samples),
                str(args.warmup),
                args.sampler,
                "8",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
    finally:
        os.unlink(script.name)
    outcome: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    outcome["process_wall"] = time.perf_counter() - started
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--python", required=True, help="a Python with pymc-marketing + nutpie")
    parser.add_argument("--datasets", type=int, default=3)
    parser.add_argument("--periods", type=int, default=156)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--sampler", default="nutpie", choices=["nutpie", "pymc"])
    args = parser.parse_args()

    print(f"{'#':>2} {'system':15} {'wall s':>7} {'R-hat':>6} {'covered':>8} {'med.err':>8}")
    totals: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for index in range(args.datasets):
            noise = (0.03, 0.06, 0.10)[index % 3]
            sim = simulate(
                periods=args.periods,
                channels=args.channels,
                adstock="geometric",
                saturation="logistic",
                noise=noise,
                seed=200 + index,
            )
            csv = Path(folder) / f"dataset-{index}.csv"
            header = "date," + ",".join(f"spend_{c}" for c in sim.data.channels) + ",revenue"
            dates = np.arange(
                np.datetime64("2021-01-04"), np.datetime64("2021-01-04") + 7 * sim.data.periods, 7
            )
            rows = [
                ",".join([str(d), *(f"{v:.6f}" for v in spend), f"{kpi:.6f}"])
                for d, spend, kpi in zip(dates, sim.data.spend, sim.data.kpi, strict=True)
            ]
            csv.write_text("\n".join([header, *rows]) + "\n")
            truth = sim.true_roas_over(sim.data.periods)

            spec = ModelSpec(adstock="geometric", saturation="logistic")
            config = FitConfig(chains=args.chains, warmup=args.warmup, samples=args.samples)
            started = time.perf_counter()
            ours = fit(sim.data, spec, config)
            wall = time.perf_counter() - started
            results = {
                "LiftOS (numpyro)": (
                    wall,
                    ours.diagnostics.max_rhat,
                    np.array([r.median for r in ours.roas]),
                    np.array([r.lower for r in ours.roas]),
                    np.array([r.upper for r in ours.roas]),
                )
            }
            theirs = fit_pymc(args.python, csv, args)
            results[f"PyMC-M ({args.sampler})"] = (
                float(theirs["process_wall"]),  # type: ignore[arg-type]
                float(theirs["rhat"]),  # type: ignore[arg-type]
                np.array(theirs["median"]),
                np.array(theirs["lower"]),
                np.array(theirs["upper"]),
            )
            for name, (wall_s, rhat, median, lower, upper) in results.items():
                covered = float(np.mean((lower <= truth) & (truth <= upper)))
                error = float(np.median(np.abs(median / truth - 1)))
                entry = totals.setdefault(name, {"wall": [], "covered": [], "error": []})
                entry["wall"].append(wall_s)
                entry["covered"].append(covered)
                entry["error"] += list(np.abs(median / truth - 1))
                print(
                    f"{index:>2} {name:15} {wall_s:>7.1f} {rhat:>6.3f} {covered:>8.0%} "
                    f"{error:>8.1%}",
                    flush=True,
                )
    print("\nsummary (all datasets)")
    for name, entry in totals.items():
        print(
            f"   {name:15} median wall {np.median(entry['wall']):>6.1f} s, "
            f"coverage {np.mean(entry['covered']):.0%}, "
            f"median ROAS error {np.median(entry['error']):.1%}"
        )


if __name__ == "__main__":
    main()

"""Speed, convergence and truthfulness of the geo hierarchy on simulated panels.

Fits ``simulate_geo`` panels (seed 7, 8, ... one per ``--panels``) with ``geo_hierarchy``'s model
(``ModelSpec()`` defaults, ``FitConfig`` defaults unless overridden) and prints, per panel: wall
time split into compiling, warm-up and sampling; leapfrog steps per draw (mean and quantiles
over the kept draws) and tree depth; the adapted step size; divergences; max R-hat and min ESS;
then the share of geo x channel pairs and of national channels whose true ROAS lies in the 90 %
interval, and the median absolute relative ROAS error of each. The gradient cost (one
evaluation of the log density and its gradient, single thread, same model and panel) is timed
separately, so that seconds measured on a shared machine can be read as steps x gradient cost.
A summary over all panels ends the table; ``--jsonl`` appends one line per panel.

Run: ``.venv/bin/python bench/mmm_geo.py --geos 10 --periods 156 --channels 10 --panels 3``
(issue 12 §3 target on 2 cores: 10 geos x 156 weeks x 10 channels, 4 chains x (1000 + 1000),
max R-hat ≤ 1.01, ≤ 1 % divergent draws, ≤ 120 s; 90 % intervals covering 85-95 % of the truth).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import numpy as np
from numpy.typing import NDArray
from numpyro.infer.util import initialize_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.causal import inference
from engine.causal.inference import FitConfig, fit
from engine.causal.model import build_design, mmm_model
from engine.causal.simulate import simulate_geo
from engine.causal.spec import ModelSpec

MAX_WALL_S = 120.0
MAX_RHAT = 1.01
MAX_DIVERGENT_SHARE = 0.01
COVERAGE_RANGE = (0.85, 0.95)


def gradient_ms(data: Any, spec: ModelSpec, repeats: int = 200) -> float:
    """Milliseconds per evaluation of the log density and its gradient at an initial point
    (compiled, one thread of work): the unit every leapfrog step pays."""
    design = build_design(data, spec)
    info = initialize_model(
        jax.random.PRNGKey(0), partial(mmm_model, spec=spec), model_args=(design,)
    )
    grad = jax.jit(jax.value_and_grad(info.potential_fn))
    z = info.param_info.z
    jax.block_until_ready(grad(z))
    started = time.perf_counter()
    for _ in range(repeats):
        out = grad(z)
    jax.block_until_ready(out)
    return 1e3 * (time.perf_counter() - started) / repeats


class _Recorder:
    """Keeps what ``fit`` computes but does not return (the steps of every draw) by wrapping
    ``inference._run_chains`` for the duration of one fit; the fit itself is unchanged."""

    def __init__(self) -> None:
        self.steps: NDArray[np.int64] | None = None
        self.diverging: NDArray[np.bool_] | None = None
        self.stages: dict[str, float] = {}
        self._original = inference._run_chains

    def progress(self, stage: str, fraction: float) -> None:
        if fraction == 0.0 and stage not in self.stages:
            self.stages[stage] = time.perf_counter()

    def __enter__(self) -> _Recorder:
        original = self._original

        def recording(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            self.diverging, self.steps = out[1], out[2]
            return out

        inference._run_chains = recording  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        inference._run_chains = self._original  # type: ignore[assignment]


def _fit_panel(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    sim = simulate_geo(
        geos=args.geos,
        periods=args.periods,
        channels=args.channels,
        seed=seed,
        noise=args.noise,
    )
    spec = ModelSpec()
    config = FitConfig(
        chains=args.chains,
        warmup=args.warmup,
        samples=args.samples,
        parallel_chains=args.parallel_chains,
        warmup_tree_depth=args.warmup_tree_depth or FitConfig.warmup_tree_depth,
    )
    with _Recorder() as recorder:
        started = time.perf_counter()
        result = fit(sim.data, spec, config, recorder.progress)
        ended = time.perf_counter()
    stages = recorder.stages
    assert recorder.steps is not None
    steps = recorder.steps.ravel()
    d = result.diagnostics
    national = np.array([[r.median, r.lower, r.upper] for r in result.roas])
    per_geo = np.array([[r.median, r.lower, r.upper] for r in result.geo_roas])
    truth, geo_truth = sim.true_roas, sim.true_geo_roas.ravel()

    def covered(rows: NDArray[np.float64], t: NDArray[np.float64]) -> float:
        return float(np.mean((rows[:, 1] <= t) & (t <= rows[:, 2])))

    def error(rows: NDArray[np.float64], t: NDArray[np.float64]) -> float:
        return float(np.median(np.abs(rows[:, 0] / t - 1)))

    return {
        "seed": seed,
        "geos": args.geos,
        "periods": args.periods,
        "channels": args.channels,
        "chains": args.chains,
        "warmup": args.warmup,
        "samples": args.samples,
        "warmup_tree_depth": config.warmup_tree_depth,
        "wall_s": ended - started,
        "compile_s": stages.get("warmup", ended) - stages.get("compiling", started),
        "warmup_s": stages.get("sampling", ended) - stages.get("warmup", started),
        "sampling_s": stages.get("summarising", ended) - stages.get("sampling", started),
        "steps_mean": float(steps.mean()),
        "steps_q": [float(q) for q in np.quantile(steps, [0.05, 0.5, 0.95])],
        "steps_max": int(steps.max()),
        "depth_median": float(np.median(np.floor(np.log2(np.maximum(steps, 1))) + 1)),
        "step_size": getattr(d, "step_size", float("nan")),
        "divergences": d.divergences,
        "draws": args.chains * args.samples,
        "max_rhat": d.max_rhat,
        "min_ess": d.min_ess,
        "geo_covered": covered(per_geo, geo_truth),
        "geo_error": error(per_geo, geo_truth),
        "national_covered": covered(national, truth),
        "national_error": error(national, truth),
        "geo_width": float(np.median((per_geo[:, 2] - per_geo[:, 1]) / geo_truth)),
        "load_average": os.getloadavg()[0],
    }


HEADER = (
    f"{'seed':>4} {'wall s':>7} {'comp':>5} {'warm':>6} {'samp':>6} {'steps':>5} "
    f"{'q05/q50/q95':>13} {'max':>4} {'depth':>5} {'eps':>6} {'div':>5} {'R-hat':>6} "
    f"{'ESS':>6} | geo {'cov':>4} {'err':>6} | nat {'cov':>4} {'err':>6} {'load':>5}"
)


def _row(r: dict[str, Any]) -> str:
    q = "/".join(f"{v:.0f}" for v in r["steps_q"])
    return (
        f"{r['seed']:>4} {r['wall_s']:>7.1f} {r['compile_s']:>5.1f} {r['warmup_s']:>6.1f} "
        f"{r['sampling_s']:>6.1f} {r['steps_mean']:>5.0f} {q:>13} {r['steps_max']:>4} "
        f"{r['depth_median']:>5.0f} {r['step_size']:>6.3f} {r['divergences']:>5} "
        f"{r['max_rhat']:>6.3f} {r['min_ess']:>6.0f} | geo {r['geo_covered']:>4.0%} "
        f"{r['geo_error']:>6.1%} | nat {r['national_covered']:>4.0%} "
        f"{r['national_error']:>6.1%} {r['load_average']:>5.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--geos", type=int, default=10)
    parser.add_argument("--periods", type=int, default=156)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--panels", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=7)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--parallel-chains", type=int, default=None)
    parser.add_argument("--warmup-tree-depth", type=int, default=None)
    parser.add_argument("--jsonl", type=Path, help="append one JSON line per panel")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}; "
        f"{args.geos} geos x {args.periods} periods x {args.channels} channels, "
        f"{args.chains} chains x ({args.warmup} + {args.samples})"
    )
    first = simulate_geo(
        geos=args.geos, periods=args.periods, channels=args.channels, seed=args.first_seed
    )
    grad = gradient_ms(first.data, ModelSpec())
    print(f"gradient: {grad:.3f} ms per evaluation (log density + gradient, compiled)")
    print(HEADER, flush=True)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.panels):
        row = _fit_panel(args, seed) | {"gradient_ms": grad}
        rows.append(row)
        print(_row(row), flush=True)
        if args.jsonl:
            with args.jsonl.open("a") as out:
                out.write(json.dumps(row) + "\n")
    pairs = args.geos * args.channels
    geo_cov = float(np.mean([r["geo_covered"] for r in rows]))
    nat_cov = float(np.mean([r["national_covered"] for r in rows]))
    worst_wall = max(r["wall_s"] for r in rows)
    worst_rhat = max(r["max_rhat"] for r in rows)
    worst_div = max(r["divergences"] / r["draws"] for r in rows)
    steps = float(np.mean([r["steps_mean"] for r in rows]))
    print(
        f"summary over {len(rows)} panel(s): steps/draw {steps:.0f}, gradient {grad:.3f} ms, "
        f"steps x gradient x draws / chains-at-once = "
        f"{steps * grad * 1e-3 * args.chains * (args.warmup + args.samples):.0f} core-s"
    )
    low, high = COVERAGE_RANGE
    print(
        f"{'PASS' if worst_wall <= MAX_WALL_S else 'FAIL'} wall ≤ {MAX_WALL_S:.0f} s: "
        f"slowest {worst_wall:.1f} s (shared machine: read with steps and gradient cost)"
    )
    print(
        f"{'PASS' if worst_rhat <= MAX_RHAT else 'FAIL'} max R-hat ≤ {MAX_RHAT}: {worst_rhat:.3f}"
    )
    print(
        f"{'PASS' if worst_div <= MAX_DIVERGENT_SHARE else 'FAIL'} divergent draws ≤ 1 %: "
        f"worst {worst_div:.2%}"
    )
    print(
        f"{'PASS' if low <= geo_cov <= high else 'FAIL'} geo x channel coverage in "
        f"[{low:.0%}, {high:.0%}]: {geo_cov:.1%} of {pairs * len(rows)}; median error "
        f"{np.median([r['geo_error'] for r in rows]):.1%}"
    )
    print(
        f"{'PASS' if low <= nat_cov <= high else 'FAIL'} national coverage in "
        f"[{low:.0%}, {high:.0%}]: {nat_cov:.1%} of {args.channels * len(rows)}; median "
        f"error {np.median([r['national_error'] for r in rows]):.1%}"
    )


if __name__ == "__main__":
    main()

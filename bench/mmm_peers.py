"""LiftOS's MMM beside the oracle, PyMC-Marketing and Google's Meridian on bench/mmm.py's datasets.

One row per method over the same simulated datasets (``bench.mmm.dataset``: 156 weeks x 10
channels each, carry-over, saturation and noise cycling): median absolute relative ROAS error,
coverage (share of all channels whose true ROAS lies in the method's 90 % interval), median 90 %
interval width relative to the true ROAS ((upper - lower) / truth, per channel), wall time per
fit (median and total), max R-hat and divergences where the method reports them; then one row
per dataset and method. The truth is ``SimulatedMMM.true_roas_over``: each channel's contribution
over the 156 weeks divided by its spend over them (every method's ROAS is defined the same way).

Methods, each fitted alone, one after another, so each has the whole machine and wall times
compare:
- ``LiftOS``: ``engine.causal.inference.fit`` in this process with bench/mmm.py's spec (the
  simulator's adstock and saturation kind) and ``FitConfig`` defaults, 4 chains x (1000 + 1000).
- ``oracle``: ``bench.mmm.oracle_fit``, least squares handed the true contribution curves; its
  interval is the OLS 90 % confidence interval of each curve's scale, times the true ROAS.
- ``PyMC-Marketing``: bench/peers/pymc_worker.py in its own virtualenv (``--pymc-python``):
  geometric adstock over 8 lags, logistic saturation, 2 Fourier pairs, price, competitor index
  and a linear trend as controls, default priors, nutpie, 4 chains x (1000 tune + 1000 draws).
- ``Meridian``: bench/peers/meridian_worker.py in its own virtualenv (``--meridian-python``):
  national model, Meridian's default spec and ROI priors, price and competitor index as
  controls, 4 chains, n_adapt 2000 + n_burnin 500 + n_keep 1000 (its Getting Started demo's
  settings).
A peer whose Python is not given is skipped with a note. ``--quick`` cuts every sampler to
2 chains x (200 + 200) (Meridian 200 + 100 + 200) to check the plumbing, not the accuracy.

Every fit is written to ``--results`` (JSON, default bench/results/mmm_peers.json) as soon as it
ends; ``--from-results`` reprints the tables from such a file without fitting, ``--resume`` keeps
the fits already in it that match the requested settings. ``--geo`` instead fits one geo panel
(``simulate_geo``, 10 geos) with LiftOS's geo hierarchy and Meridian's geo model.

Set-up: ``bash bench/peers/setup.sh`` (virtualenvs under /work/peers, pinned). Run from the
repository root: ``.venv/bin/python -m bench.mmm_peers --datasets 20
--pymc-python /work/peers/pymc/bin/python --meridian-python /work/peers/meridian/bin/python``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench.mmm import Dataset, dataset, oracle_fit
from engine.causal.inference import FitConfig, fit
from engine.causal.simulate import simulate_geo
from engine.causal.spec import ModelSpec

PEERS = Path(__file__).resolve().parent / "peers"
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "mmm_peers.json"
START = np.datetime64("2021-01-04")  # a Monday; weekly data
METHODS = ("LiftOS", "oracle", "PyMC-Marketing", "Meridian")
WORKER_TIMEOUT_S = 3 * 3600


def settings(quick: bool) -> dict[str, dict[str, Any]]:
    """Sampler settings per method; part of every stored fit, so ``--resume`` and the tables
    never mix quick fits with full ones."""
    if quick:
        return {
            "LiftOS": {"chains": 2, "warmup": 200, "samples": 200},
            "oracle": {"mass": 0.9},
            "PyMC-Marketing": {"chains": 2, "tune": 200, "draws": 200},
            "Meridian": {"chains": 2, "n_adapt": 200, "n_burnin": 100, "n_keep": 200},
        }
    return {
        "LiftOS": {"chains": 4, "warmup": 1000, "samples": 1000},
        "oracle": {"mass": 0.9},
        "PyMC-Marketing": {"chains": 4, "tune": 1000, "draws": 1000},
        "Meridian": {"chains": 4, "n_adapt": 2000, "n_burnin": 500, "n_keep": 1000},
    }


def _dates(periods: int) -> list[str]:
    return [str(START + np.timedelta64(7 * t, "D")) for t in range(periods)]


def write_national_csv(
    path: Path,
    spend: NDArray[np.float64],
    kpi: NDArray[np.float64],
    controls: NDArray[np.float64],
    channels: tuple[str, ...],
) -> None:
    """date, spend_<channel>..., price, competitor, trend (0 to 1 over the data), revenue."""
    periods = len(kpi)
    header = ["date", *(f"spend_{c}" for c in channels), "price", "competitor", "trend", "revenue"]
    rows = [",".join(header)]
    for t, date in enumerate(_dates(periods)):
        values = [*spend[t], *controls[t], t / periods, kpi[t]]
        rows.append(",".join([date, *(f"{v:.9g}" for v in values)]))
    path.write_text("\n".join(rows) + "\n")


def run_worker(python: str, worker: str, csv: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Runs a worker script in a peer's virtualenv; its JSON plus ``process_wall_s`` (start-up
    and imports included). A failing worker raises with the end of its stderr."""
    folder = csv.parent
    config_path, out_path = folder / f"{csv.stem}-config.json", folder / f"{csv.stem}-out.json"
    config_path.write_text(json.dumps(config))
    out_path.unlink(missing_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}  # TensorFlow's start-up chatter
    children_cpu = _children_cpu_s()
    started = time.perf_counter()
    completed = subprocess.run(  # our own worker script, our own arguments
        [python, str(PEERS / worker), str(csv), str(config_path), str(out_path)],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
        env=env,
        check=False,
    )
    process_wall = time.perf_counter() - started
    if completed.returncode != 0 or not out_path.exists():
        tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{worker} exited {completed.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    result["process_wall_s"] = process_wall
    result["cpu_s"] = _children_cpu_s() - children_cpu
    return result


def _children_cpu_s() -> float:
    """CPU seconds (user + system, all threads) of the waited-for child processes so far: a
    fit's cost that, unlike its wall time, another load on the machine barely changes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _fit_liftos(case: Dataset, config: dict[str, Any]) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    result = fit(case.sim.data, case.spec, FitConfig(**config))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if result.fit_periods != case.sim.data.periods:
        raise RuntimeError("LiftOS held periods out; the truth is over all periods")
    d = result.diagnostics
    return {
        "wall_s": wall,
        "process_wall_s": wall,
        "cpu_s": cpu,
        "max_rhat": d.max_rhat,
        "divergences": d.divergences,
        "median": [r.median for r in result.roas],
        "lower": [r.lower for r in result.roas],
        "upper": [r.upper for r in result.roas],
    }


def _fit_oracle(case: Dataset, config: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    oracle = oracle_fit(case.sim, case.spec, config["mass"])
    wall = time.perf_counter() - started
    truth = case.sim.true_roas_over(case.sim.data.periods)
    return {
        "wall_s": wall,
        "process_wall_s": wall,
        "max_rhat": None,
        "divergences": None,
        "median": (oracle.scales * truth).tolist(),
        "lower": (oracle.lower * truth).tolist(),
        "upper": (oracle.upper * truth).tolist(),
    }


def _fit_peer(
    method: str, python: str, case: Dataset, config: dict[str, Any], folder: Path
) -> dict[str, Any]:
    data = case.sim.data
    csv = folder / f"dataset-{case.index}.csv"
    write_national_csv(csv, data.spend, data.kpi, data.controls, data.channels)
    if method == "PyMC-Marketing":
        worker_config = {
            **config,
            "l_max": 8,
            "yearly_seasonality": 2,
            "sampler": "nutpie",
            "seed": 1,
            "controls": ["price", "competitor", "trend"],
        }
        return _align(run_worker(python, "pymc_worker.py", csv, worker_config), data.channels)
    worker_config = {**config, "seed": 1, "controls": ["price", "competitor"]}
    return _align(run_worker(python, "meridian_worker.py", csv, worker_config), data.channels)


def metrics(fit_: dict[str, Any]) -> dict[str, Any]:
    """Per-channel covered / relative error / relative width of one stored fit."""
    truth = np.array(fit_["truth"])
    median, lower, upper = (np.array(fit_[k]) for k in ("median", "lower", "upper"))
    return {
        "covered": ((lower <= truth) & (truth <= upper)).tolist(),
        "error": (np.abs(median / truth - 1)).tolist(),
        "width": ((upper - lower) / truth).tolist(),
    }


def _save(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(payload, indent=1))
    partial.replace(path)


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def print_tables(payload: dict[str, Any]) -> None:
    fits = [f for f in payload["fits"] if "error" not in f]
    failures = [f for f in payload["fits"] if "error" in f]
    print(f"\nper dataset ({payload['periods']} weeks x {payload['channels']} channels)")
    print(
        f"{'#':>3} {'adstock':9} {'saturation':10} {'noise':>5} {'method':15} {'fit s':>7} "
        f"{'R-hat':>6} {'div':>5} {'covered':>7} {'med.err':>7} {'width':>6}"
    )
    for f in sorted(fits, key=lambda f: (f["dataset"], METHODS.index(f["method"]))):
        m = metrics(f)
        print(
            f"{f['dataset']:>3} {f['adstock']:9} {f['saturation']:10} {f['noise']:>5.2f} "
            f"{f['method']:15} {f['wall_s']:>7.1f} {_fmt(f['max_rhat'], '6.3f'):>6} "
            f"{_fmt(f['divergences'], 'd'):>5} {np.mean(m['covered']):>7.0%} "
            f"{np.median(m['error']):>7.1%} {np.median(m['width']):>6.2f}"
        )
    print(
        "\nsummary: 90 % intervals; width = median (upper - lower) / true ROAS; "
        "fit s excludes start-up, process s includes it; CPU s = user + system seconds of the "
        "fit's process, start-up included for the peers (fair when the machine was shared: "
        "see each fit's load_average)"
    )
    print(
        f"{'method':15} {'fits':>4} {'chan.':>5} {'med.err':>7} {'coverage':>8} {'width':>6} "
        f"{'fit s med':>9} {'fit s tot':>9} {'proc s tot':>10} {'CPU s med':>9} {'max R-hat':>9} "
        f"{'div tot':>7} {'div max':>7}  settings"
    )
    for method in METHODS:
        chosen = [f for f in fits if f["method"] == method]
        if not chosen:
            continue
        ms = [metrics(f) for f in chosen]
        covered = [c for m in ms for c in m["covered"]]
        errors = [e for m in ms for e in m["error"]]
        widths = [w for m in ms for w in m["width"]]
        walls = [f["wall_s"] for f in chosen]
        cpus = [f["cpu_s"] for f in chosen if "cpu_s" in f]
        rhats = [f["max_rhat"] for f in chosen if f["max_rhat"] is not None]
        divs = [f["divergences"] for f in chosen if f["divergences"] is not None]
        print(
            f"{method:15} {len(chosen):>4} {len(covered):>5} {np.median(errors):>7.1%} "
            f"{np.mean(covered):>8.1%} {np.median(widths):>6.2f} {np.median(walls):>9.1f} "
            f"{np.sum(walls):>9.1f} {sum(f['process_wall_s'] for f in chosen):>10.1f} "
            f"{_fmt(np.median(cpus) if cpus else None, '9.1f'):>9} "
            f"{_fmt(max(rhats) if rhats else None, '9.3f'):>9} "
            f"{_fmt(sum(divs) if divs else None, 'd'):>7} "
            f"{_fmt(max(divs) if divs else None, 'd'):>7}  {chosen[0]['settings']}"
        )
    for f in failures:
        print(f"FAILED {f['method']} on dataset {f['dataset']}: {f['error']}")


def _national(args: argparse.Namespace, pythons: dict[str, str | None]) -> None:
    chosen = settings(args.quick)
    payload: dict[str, Any] = {"periods": args.periods, "channels": args.channels, "fits": []}
    if args.resume and args.results.exists():
        old = json.loads(args.results.read_text())
        if (old["periods"], old["channels"]) == (args.periods, args.channels):
            payload["fits"] = [
                f for f in old["fits"] if "error" not in f and f["settings"] == chosen[f["method"]]
            ]
    done = {(f["method"], f["dataset"]) for f in payload["fits"]}
    methods = [m for m in METHODS if m in args.methods]
    for method in methods:
        if method in pythons and not pythons[method]:
            flag = "--pymc-python" if method == "PyMC-Marketing" else "--meridian-python"
            print(f"note: {method} skipped: no {flag} given")
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.datasets):
            case = dataset(index, args.periods, args.channels)
            truth = case.sim.true_roas_over(case.sim.data.periods).tolist()
            for method in methods:
                if (method, index) in done or (method in pythons and not pythons[method]):
                    continue
                entry: dict[str, Any] = {
                    "method": method,
                    "dataset": index,
                    "adstock": case.adstock,
                    "saturation": case.saturation,
                    "noise": case.noise,
                    "settings": chosen[method],
                    "truth": truth,
                    "load_average": os.getloadavg()[0],
                }
                try:
                    if method == "LiftOS":
                        entry |= _fit_liftos(case, chosen[method])
                    elif method == "oracle":
                        entry |= _fit_oracle(case, chosen[method])
                    else:
                        python = pythons[method]
                        assert python is not None
                        entry |= _fit_peer(method, python, case, chosen[method], Path(tmp))
                except (RuntimeError, subprocess.TimeoutExpired, ValueError) as problem:
                    entry["error"] = str(problem)
                    print(f"{index:>3} {method:15} FAILED: {problem}", flush=True)
                else:
                    m = metrics(entry)
                    print(
                        f"{index:>3} {method:15} fit {entry['wall_s']:>7.1f} s "
                        f"(process {entry['process_wall_s']:.1f} s), covered "
                        f"{np.mean(m['covered']):.0%}, median error "
                        f"{np.median(m['error']):.1%}",
                        flush=True,
                    )
                payload["fits"].append(entry)
                _save(args.results, payload)
    print_tables(payload)
    print(f"results: {args.results}")


def _align(result: dict[str, Any], channels: tuple[str, ...]) -> dict[str, Any]:
    """The worker's summaries reordered to ``channels`` (a peer may sort its coordinates)."""
    order = [result["channels"].index(c) for c in channels]
    for key in ("median", "lower", "upper"):
        result[key] = [result[key][i] for i in order]
    if "geo" in result:
        for key in ("median", "lower", "upper"):
            result["geo"][key] = [[row[i] for i in order] for row in result["geo"][key]]
    result["channels"] = list(channels)
    return result


def _geo_metrics(median: Any, lower: Any, upper: Any, truth: Any) -> str:
    median, lower, upper, truth = (
        np.asarray(v, dtype=float) for v in (median, lower, upper, truth)
    )
    covered = np.mean((lower <= truth) & (truth <= upper))
    error = np.median(np.abs(median / truth - 1))
    width = np.median((upper - lower) / truth)
    return f"{error:>7.1%} {covered:>7.0%} {width:>6.2f}"


def _geo(args: argparse.Namespace, meridian_python: str | None) -> None:
    """One geo panel (``simulate_geo`` seed 7, as ``bench/mmm.py --geo``): LiftOS's geo
    hierarchy with ``ModelSpec()`` and Meridian's geo model, national and per-geo ROAS. The
    simulator has no population; Meridian gets each geo's mean weekly total spend instead (a
    size that does not look at the KPI)."""
    chosen = settings(args.quick)
    sim = simulate_geo(geos=args.geos, periods=args.periods, channels=args.channels, seed=7)
    data = sim.data
    fits: list[dict[str, Any]] = []
    started = time.perf_counter()
    result = fit(data, ModelSpec(), FitConfig(**chosen["LiftOS"]))
    wall = time.perf_counter() - started
    fits.append(
        {
            "method": "LiftOS",
            "settings": chosen["LiftOS"],
            "wall_s": wall,
            "max_rhat": result.diagnostics.max_rhat,
            "divergences": result.diagnostics.divergences,
            "median": [r.median for r in result.roas],
            "lower": [r.lower for r in result.roas],
            "upper": [r.upper for r in result.roas],
            "geo": {
                k: np.array([getattr(r, k) for r in result.geo_roas])
                .reshape(len(data.geos), len(data.channels))
                .tolist()
                for k in ("median", "lower", "upper")
            },
        }
    )
    if meridian_python is None:
        print("note: Meridian skipped: no --meridian-python given")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "panel.csv"
            names = [f"spend_{c}" for c in data.channels]
            rows = [
                ",".join(["geo", "date", "population", *names, "price", "competitor", "revenue"])
            ]
            for g, geo in enumerate(data.geos):
                population = data.spend[g].sum(axis=1).mean()
                for t, date in enumerate(_dates(data.periods)):
                    values = [population, *data.spend[g, t], *data.controls[g, t], data.kpi[g, t]]
                    rows.append(",".join([geo, date, *(f"{v:.9g}" for v in values)]))
            csv.write_text("\n".join(rows) + "\n")
            config = {**chosen["Meridian"], "seed": 1, "controls": ["price", "competitor"]}
            try:
                theirs = _align(
                    run_worker(meridian_python, "meridian_geo_worker.py", csv, config),
                    data.channels,
                )
            except (RuntimeError, subprocess.TimeoutExpired) as problem:
                print(f"Meridian FAILED: {problem}")
            else:
                order = [theirs["geos"].index(g) for g in data.geos]
                theirs["geo"] = {k: [v[i] for i in order] for k, v in theirs["geo"].items()}
                fits.append({"method": "Meridian", "settings": chosen["Meridian"], **theirs})
    print(
        f"\ngeo panel {len(data.geos)} geos x {data.periods} weeks x {len(data.channels)} "
        f"channels; 90 % intervals, width relative to the true ROAS"
    )
    print(
        f"{'method':10} {'fit s':>7} {'R-hat':>6} {'div':>5} | national: {'med.err':>7} "
        f"{'covered':>7} {'width':>6} | per geo: {'med.err':>7} {'covered':>7} {'width':>6}"
    )
    for f in fits:
        national = _geo_metrics(f["median"], f["lower"], f["upper"], sim.true_roas)
        per_geo = _geo_metrics(
            f["geo"]["median"], f["geo"]["lower"], f["geo"]["upper"], sim.true_geo_roas
        )
        print(
            f"{f['method']:10} {f['wall_s']:>7.1f} {f['max_rhat']:>6.3f} {f['divergences']:>5} "
            f"| national: {national} | per geo: {per_geo}  {f['settings']}"
        )
    payload = {
        "geos": len(data.geos),
        "periods": data.periods,
        "channels": len(data.channels),
        "true_roas": sim.true_roas.tolist(),
        "true_geo_roas": sim.true_geo_roas.tolist(),
        "fits": fits,
    }
    path = args.results.with_name(args.results.stem + "_geo.json")
    _save(path, payload)
    print(f"results: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--periods", type=int, default=156)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="few draws: plumbing check only")
    parser.add_argument("--pymc-python", help="Python of the PyMC-Marketing virtualenv")
    parser.add_argument("--meridian-python", help="Python of the Meridian virtualenv")
    parser.add_argument(
        "--methods",
        type=lambda s: s.split(","),
        default=list(METHODS),
        help=f"comma-separated subset of {','.join(METHODS)}",
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--resume", action="store_true", help="keep matching fits in --results")
    parser.add_argument("--from-results", type=Path, help="reprint a results file, fit nothing")
    parser.add_argument("--geo", action="store_true", help="one geo panel instead (issue 12 §3)")
    parser.add_argument("--geos", type=int, default=10)
    args = parser.parse_args()
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        parser.error(f"--methods: unknown {sorted(unknown)}; choose from {', '.join(METHODS)}")
    if args.from_results:
        print_tables(json.loads(args.from_results.read_text()))
        return
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")
    pythons = {"PyMC-Marketing": args.pymc_python, "Meridian": args.meridian_python}
    if args.geo:
        _geo(args, pythons["Meridian"])
    else:
        _national(args, pythons)


if __name__ == "__main__":
    main()

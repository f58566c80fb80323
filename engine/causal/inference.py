"""Fitting a model with NUTS and reporting what a fit must always report: its diagnostics.

The sampler loop is run here rather than through ``numpyro.infer.MCMC`` so that a caller can
watch real progress: the NUTS kernel is compiled once (ahead of time, so compiling is its own
stage), then stepped through warm-up and sampling in chunks, each chunk continuing from the
exact state the last one ended in. Chunking changes nothing but when control returns to Python:
the same seed and configuration give the same draws whatever the chunk count.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import numpy as np
from jax import Array
from numpy.typing import NDArray
from numpyro.diagnostics import summary
from numpyro.infer import NUTS

from engine.causal import model
from engine.causal.data import GeoMMMData, MMMData
from engine.causal.model import Design, build_design, mmm_model
from engine.causal.spec import ModelSpec

CREDIBLE_MASS = 0.90
MAX_RHAT = 1.01
# Deterministic sites that are functions of the others, large, and not worth an R-hat each.
_DERIVED = ("media", "mu", "beta", "geo_media")

Progress = Callable[[str, float], None]
"""``progress(stage, fraction)``: stage is "compiling", "warmup", "sampling" or "summarising";
fraction in [0, 1] is how much of that stage is done."""


@dataclass(frozen=True)
class FitConfig:
    """Sampler settings. ``dense_mass`` adapts a full mass matrix: the ROAS, saturation and
    carry-over of a channel are correlated in the posterior, and learning those correlations
    cuts the leapfrog steps per draw about fourfold. ``warmup_tree_depth`` caps the trees
    during warm-up only: before the step size and mass matrix are adapted, NUTS would build
    trees of up to 2^max_tree_depth steps to cross a posterior it does not yet know the scale
    of, which made warm-up most of the cost of a fit; the draws kept are unaffected (their
    depth limit is ``max_tree_depth``). ``parallel_chains`` is how many chains run at once, each
    on its own thread and core (``None``: one per core this process may use; the draws do not
    depend on it). ``progress_chunks`` is how many pieces
    warm-up and sampling are each run in (more pieces, finer progress, a little more overhead).
    ``target_accept`` is 0.95 rather than NUTS's usual 0.8: saturation curves bend sharply near
    zero spend, and the smaller step this buys cut divergent transitions on the 156-week x
    10-channel benchmark from 15 to 2 per 4,000 draws for about 15 % more time.
    """

    chains: int = 4
    warmup: int = 1000
    samples: int = 1000
    seed: int = 0
    target_accept: float = 0.95
    max_tree_depth: int = 10
    warmup_tree_depth: int = 6
    dense_mass: bool = True
    progress_chunks: int = 10
    parallel_chains: int | None = None

    def __post_init__(self) -> None:
        if self.chains < 1:
            raise ValueError(f"chains must be at least 1, got {self.chains}")
        if self.warmup < 0 or self.samples < 1:
            raise ValueError("warmup must not be negative and samples must be at least 1")
        if not 0 < self.target_accept < 1:
            raise ValueError(f"target_accept must be in (0, 1), got {self.target_accept}")
        if not 1 <= self.max_tree_depth <= 15:
            raise ValueError(f"max_tree_depth must be between 1 and 15, got {self.max_tree_depth}")
        if not 1 <= self.warmup_tree_depth <= self.max_tree_depth:
            raise ValueError("warmup_tree_depth must be between 1 and max_tree_depth")
        if self.progress_chunks < 1:
            raise ValueError("progress_chunks must be at least 1")
        if self.parallel_chains is not None and self.parallel_chains < 1:
            raise ValueError(f"parallel_chains must be at least 1, got {self.parallel_chains}")


@dataclass(frozen=True)
class Diagnostics:
    max_rhat: float
    min_ess: float
    divergences: int
    r2: float
    mape: float
    holdout_mape: float | None
    converged: bool
    message: str
    mean_steps: float = 0.0  # leapfrog steps per draw; high values mean a hard posterior
    step_size: float = 0.0  # adapted leapfrog step size, mean over chains


@dataclass(frozen=True)
class ChannelRoas:
    channel: str
    mean: float
    median: float
    lower: float  # 5 % quantile
    upper: float  # 95 % quantile
    incremental_kpi: float  # posterior mean over the fit window


@dataclass(frozen=True)
class GeoChannelRoas:
    geo: str
    channel: str
    mean: float
    median: float
    lower: float  # 5 % quantile
    upper: float  # 95 % quantile
    incremental_kpi: float  # posterior mean over the fit window, in KPI units


@dataclass(frozen=True)
class FitResult:
    spec: ModelSpec
    channels: tuple[str, ...]
    roas: tuple[ChannelRoas, ...]  # national: Σ_geos incremental / Σ_geos spend
    diagnostics: Diagnostics
    # Chains flattened: (draws, ...). Geo fits add "geo_roas" (draws, geos, channels) and
    # "geo_media" (draws, geos, periods, channels); "media" and "mu" are national sums.
    samples: dict[str, NDArray[np.float64]]
    channel_scale: NDArray[np.float64]  # (channels,) national mean spend over the fit window
    kpi_scale: float  # samples of "media", "mu" and "beta" are in KPI / kpi_scale
    fit_periods: int  # the first fit_periods entered the likelihood; the rest were held out
    geos: tuple[str, ...] = ()  # empty for national data
    geo_roas: tuple[GeoChannelRoas, ...] = ()  # geo-major: every channel of geos[0] first


def _mape(actual: NDArray[np.float64], predicted: NDArray[np.float64]) -> float:
    mask = actual != 0
    return float(np.mean(np.abs((actual[mask] - predicted[mask]) / actual[mask])))


def _chunks(total: int, wanted: int) -> tuple[int, int]:
    """(chunk length, count): the fewest equal chunks, at least ``wanted``, that tile ``total``
    exactly, so one compiled chunk serves the whole stage."""
    if total == 0:
        return 0, 0
    count = next(n for n in range(min(wanted, total), total + 1) if total % n == 0)
    return total // count, count


def _ignore(stage: str, fraction: float) -> None:
    del stage, fraction


Runner = Callable[[Any, Design], tuple[Any, Any]]


def cores_for(num_cpus: float) -> int:
    """Chains to run at once for a share of ``num_cpus`` CPUs (a Ray resource request, which may
    be fractional): at least one."""
    return max(1, int(num_cpus))


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class _Sampler:
    """NUTS for one model structure: a kernel, its compiled initialisation and its compiled
    chunk runners, all for a single chain; every chain of a fit shares them and runs on its own
    thread.

    Why not vectorise the chains (``vmap``) into one program: on the CPU runtime the batched
    program is slow, about 7x the cost of one chain's gradient for four chains where four
    separate gradients cost 4x (the batched adstock contraction becomes a batched matrix
    product XLA runs poorly), and every batched step waits for the chain with the deepest
    tree. Why not one XLA device per chain (``pmap`` over host devices): it deadlocked on some
    datasets. A compiled program runs outside the GIL, so chains on separate threads use
    separate cores, and each chain stops building its tree when it alone is done.

    Initialisation is compiled too: numpyro initialises a single chain op by op, which on a
    first fit compiled hundreds of tiny programs (10 s of a 156-week x 10-channel fit); traced
    once under ``jit`` it is one program (2 s). The kernel holds no data (the design is an
    argument), so fits of the same structure reuse all of it.
    """

    def __init__(self, spec: ModelSpec, config: FitConfig, design: Design) -> None:
        self.kernel = NUTS(
            partial(mmm_model, spec=spec),
            target_accept_prob=config.target_accept,
            max_tree_depth=(config.warmup_tree_depth, config.max_tree_depth),
            dense_mass=_mass_structure(config, design, spec),
        )
        warmup = config.warmup
        kernel = self.kernel

        def init(key: Array, design: Design) -> Any:
            # Traced once: numpyro then finds valid initial values in a compiled loop, and the
            # kernel keeps its (data-free) step function for the runners.
            return kernel.init(key, warmup, None, (design,), {})

        self.init: Callable[[Array, Design], Any] = jax.jit(init)
        self._prototype = self.init(jax.random.PRNGKey(0), design)
        self._runners: dict[int, Runner] = {}
        self._lock = threading.Lock()

        def constrain(draw: Any, design: Design) -> dict[str, Array]:
            values: dict[str, Array] = kernel.postprocess_fn((design,), {})(draw)
            return values

        # Sampled values on their own scale plus every deterministic site, for all draws.
        self.constrain: Callable[[Any, Design], dict[str, Array]] = jax.jit(
            jax.vmap(constrain, in_axes=(0, None))
        )

    def runner(self, length: int, design: Design) -> Runner:
        """A compiled run of ``length`` steps of one chain: (state, design) -> (state,
        (z, diverging, num_steps)) with the outputs stacked steps first."""
        with self._lock:
            if length not in self._runners:
                sample = self.kernel.sample

                def run(state: Any, design: Design) -> Any:
                    def step(current: Any, _: None) -> tuple[Any, tuple[Any, Array, Array]]:
                        current = sample(current, (design,), {})
                        return current, (current.z, current.diverging, current.num_steps)

                    return jax.lax.scan(step, state, None, length=length)

                compiled: Runner = jax.jit(run).lower(self._prototype, design).compile()
                self._runners[length] = compiled
            return self._runners[length]


def _mass_structure(config: FitConfig, design: Design, spec: ModelSpec) -> bool | list[Any]:
    """Dense over every site for national models; for geo panels dense over the shared sites
    only (see ``model.dense_mass_sites``), so the adapted matrix stays estimable."""
    if not config.dense_mass or not design.geo_level:
        return config.dense_mass
    return [model.dense_mass_sites(design, spec)]


# Samplers by everything that shapes the program (never by data values), so repeated fits in
# one process (a benchmark, a service refitting tenants) compile once.
_SAMPLERS: dict[tuple[object, ...], _Sampler] = {}
_SAMPLERS_LIMIT = 16
_SAMPLERS_LOCK = threading.Lock()


def _sampler(spec: ModelSpec, config: FitConfig, design: Design) -> _Sampler:
    leaves, structure = jax.tree.flatten(design)
    key = (
        repr(spec),
        repr(model.PRIORS),
        config.warmup,
        config.target_accept,
        config.max_tree_depth,
        config.warmup_tree_depth,
        config.dense_mass,
        structure,
        tuple((np.shape(x), str(np.asarray(x).dtype)) for x in leaves),
    )
    with _SAMPLERS_LOCK:
        if key not in _SAMPLERS:
            if len(_SAMPLERS) >= _SAMPLERS_LIMIT:
                _SAMPLERS.pop(next(iter(_SAMPLERS)))
            _SAMPLERS[key] = _Sampler(spec, config, design)
        return _SAMPLERS[key]


def _advance(runner: Runner, state: Any, design: Design) -> tuple[Any, Any]:
    """Run one chunk of one chain to completion (on a worker thread: blocking there keeps the
    core busy with this chain rather than returning a future to the caller)."""
    state, outputs = runner(state, design)
    state = jax.tree.map(lambda x: x.block_until_ready(), state)
    return state, jax.tree.map(np.asarray, outputs)


def _run_stage(
    pool: ThreadPoolExecutor,
    runner: Runner,
    states: list[Any],
    design: Design,
    count: int,
    on_chunk: Callable[[float], None],
) -> list[list[Any]]:
    """Advance every chain ``count`` chunks; returns each chain's chunk outputs in order.

    Each chain's next chunk is queued as soon as its last one finishes, so no chain waits for
    the others; progress is reported here, on the calling thread, never from a worker."""
    chains = len(states)
    outputs: list[list[Any]] = [[] for _ in range(chains)]
    pending = {pool.submit(_advance, runner, states[c], design): c for c in range(chains)}
    done = 0
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            chain = pending.pop(future)
            states[chain], chunk = future.result()
            outputs[chain].append(chunk)
            done += 1
            on_chunk(done / (chains * count))
            if len(outputs[chain]) < count:
                pending[pool.submit(_advance, runner, states[chain], design)] = chain
    return outputs


def _run_chains(
    design: Design, spec: ModelSpec, config: FitConfig, progress: Progress
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.bool_], NDArray[np.int64], float]:
    """Draws grouped by chain (chains, draws, ...), divergences and steps (chains, draws), and
    the adapted step size (mean over chains)."""
    progress("compiling", 0.0)
    sampler = _sampler(spec, config, design)
    keys = jax.random.split(jax.random.PRNGKey(config.seed), config.chains)
    states = [sampler.init(key, design) for key in keys]
    warm_length, warm_count = _chunks(config.warmup, config.progress_chunks)
    draw_length, draw_count = _chunks(config.samples, config.progress_chunks)
    lengths = {warm_length, draw_length} - {0}
    runners = {length: sampler.runner(length, design) for length in lengths}
    progress("compiling", 1.0)

    workers = min(config.chains, config.parallel_chains or available_cores())
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nuts-chain") as pool:
        progress("warmup", 0.0)
        if warm_count:
            _run_stage(
                pool,
                runners[warm_length],
                states,
                design,
                warm_count,
                lambda fraction: progress("warmup", fraction),
            )
        progress("sampling", 0.0)
        chunks = _run_stage(
            pool,
            runners[draw_length],
            states,
            design,
            draw_count,
            lambda fraction: progress("sampling", fraction),
        )
    # Each chunk is (z, diverging, num_steps) stacked steps first: join a chain's chunks along
    # the steps, then stack the chains: (chains, draws, ...).
    per_chain = [jax.tree.map(lambda *xs: np.concatenate(xs), *chain) for chain in chunks]
    z, diverging, steps = jax.tree.map(lambda *xs: np.stack(xs), *per_chain)
    progress("summarising", 0.0)
    flat_z = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), z)
    constrained = sampler.constrain(flat_z, design)
    grouped = {
        name: np.asarray(value, dtype=np.float64).reshape(
            config.chains, config.samples, *value.shape[1:]
        )
        for name, value in constrained.items()
    }
    step_size = float(np.mean([np.asarray(s.adapt_state.step_size) for s in states]))
    return grouped, np.asarray(diverging), np.asarray(steps), step_size


def _interval(draws: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """Mean, median and the central ``CREDIBLE_MASS`` interval over the leading axis."""
    tail = (1 - CREDIBLE_MASS) / 2
    return (
        float(draws.mean()),
        float(np.median(draws)),
        float(np.quantile(draws, tail)),
        float(np.quantile(draws, 1 - tail)),
    )


def fit(
    data: MMMData | GeoMMMData,
    spec: ModelSpec,
    config: FitConfig = FitConfig(),
    progress: Progress | None = None,
) -> FitResult:
    """Sample the posterior; seeded, so the same inputs give the same numbers.

    ``GeoMMMData`` fits the geo hierarchy; the result's national ROAS, "media" and "mu" are
    then sums over geos and ``geo_roas`` reports each geo. ``progress`` is called with
    (stage, fraction done) as the fit goes; chains run on parallel threads (see ``_Sampler``).
    """
    report = progress or _ignore
    design = build_design(data, spec)
    grouped, diverging, steps, step_size = _run_chains(design, spec, config, report)

    stats = summary({k: v for k, v in grouped.items() if k not in _DERIVED})
    max_rhat = float(max(np.nanmax(s["r_hat"]) for s in stats.values()))
    min_ess = float(min(np.nanmin(s["n_eff"]) for s in stats.values()))
    divergences = int(diverging.sum())
    flat = {k: v.reshape(-1, *v.shape[2:]) for k, v in grouped.items()}

    fit_periods = design.fit_periods
    predicted = flat["mu"].mean(axis=0) * design.kpi_scale
    actual = data.kpi.sum(axis=0) if isinstance(data, GeoMMMData) else data.kpi
    residual = actual[:fit_periods] - predicted[:fit_periods]
    r2 = 1.0 - float(residual.var() / actual[:fit_periods].var())
    holdout = _mape(actual[fit_periods:], predicted[fit_periods:]) if spec.holdout_periods else None
    converged = max_rhat <= MAX_RHAT and divergences == 0
    problems = []
    if max_rhat > MAX_RHAT:
        problems.append(f"max R-hat {max_rhat:.3f} > {MAX_RHAT}")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    diagnostics = Diagnostics(
        max_rhat=max_rhat,
        min_ess=min_ess,
        divergences=divergences,
        r2=r2,
        mape=_mape(actual[:fit_periods], predicted[:fit_periods]),
        holdout_mape=holdout,
        converged=converged,
        message="converged" if converged else "NOT converged: " + "; ".join(problems),
        mean_steps=float(steps.mean()),
        step_size=step_size,
    )
    incremental = flat["media"][:, :fit_periods, :].sum(axis=1) * design.kpi_scale
    channels = tuple(
        ChannelRoas(name, *_interval(flat["roas"][:, i]), float(incremental[:, i].mean()))
        for i, name in enumerate(data.channels)
    )
    geo_roas: tuple[GeoChannelRoas, ...] = ()
    if isinstance(data, GeoMMMData):
        geo_incremental = flat["geo_media"][:, :, :fit_periods].sum(axis=2) * design.kpi_scale
        geo_roas = tuple(
            GeoChannelRoas(
                geo,
                channel,
                *_interval(flat["geo_roas"][:, g, c]),
                float(geo_incremental[:, g, c].mean()),
            )
            for g, geo in enumerate(data.geos)
            for c, channel in enumerate(data.channels)
        )
    report("summarising", 1.0)
    return FitResult(
        spec=spec,
        channels=data.channels,
        roas=channels,
        diagnostics=diagnostics,
        samples=flat,
        channel_scale=design.channel_scale,
        kpi_scale=design.kpi_scale,
        fit_periods=fit_periods,
        geos=data.geos if isinstance(data, GeoMMMData) else (),
        geo_roas=geo_roas,
    )

"""Fitting a model with NUTS and reporting what a fit must always report: its diagnostics."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from numpy.typing import NDArray
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS

from engine.causal.data import MMMData
from engine.causal.model import build_design, mmm_model
from engine.causal.spec import ModelSpec

CREDIBLE_MASS = 0.90
MAX_RHAT = 1.01


@dataclass(frozen=True)
class FitConfig:
    chains: int = 4
    warmup: int = 1000
    samples: int = 1000
    seed: int = 0
    target_accept: float = 0.85
    max_tree_depth: int = 10


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


@dataclass(frozen=True)
class ChannelRoas:
    channel: str
    mean: float
    median: float
    lower: float  # 5 % quantile
    upper: float  # 95 % quantile
    incremental_kpi: float  # posterior mean over the fit window


@dataclass(frozen=True)
class FitResult:
    spec: ModelSpec
    channels: tuple[str, ...]
    roas: tuple[ChannelRoas, ...]
    diagnostics: Diagnostics
    samples: dict[str, NDArray[np.float64]]  # chains flattened: (draws, ...)
    channel_scale: NDArray[np.float64]  # (channels,) mean spend over the fit window
    kpi_scale: float  # samples of "media", "mu" and "beta" are in KPI / kpi_scale
    fit_periods: int  # the first fit_periods entered the likelihood; the rest were held out


def _mape(actual: NDArray[np.float64], predicted: NDArray[np.float64]) -> float:
    mask = actual != 0
    return float(np.mean(np.abs((actual[mask] - predicted[mask]) / actual[mask])))


def fit(data: MMMData, spec: ModelSpec, config: FitConfig = FitConfig()) -> FitResult:
    """Sample the posterior; seeded, so the same inputs give the same numbers."""
    design = build_design(data, spec)
    # Chains run truly in parallel only with one XLA device each; otherwise vectorise them.
    method = "parallel" if jax.local_device_count() >= config.chains else "vectorized"
    mcmc = MCMC(
        NUTS(
            mmm_model, target_accept_prob=config.target_accept, max_tree_depth=config.max_tree_depth
        ),
        num_warmup=config.warmup,
        num_samples=config.samples,
        num_chains=config.chains,
        chain_method=method,
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(config.seed), design, spec, extra_fields=("diverging",))
    grouped = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    stats = summary({k: v for k, v in grouped.items() if k not in ("media", "mu", "beta")})
    max_rhat = float(max(np.nanmax(s["r_hat"]) for s in stats.values()))
    min_ess = float(min(np.nanmin(s["n_eff"]) for s in stats.values()))
    divergences = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    flat = {k: v.reshape(-1, *v.shape[2:]) for k, v in grouped.items()}

    fit_periods = design.fit_periods
    predicted = flat["mu"].mean(axis=0) * design.kpi_scale
    actual = data.kpi
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
    )
    tail = (1 - CREDIBLE_MASS) / 2
    roas = flat["roas"]
    incremental = flat["media"][:, :fit_periods, :].sum(axis=1) * design.kpi_scale
    channels = tuple(
        ChannelRoas(
            channel=name,
            mean=float(roas[:, i].mean()),
            median=float(np.median(roas[:, i])),
            lower=float(np.quantile(roas[:, i], tail)),
            upper=float(np.quantile(roas[:, i], 1 - tail)),
            incremental_kpi=float(incremental[:, i].mean()),
        )
        for i, name in enumerate(data.channels)
    )
    return FitResult(
        spec=spec,
        channels=data.channels,
        roas=channels,
        diagnostics=diagnostics,
        samples=flat,
        channel_scale=design.channel_scale,
        kpi_scale=design.kpi_scale,
        fit_periods=fit_periods,
    )

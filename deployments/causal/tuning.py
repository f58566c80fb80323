"""Model-variant search with Ray Tune: each candidate spec is one trial that fits the data with
the last periods held out and reports its out-of-sample error; the best is kept.

Trials are independent fits, so they run in parallel across the cluster (as many at once as the
cluster has ``trial_num_cpus`` slots for).
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Sequence
from typing import Any

from ray import tune

from deployments.causal.pipeline import VariantScore
from engine.causal.data import GeoMMMData, MMMData
from engine.causal.inference import FitConfig, cores_for, fit
from engine.causal.spec import ModelSpec


def _trial(
    config: dict[str, Any],
    data: MMMData | GeoMMMData,
    candidates: Sequence[tuple[str, ModelSpec]],
    fit_config: FitConfig,
) -> None:
    _, spec = candidates[config["candidate"]]
    result = fit(data, spec, fit_config)
    diagnostics = result.diagnostics
    holdout = diagnostics.holdout_mape if diagnostics.holdout_mape is not None else math.inf
    tune.report(
        {
            "holdout_mape": holdout,
            "max_rhat": diagnostics.max_rhat,
            "converged": diagnostics.converged,
        }
    )


class RayTuneSearcher:
    """A :class:`deployments.causal.pipeline.VariantSearcher` backed by Ray Tune."""

    def __init__(self, *, trial_num_cpus: float = 1.0) -> None:
        self._trial_num_cpus = trial_num_cpus

    def __call__(
        self,
        data: MMMData | GeoMMMData,
        candidates: Sequence[tuple[str, ModelSpec]],
        config: FitConfig,
    ) -> list[VariantScore]:
        # A trial runs as many chains at once as it holds CPUs, so trials sharing a node do
        # not fight over its cores.
        config = dataclasses.replace(config, parallel_chains=cores_for(self._trial_num_cpus))
        trainable = tune.with_resources(
            tune.with_parameters(_trial, data=data, candidates=list(candidates), fit_config=config),
            {"cpu": self._trial_num_cpus},
        )
        with tempfile.TemporaryDirectory(prefix="liftos-tune-") as storage:
            tuner = tune.Tuner(
                trainable,
                param_space={"candidate": tune.grid_search(list(range(len(candidates))))},
                tune_config=tune.TuneConfig(metric="holdout_mape", mode="min"),
                run_config=tune.RunConfig(storage_path=storage, name="mmm-variants", verbose=0),
            )
            grid = tuner.fit()
            scores: list[VariantScore] = []
            for outcome in grid:
                index = int(outcome.config["candidate"])
                label, spec = candidates[index]
                metrics = outcome.metrics or {}
                scores.append(
                    VariantScore(
                        label=label,
                        spec=spec,
                        holdout_mape=float(metrics.get("holdout_mape", math.inf)),
                        max_rhat=float(metrics.get("max_rhat", math.inf)),
                        converged=bool(metrics.get("converged", False)),
                    )
                )
        order = {label: i for i, (label, _) in enumerate(candidates)}
        return sorted(scores, key=lambda s: order[s.label])

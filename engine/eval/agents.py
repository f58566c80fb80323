"""Built-in sandbox agents, the per-draw reference they are scored against, and the scoring.

- ``equal_split``: the episode's budget paced evenly, split equally over the open channels.
- ``repeat``: last period's spend again (the fit window's mean before the first step).
- ``optimizer``: the causal module's budget optimiser (``engine.causal.optimize``) on the
  whole posterior, paced evenly: what LiftOS itself would recommend.
- the *reference*: the same optimiser run on each episode's own posterior draw, the best
  steady plan in the world the episode actually is. An agent's regret is the reference's
  profit minus its own, on the same draw and noise; the optimiser agent's regret is then the
  price of not knowing which draw is true, which shrinks as the posterior tightens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from engine.causal.inference import FitResult
from engine.causal.optimize import optimize_budget
from engine.eval.sandbox import VIOLATIONS, BudgetSandbox, Constraints, World


class Agent(Protocol):
    name: str

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        """Every environment's spend per channel for the next period, (envs, channels)."""
        ...


def _open_channels(sandbox: BudgetSandbox) -> NDArray[np.bool_]:
    return np.asarray([c not in sandbox.constraints.blackout for c in sandbox.world.channels])


@dataclass
class EqualSplit:
    name: str = "equal_split"

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        del observation
        open_ = _open_channels(sandbox)
        per_period = sandbox.constraints.total_budget / sandbox.periods
        share = np.where(open_, per_period / max(int(open_.sum()), 1), 0.0)
        return np.broadcast_to(share, (sandbox.num_envs, share.size)).copy()


@dataclass
class Repeat:
    name: str = "repeat"

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        del sandbox
        return np.asarray(observation["spend"], dtype=np.float64).copy()


def _plan(fit: FitResult, constraints: Constraints, periods: int) -> NDArray[np.float64]:
    """The optimiser's spend per period and channel for the episode's budget and limits."""
    bounds = {
        name: (0.0, cap * periods)
        for name, cap in constraints.channel_caps.items()
        if name not in constraints.blackout
    }
    locked = {name: 0.0 for name in constraints.blackout}
    plan = optimize_budget(
        fit,
        total_budget=constraints.total_budget,
        horizon_periods=periods,
        bounds=bounds or None,
        locked=locked or None,
    )
    return np.asarray([c.optimal_spend for c in plan.channels], dtype=np.float64) / periods


@dataclass
class Optimizer:
    """The causal optimiser's plan on the whole posterior, the same every period."""

    fit: FitResult
    name: str = "optimizer"
    _per_period: NDArray[np.float64] | None = None
    _for: tuple[float, int] | None = None

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        del observation
        key = (sandbox.constraints.total_budget, sandbox.periods)
        if self._per_period is None or self._for != key:
            self._per_period = _plan(self.fit, sandbox.constraints, sandbox.periods)
            self._for = key
        return np.broadcast_to(self._per_period, (sandbox.num_envs, self._per_period.size)).copy()


@dataclass
class Reference:
    """The optimiser on each environment's own draw: the regret baseline."""

    fit: FitResult
    name: str = "reference"
    _plans: dict[int, NDArray[np.float64]] = dataclasses.field(default_factory=dict)

    def _for_draw(self, draw: int, constraints: Constraints, periods: int) -> NDArray[np.float64]:
        if draw not in self._plans:
            one = {k: v[draw : draw + 1] for k, v in self.fit.samples.items()}
            self._plans[draw] = _plan(
                dataclasses.replace(self.fit, samples=one), constraints, periods
            )
        return self._plans[draw]

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        del observation
        return np.stack(
            [self._for_draw(int(d), sandbox.constraints, sandbox.periods) for d in sandbox.draws]
        )


@dataclass(frozen=True)
class EpisodeScores:
    """One agent over a batch of episodes, one entry per episode."""

    agent: str
    draws: NDArray[np.int64]
    profit: NDArray[np.float64]
    incremental_kpi: NDArray[np.float64]
    spend: NDArray[np.float64]
    violations: Mapping[str, NDArray[np.int64]]
    attempted_over_budget: NDArray[np.float64]

    @property
    def clean(self) -> NDArray[np.bool_]:
        """Episodes without a single violation."""
        total = sum(self.violations[kind] for kind in VIOLATIONS)
        return np.asarray(total == 0)


def play(
    world: World,
    constraints: Constraints,
    agent: Agent,
    *,
    periods: int,
    episodes: int,
    seed: int,
    kpi_value: float = 1.0,
) -> EpisodeScores:
    """Run ``agent`` for ``episodes`` episodes of ``periods`` steps, vectorised."""
    sandbox = BudgetSandbox(
        world, constraints, periods=periods, num_envs=episodes, kpi_value=kpi_value
    )
    observation, _ = sandbox.reset(seed=seed)
    profit = np.zeros(episodes)
    incremental = np.zeros(episodes)
    info: dict[str, Any] = {}
    while not sandbox.done.all():
        observation, reward, _, _, info = sandbox.step(agent.act(observation, sandbox))
        profit += reward
        incremental += info["incremental_kpi"]
    return EpisodeScores(
        agent=agent.name,
        draws=sandbox.draws.copy(),
        profit=profit,
        incremental_kpi=incremental,
        spend=sandbox.spent.copy(),
        violations=info["violations"],
        attempted_over_budget=info["attempted_over_budget"],
    )


def regret(scores: EpisodeScores, reference: EpisodeScores) -> NDArray[np.float64]:
    """Per episode, the reference's profit minus the agent's, on the same draws."""
    if not np.array_equal(scores.draws, reference.draws):
        raise ValueError("regret needs both runs on the same seed (the same draws)")
    return reference.profit - scores.profit

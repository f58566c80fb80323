"""Built-in sandbox agents, the per-draw reference they are scored against, and the scoring.

- ``equal_split``: the episode's budget paced evenly, split equally over the open channels.
- ``repeat``: last period's spend again (the fit window's mean before the first step).
- ``optimizer``: the causal module's budget optimiser (``engine.causal.optimize``) on the
  whole posterior, paced evenly: what LiftOS itself would recommend.
- ``thompson``: a Thompson-sampling bandit that knows nothing of the fit. It models the KPI it
  observes as ``b0 + sum_c theta_c log(1 + x_c / s_c)`` (``s_c``: the channel's spend before
  the episode), keeps a Gaussian posterior on the coefficients per episode (Bayesian linear
  regression), and each period spends the period's budget where one draw of that posterior
  says it pays most (water-filling: ``x_c = max(0, theta_c / mu - s_c)``).
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
from engine.eval.auction import AuctionSpec
from engine.eval.sandbox import BudgetSandbox, Constraints, World


class Agent(Protocol):
    name: str

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        """Every environment's spend per channel for the next period, (envs, channels)."""
        ...


def _open_channels(sandbox: BudgetSandbox) -> NDArray[np.bool_]:
    return ~sandbox.blackout_mask


def within_limits(spend: NDArray[np.float64], sandbox: BudgetSandbox) -> NDArray[np.float64]:
    """``spend`` (envs, channels) moved off blacked-out channels and above-cap amounts onto the
    open channels with room, in proportion to what they already get, keeping each row's total
    where the caps allow it. The built-in agents respect the limits they are told."""
    caps, open_ = sandbox.caps, _open_channels(sandbox)
    wanted = np.maximum(np.asarray(spend, dtype=np.float64), 0.0)
    total = wanted.sum(axis=1)
    placed = np.minimum(np.where(open_, wanted, 0.0), caps)
    for _ in range(caps.size):
        room = np.where(open_, caps - placed, 0.0)
        excess = total - placed.sum(axis=1)
        if not np.any(excess > 1e-9 * np.maximum(total, 1.0)):
            break
        weight = np.where(room > 0, np.maximum(placed, 1e-12), 0.0)
        share = weight / np.maximum(weight.sum(axis=1, keepdims=True), 1e-300)
        placed = np.minimum(placed + share * excess[:, None], caps)
    return placed


@dataclass
class EqualSplit:
    name: str = "equal_split"

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        del observation
        open_ = _open_channels(sandbox)
        per_period = sandbox.constraints.total_budget / sandbox.periods
        share = np.where(open_, per_period / max(int(open_.sum()), 1), 0.0)
        return within_limits(np.broadcast_to(share, (sandbox.num_envs, share.size)), sandbox)


@dataclass
class Repeat:
    name: str = "repeat"

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        return within_limits(np.asarray(observation["spend"], dtype=np.float64), sandbox)


@dataclass
class Thompson:
    """Learns each channel's response from what it observes, one posterior draw per period."""

    seed: int = 0
    prior_scale: float = 1.0  # prior sd of each coefficient, in units of the first KPI seen
    noise: float = 0.01  # assumed noise variance of the KPI, in the same units
    name: str = "thompson"
    _state: dict[str, Any] = dataclasses.field(default_factory=dict)

    @staticmethod
    def _features(spend: NDArray[np.float64], scale: NDArray[np.float64]) -> NDArray[np.float64]:
        ones = np.ones((*spend.shape[:-1], 1))
        return np.concatenate([ones, np.log1p(spend / scale)], axis=-1)

    def _start(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> None:
        size = len(sandbox.world.channels) + 1
        prior = np.eye(size) / self.prior_scale**2
        self._state = {
            "scale": np.maximum(np.asarray(observation["spend"], dtype=np.float64), 1e-9),
            "precision": np.broadcast_to(prior, (sandbox.num_envs, size, size)).copy(),
            "moment": np.zeros((sandbox.num_envs, size)),
            "unit": None,  # the KPI's scale, set by the first observation
            "rng": np.random.default_rng(self.seed),
            "spent": None,
        }

    def _learn(self, observation: Mapping[str, Any]) -> None:
        state = self._state
        kpi = np.asarray(observation["kpi"], dtype=np.float64)
        if state["spent"] is None or not np.all(np.isfinite(kpi)):
            return
        if state["unit"] is None:
            state["unit"] = np.maximum(np.abs(kpi), 1e-9)
        x = self._features(state["spent"], state["scale"])
        y = kpi / state["unit"]
        state["precision"] += np.einsum("ei,ej->eij", x, x) / self.noise
        state["moment"] += x * (y / self.noise)[:, None]

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        period = int(observation["period"][0])
        if period == 0 or not self._state:
            self._start(observation, sandbox)
        self._learn(observation)
        state = self._state
        covariance = np.linalg.inv(state["precision"])
        mean = np.einsum("eij,ej->ei", covariance, state["moment"])
        chol = np.linalg.cholesky(covariance)
        draw = mean + np.einsum("eij,ej->ei", chol, state["rng"].standard_normal(mean.shape))
        theta = np.where(_open_channels(sandbox), np.maximum(draw[:, 1:], 1e-12), 0.0)
        periods_left = max(sandbox.periods - period, 1)
        budget = np.asarray(observation["remaining_budget"], dtype=np.float64) / periods_left
        spend = within_limits(_water_fill(theta, state["scale"], budget), sandbox)
        state["spent"] = spend
        return spend


def _water_fill(
    theta: NDArray[np.float64], scale: NDArray[np.float64], budget: NDArray[np.float64]
) -> NDArray[np.float64]:
    """argmax of sum_c theta_c log(1 + x_c / s_c) subject to sum_c x_c = budget, per row: the
    marginal value theta_c / (s_c + x_c) is the same (mu) wherever x_c > 0."""
    low = np.full(theta.shape[0], 1e-300)
    high = np.max(theta / scale, axis=1) + 1e-300
    for _ in range(100):  # bisection on log mu; the spend falls as mu rises
        mu = np.sqrt(low * high)
        total = np.maximum(theta / mu[:, None] - scale, 0.0).sum(axis=1)
        too_much = total > budget
        low = np.where(too_much, mu, low)
        high = np.where(too_much, high, mu)
    spend: NDArray[np.float64] = np.maximum(theta / high[:, None] - scale, 0.0)
    return spend


def _plan(fit: FitResult, constraints: Constraints, periods: int) -> NDArray[np.float64]:
    """The optimiser's spend per period and channel for the episode's budget and limits."""
    bounds = {
        name: (0.0, cap * periods)
        for name, cap in constraints.channel_caps.items()
        if name not in constraints.blackout
    }
    locked = {name: 0.0 for name in constraints.blackout}
    open_channels = [c for c in fit.channels if c not in constraints.blackout]
    if not open_channels:
        return np.zeros(len(fit.channels))
    # When caps cannot absorb the budget, the best plan spends every channel at its cap.
    room = sum(bounds[c][1] if c in bounds else np.inf for c in open_channels)
    plan = optimize_budget(
        fit,
        total_budget=float(min(constraints.total_budget, room)),
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
    _for: tuple[Any, ...] | None = None

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        del observation
        limits = sandbox.constraints
        key = (
            limits.total_budget,
            sandbox.periods,
            tuple(sorted(limits.channel_caps.items())),
            tuple(sorted(limits.blackout)),
        )
        if self._per_period is None or self._for != key:
            self._per_period = _plan(self.fit, sandbox.constraints, sandbox.periods)
            self._for = key
        return np.broadcast_to(self._per_period, (sandbox.num_envs, self._per_period.size)).copy()


@dataclass
class Reference:
    """The optimiser on each environment's own draw: the regret baseline."""

    fit: FitResult
    name: str = "reference"
    _plans: dict[tuple[Any, ...], NDArray[np.float64]] = dataclasses.field(default_factory=dict)

    def _for_draw(self, draw: int, constraints: Constraints, periods: int) -> NDArray[np.float64]:
        # One plan per draw and episode setting: the same agent may play several scenarios.
        key = (
            draw,
            periods,
            constraints.total_budget,
            tuple(sorted(constraints.channel_caps.items())),
            tuple(sorted(constraints.blackout)),
        )
        if key not in self._plans:
            one = {k: v[draw : draw + 1] for k, v in self.fit.samples.items()}
            self._plans[key] = _plan(
                dataclasses.replace(self.fit, samples=one), constraints, periods
            )
        return self._plans[key]

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
    # Per period (periods first), for reports: the spend placed (periods, episodes, channels)
    # and the profit of each step (periods, episodes).
    spend_path: NDArray[np.float64] | None = None
    profit_path: NDArray[np.float64] | None = None

    @property
    def clean(self) -> NDArray[np.bool_]:
        """Episodes without a single violation."""
        total = sum(self.violations.values())
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
    trace: bool = False,
    auction: AuctionSpec | None = None,
) -> EpisodeScores:
    """Run ``agent`` for ``episodes`` episodes of ``periods`` steps, vectorised; ``trace``
    keeps every period's spend and profit for the report."""
    sandbox = BudgetSandbox(
        world,
        constraints,
        periods=periods,
        num_envs=episodes,
        kpi_value=kpi_value,
        auction=auction,
    )
    observation, _ = sandbox.reset(seed=seed)
    profit = np.zeros(episodes)
    incremental = np.zeros(episodes)
    info: dict[str, Any] = {}
    spends: list[NDArray[np.float64]] = []
    profits: list[NDArray[np.float64]] = []
    while not sandbox.done.all():
        observation, reward, _, _, info = sandbox.step(agent.act(observation, sandbox))
        profit += reward
        incremental += info["incremental_kpi"]
        if trace:
            spends.append(observation["spend"])
            profits.append(reward.copy())
    while trace and len(spends) < periods:  # every episode ended early: nothing more is spent
        spends.append(np.zeros_like(spends[-1]))
        profits.append(np.zeros(episodes))
    return EpisodeScores(
        agent=agent.name,
        draws=sandbox.draws.copy(),
        profit=profit,
        incremental_kpi=incremental,
        spend=sandbox.spent.copy(),
        violations=info["violations"],
        attempted_over_budget=info["attempted_over_budget"],
        spend_path=np.stack(spends) if trace else None,
        profit_path=np.stack(profits) if trace else None,
    )


def regret(scores: EpisodeScores, reference: EpisodeScores) -> NDArray[np.float64]:
    """Per episode, the reference's profit minus the agent's, on the same draws."""
    if not np.array_equal(scores.draws, reference.draws):
        raise ValueError("regret needs both runs on the same seed (the same draws)")
    return reference.profit - scores.profit

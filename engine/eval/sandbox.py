"""The budget sandbox: a Gymnasium vector environment whose world is a fitted causal model.

Each episode draws one posterior sample of the fit and keeps it: the agent plays against one
plausible world, and across episodes the worlds spread as the posterior does, so uncertainty is
real rather than averaged away. Each step the agent sets every channel's spend for the next
period; the world carries spend over with that draw's adstock weights, saturates it with that
draw's response curve (``engine.causal.model``, the same functions the fit reports with),
adds that draw's baseline (the fit's own, its last ``season`` periods repeated) and noise, and
answers with what a marketer would see: spend, KPI and the platforms' reported conversions
(inflated by the model's platform-claims ratio when the fit has one).

Constraints are hard state. An action that would break one is clipped and the break recorded
per kind (``negative``, ``blackout``, ``cap``, ``max_change``, ``budget``); an episode whose
budget is spent stops (``terminated``), and how much spend beyond the budget the agent asked
for is kept, so "the $50K weekend" shows up as attempted, never as spent.

The reward of a step is its profit: ``kpi_value`` times the incremental KPI that draw expects
from the carried spend (no noise, so agents are compared on what they caused, not on luck),
minus the spend. Before the first step every channel has spent the fit window's mean for as
long as its carry-over reaches, the same for every agent. Everything is vectorised over
environments with numpy; one ``step`` advances every environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from numpy.typing import NDArray

from engine.causal.inference import FitResult
from engine.causal.model import posterior_adstock_weights, posterior_response
from engine.causal.spec import ModelSpec
from engine.eval.auction import Auction, AuctionSpec

VIOLATIONS = ("negative", "blackout", "cap", "max_change", "budget")
# The curve parameters posterior_response reads, per saturation.
_CURVE_SITES = ("beta", "half_saturation", "hill_slope", "logistic_lambda")


class SandboxError(ValueError):
    """A sandbox that cannot be built as asked; ``field`` names the input."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class World:
    """A fitted model reduced to the arrays the sandbox steps with (draws first)."""

    spec: ModelSpec
    channels: tuple[str, ...]
    curves: Mapping[str, NDArray[np.float64]]  # (draws, channels) per site of _CURVE_SITES
    weights: NDArray[np.float64]  # (draws, max_lag, channels) adstock weights
    baseline: NDArray[np.float64]  # (draws, season) scaled baseline, repeated
    sigma: NDArray[np.float64]  # (draws,) scaled noise
    channel_scale: NDArray[np.float64]  # (channels,) the fit window's mean spend per period
    kpi_scale: float
    claims_ratio: NDArray[np.float64] | None = None  # (channels,) reported / incremental

    @property
    def draws(self) -> int:
        return int(self.sigma.shape[0])

    @classmethod
    def from_fit(
        cls,
        fit: FitResult,
        *,
        season: int = 52,
        claims_ratio: Mapping[str, float] | None = None,
    ) -> World:
        """``season``: how many of the fit's last periods of baseline repeat in the sandbox
        (52 for weekly data keeps the yearly pattern); ``claims_ratio``: per channel, what the
        platforms report per incremental conversion (from the causal module's claims table)."""
        if fit.geos:
            raise SandboxError("model_id", "the sandbox runs national fits; this one is by geo")
        samples = fit.samples
        if "baseline_series" in samples:  # a stored model keeps these (causal.persist)
            baseline = samples["baseline_series"]
        elif "mu" in samples and "media" in samples:
            baseline = samples["mu"] - samples["media"].sum(axis=2)  # (draws, periods), scaled
        else:
            raise SandboxError(
                "model_id",
                "this model was stored without its baseline draws (fitted before the sandbox "
                "existed); fit it again to play it in the sandbox",
            )
        periods = min(season, fit.fit_periods)
        if periods < 1:
            raise SandboxError("season", "must be at least 1 period")
        sigma = np.asarray(samples["sigma"], dtype=np.float64).reshape(baseline.shape[0], -1)
        ratio = None
        if claims_ratio:
            unknown = sorted(set(claims_ratio) - set(fit.channels))
            if unknown:
                raise SandboxError("claims_ratio", f"unknown channels: {', '.join(unknown)}")
            ratio = np.asarray([claims_ratio.get(c, 1.0) for c in fit.channels], dtype=np.float64)
        return cls(
            spec=fit.spec,
            channels=tuple(fit.channels),
            curves={
                k: np.asarray(samples[k], dtype=np.float64) for k in _CURVE_SITES if k in samples
            },
            weights=posterior_adstock_weights(fit.spec, samples),
            baseline=np.asarray(baseline[:, fit.fit_periods - periods : fit.fit_periods]),
            sigma=sigma[:, 0],
            channel_scale=np.asarray(fit.channel_scale, dtype=np.float64),
            kpi_scale=float(fit.kpi_scale),
            claims_ratio=ratio,
        )

    def incremental(
        self, draws: NDArray[np.int64], carried: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """KPI (in KPI units) each environment's draw expects from carried spend (envs, C)."""
        curves = {name: values[draws] for name, values in self.curves.items()}
        scaled = posterior_response(self.spec, curves, carried / self.channel_scale)
        return np.asarray(scaled, dtype=np.float64) * self.kpi_scale


@dataclass(frozen=True)
class Constraints:
    """The hard limits of an episode. Spends are per period except ``total_budget``."""

    total_budget: float  # over the whole episode
    channel_caps: Mapping[str, float] = field(default_factory=dict)
    # Largest change of a channel's spend from one period to the next, as a share of the
    # larger of its last spend and its fair share (total budget / periods / channels), so a
    # channel at zero can still start.
    max_change: float | None = None
    blackout: frozenset[str] = frozenset()

    def check(self, channels: tuple[str, ...]) -> None:
        if not np.isfinite(self.total_budget) or self.total_budget <= 0:
            raise SandboxError("constraints.total_budget", "must be a positive number")
        for name, cap in self.channel_caps.items():
            if name not in channels:
                raise SandboxError("constraints.channel_caps", f"unknown channel '{name}'")
            if not np.isfinite(cap) or cap < 0:
                raise SandboxError(f"constraints.channel_caps.{name}", "must be >= 0")
        unknown = sorted(self.blackout - set(channels))
        if unknown:
            raise SandboxError("constraints.blackout", f"unknown channels: {', '.join(unknown)}")
        if self.max_change is not None and not self.max_change >= 0:
            raise SandboxError("constraints.max_change", "must be >= 0")


class BudgetSandbox(gymnasium.vector.VectorEnv[dict[str, Any], NDArray[np.float64], Any]):
    """``num_envs`` episodes of ``periods`` steps, each on its own posterior draw.

    Episodes run in lockstep and do not reset themselves (``autoreset_mode`` DISABLED): call
    :meth:`reset` with a seed to start the next batch. Episode ``i`` of ``reset(seed=s)`` uses
    the draw chosen by ``np.random.default_rng([s, i])``, so an episode is replayable and two
    agents given the same seed face the same worlds.
    """

    metadata = {"autoreset_mode": AutoresetMode.DISABLED}

    def __init__(
        self,
        world: World,
        constraints: Constraints,
        *,
        periods: int,
        num_envs: int,
        kpi_value: float = 1.0,
        auction: AuctionSpec | None = None,
    ) -> None:
        if periods < 1:
            raise SandboxError("periods", "must be at least 1")
        if num_envs < 1:
            raise SandboxError("episodes", "must be at least 1")
        constraints.check(world.channels)
        self.world = world
        self.constraints = constraints
        self.periods = periods
        self.num_envs = num_envs
        self.kpi_value = kpi_value
        count = len(world.channels)
        self.single_action_space = spaces.Box(0.0, np.inf, shape=(count,), dtype=np.float64)
        self.action_space = spaces.Box(0.0, np.inf, shape=(num_envs, count), dtype=np.float64)
        observation: dict[str, spaces.Box] = {
            "spend": spaces.Box(0.0, np.inf, shape=(count,), dtype=np.float64),
            "kpi": spaces.Box(-np.inf, np.inf, shape=(), dtype=np.float64),
            "reported": spaces.Box(0.0, np.inf, shape=(count,), dtype=np.float64),
            "remaining_budget": spaces.Box(0.0, np.inf, shape=(), dtype=np.float64),
            "period": spaces.Box(0, periods, shape=(), dtype=np.int64),
        }
        self.single_observation_space = spaces.Dict(dict[str, spaces.Space[Any]](observation))
        self.observation_space = spaces.Dict(
            {
                name: spaces.Box(
                    space.low.min(),
                    space.high.max(),
                    shape=(num_envs, *space.shape),
                    dtype=space.dtype,
                )
                for name, space in observation.items()
            }
        )
        index = {name: i for i, name in enumerate(world.channels)}
        self._caps = np.full(count, np.inf)
        for name, cap in constraints.channel_caps.items():
            self._caps[index[name]] = cap
        self._blackout = np.zeros(count, dtype=bool)
        for name in constraints.blackout:
            self._blackout[index[name]] = True
        self._fair_share = constraints.total_budget / periods / count
        self._t = 0
        self.auction: Auction | None = None
        self._auctioned = np.zeros(0, dtype=np.int64)
        if auction is not None:
            auction.check(world.channels)
            self.auction = Auction(
                auction,
                {c: float(world.channel_scale[index[c]]) for c in auction.channels},
            )
            self._auctioned = np.asarray([index[c] for c in self.auction.channels])

    @property
    def caps(self) -> NDArray[np.float64]:
        """Per channel, the most it may spend in a period (inf where uncapped)."""
        return self._caps.copy()

    @property
    def blackout_mask(self) -> NDArray[np.bool_]:
        return self._blackout.copy()

    # -- episode state ---------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        del options
        base = 0 if seed is None else seed
        self.draws = np.asarray(
            [
                np.random.default_rng([base, i]).integers(self.world.draws)
                for i in range(self.num_envs)
            ],
            dtype=np.int64,
        )
        self._noise = np.random.default_rng([base, self.num_envs, 1])
        self._auction_rng = np.random.default_rng([base, self.num_envs, 2])
        count = len(self.world.channels)
        lags = self.world.weights.shape[1]
        # Before the first step every channel spent what it did on average in the fit window.
        self._history = np.broadcast_to(
            self.world.channel_scale, (self.num_envs, lags, count)
        ).copy()
        self.last_spend = self._history[:, 0, :].copy()
        self.remaining = np.full(self.num_envs, float(self.constraints.total_budget))
        self.spent = np.zeros(self.num_envs)
        self.attempted_over_budget = np.zeros(self.num_envs)
        self.violations = {kind: np.zeros(self.num_envs, dtype=np.int64) for kind in VIOLATIONS}
        self.done = np.zeros(self.num_envs, dtype=bool)
        self._t = 0
        observation = self._observation(
            self.last_spend, np.full(self.num_envs, np.nan), np.zeros_like(self.last_spend)
        )
        return observation, {"draw": self.draws.copy()}

    def _observation(
        self,
        spend: NDArray[np.float64],
        kpi: NDArray[np.float64],
        reported: NDArray[np.float64],
    ) -> dict[str, Any]:
        return {
            "spend": spend.copy(),
            "kpi": kpi,
            "reported": reported,
            "remaining_budget": self.remaining.copy(),
            "period": np.full(self.num_envs, self._t, dtype=np.int64),
        }

    def _enforce(self, asked: NDArray[np.float64]) -> NDArray[np.float64]:
        """The spend actually placed, every break of a constraint counted per environment."""
        spend = np.where(np.isfinite(asked), asked, 0.0)
        live = ~self.done[:, None]

        def record(kind: str, broken: NDArray[np.bool_]) -> None:
            self.violations[kind] += (broken & live).any(axis=1)

        record("negative", spend < 0)
        spend = np.maximum(spend, 0.0)
        record("blackout", (spend > 0) & self._blackout)
        spend = np.where(self._blackout, 0.0, spend)
        record("cap", spend > self._caps * (1 + 1e-12))
        spend = np.minimum(spend, self._caps)
        if self.constraints.max_change is not None:
            step = self.constraints.max_change * np.maximum(self.last_spend, self._fair_share)
            low = np.where(self._blackout, 0.0, np.maximum(self.last_spend - step, 0.0))
            high = np.minimum(self.last_spend + step, self._caps)
            record("max_change", (spend < low * (1 - 1e-12)) | (spend > high * (1 + 1e-12)))
            spend = np.clip(spend, low, high)
        total = spend.sum(axis=1)
        over = total > self.remaining * (1 + 1e-12)
        self.violations["budget"] += over & ~self.done
        self.attempted_over_budget += np.where(over & ~self.done, total - self.remaining, 0.0)
        factor = np.where(over, self.remaining / np.where(total > 0, total, 1.0), 1.0)
        spend = spend * factor[:, None]
        return np.where(live, spend, 0.0)

    def step(
        self, actions: NDArray[np.float64]
    ) -> tuple[
        dict[str, Any], NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]
    ]:
        asked = np.asarray(actions, dtype=np.float64)
        if asked.shape != (self.num_envs, len(self.world.channels)):
            raise SandboxError(
                "action",
                f"expected spends of shape {(self.num_envs, len(self.world.channels))}, "
                f"got {asked.shape}",
            )
        spend = self._enforce(asked)
        media = spend
        won = None
        if self.auction is not None:
            # Auction channels: pay the second prices, and the model sees the media bought.
            cleared = self.auction.clear(
                spend[:, self._auctioned], period=self._t, rng=self._auction_rng
            )
            spend, media = spend.copy(), spend.copy()
            spend[:, self._auctioned] = cleared.paid
            media[:, self._auctioned] = cleared.media
            won = cleared.won
        self._history = np.concatenate([media[:, None, :], self._history[:, :-1, :]], axis=1)
        carried = np.einsum("elc,elc->ec", self._history, self.world.weights[self.draws])
        incremental = self.world.incremental(self.draws, carried)
        season = self.world.baseline.shape[1]
        baseline = self.world.baseline[self.draws, self._t % season]
        noise = self._noise.standard_normal(self.num_envs) * self.world.sigma[self.draws]
        kpi = (baseline + noise) * self.world.kpi_scale + incremental.sum(axis=1)
        ratio = self.world.claims_ratio
        reported = incremental * (ratio if ratio is not None else 1.0)
        paid = spend.sum(axis=1)
        gained = np.where(self.done, 0.0, incremental.sum(axis=1))  # nothing after the end
        reward = self.kpi_value * gained - paid
        self.spent += paid
        self.remaining = np.maximum(self.remaining - paid, 0.0)
        self.last_spend = spend
        self._t += 1
        budget_gone = self.remaining <= self.constraints.total_budget * 1e-9
        terminated = ~self.done & budget_gone
        truncated = ~self.done & ~budget_gone & (self._t >= self.periods)
        self.done = self.done | terminated | truncated
        observation = self._observation(spend, kpi, reported)
        info = {
            "incremental_kpi": gained,
            "violations": {kind: counts.copy() for kind, counts in self.violations.items()},
            "attempted_over_budget": self.attempted_over_budget.copy(),
        }
        if won is not None:
            info["auction_won"] = won
        return observation, reward, terminated, truncated, info

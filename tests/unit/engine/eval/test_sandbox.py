"""The budget sandbox on fits with known parameters: constraints hold, episodes replay, and
the causal optimiser beats the naive agents in the worlds the posterior describes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.causal.inference import FitResult
from engine.eval.agents import (
    EqualSplit,
    Optimizer,
    Reference,
    Repeat,
    Thompson,
    play,
    regret,
    within_limits,
)
from engine.eval.sandbox import BudgetSandbox, Constraints, SandboxError, World
from engine.eval.stats import pass_hat_k
from tests.causal_fits import handmade


def fit_of(spread: float = 0.05, draws: int = 60) -> FitResult:
    # Three channels of very different strength: spend split equally wastes most of it.
    result = handmade(
        beta=[0.30, 0.05, 0.15], lam=[1.0, 1.0, 1.0], spread=spread, draws=draws, seed=1
    ).result
    samples = {**result.samples, "sigma": np.full(draws, 0.02)}
    return dataclasses.replace(result, samples=samples)


FIT = fit_of()
WORLD = World.from_fit(FIT)
BUDGET = float(FIT.channel_scale.sum()) * 26  # the historical pace over 26 periods


def test_an_agent_that_tries_to_overspend_is_stopped_at_the_budget() -> None:
    sandbox = BudgetSandbox(WORLD, Constraints(total_budget=BUDGET), periods=26, num_envs=4)
    sandbox.reset(seed=0)
    greedy = np.full((4, 3), BUDGET)  # the whole budget on every channel, every period
    _, _, terminated, truncated, info = sandbox.step(greedy)
    assert terminated.all()
    assert not truncated.any()
    assert sandbox.spent == pytest.approx(np.full(4, BUDGET))
    assert (info["violations"]["budget"] == 1).all()
    assert info["attempted_over_budget"] == pytest.approx(np.full(4, 2 * BUDGET))
    _, reward, _, _, info = sandbox.step(greedy)  # after the end nothing more is spent
    assert sandbox.spent == pytest.approx(np.full(4, BUDGET))
    assert (reward == 0).all()
    assert (info["violations"]["budget"] == 1).all()


def test_caps_blackouts_and_the_largest_change_are_enforced_and_recorded() -> None:
    caps = {"ch0": 100.0}
    limits = Constraints(
        total_budget=BUDGET, channel_caps=caps, blackout=frozenset({"ch1"}), max_change=0.5
    )
    sandbox = BudgetSandbox(WORLD, limits, periods=26, num_envs=2)
    sandbox.reset(seed=0)
    before = sandbox.last_spend.copy()
    observation, _, _, _, info = sandbox.step(np.array([[500.0, 10.0, 10 * before[0, 2]]] * 2))
    spend = observation["spend"]
    assert spend[:, 0] == pytest.approx([100.0, 100.0])
    assert (spend[:, 1] == 0).all()
    # ch2 asked ten times its last spend and got one and a half times it.
    assert spend[:, 2] == pytest.approx(1.5 * before[:, 2])
    for kind in ("cap", "blackout", "max_change"):
        assert (info["violations"][kind] == 1).all(), kind
    assert (info["violations"]["budget"] == 0).all()


def test_episodes_replay_from_their_seed() -> None:
    limits = Constraints(total_budget=BUDGET)
    first = play(WORLD, limits, EqualSplit(), periods=26, episodes=8, seed=11)
    again = play(WORLD, limits, EqualSplit(), periods=26, episodes=8, seed=11)
    other = play(WORLD, limits, EqualSplit(), periods=26, episodes=8, seed=12)
    assert np.array_equal(first.draws, again.draws)
    assert first.profit == pytest.approx(again.profit)
    assert not np.array_equal(first.draws, other.draws)


def test_the_optimiser_has_near_zero_regret_and_beats_the_naive_agents() -> None:
    limits = Constraints(total_budget=BUDGET)
    runs = {
        agent.name: play(WORLD, limits, agent, periods=26, episodes=40, seed=5)
        for agent in (Reference(FIT), Optimizer(FIT), EqualSplit(), Repeat())
    }
    reference = runs["reference"]
    regrets = {name: regret(run, reference) for name, run in runs.items()}
    scale = float(np.mean(reference.incremental_kpi))
    assert np.all(regrets["reference"] == 0)
    # Knowing only the posterior costs little when the posterior is tight.
    assert float(np.mean(regrets["optimizer"])) < 0.01 * scale
    assert float(np.mean(regrets["optimizer"])) >= -1e-6 * scale
    assert float(np.mean(regrets["equal_split"])) > 0.05 * scale
    assert float(np.mean(regrets["optimizer"])) < float(np.mean(regrets["repeat"]))
    for run in runs.values():
        assert run.clean.all(), run.agent  # none of them breaks a limit
    # pass^k over seeds: an episode passes when it is clean and within 1 % of the reference.
    passed = (regrets["optimizer"] <= 0.01 * reference.incremental_kpi) & runs["optimizer"].clean
    assert pass_hat_k([(int(passed.sum()), passed.size)], 4) > 0.5


def test_a_wide_posterior_costs_the_optimiser_more_than_a_tight_one() -> None:
    limits = Constraints(total_budget=BUDGET)
    costs = []
    for spread in (0.02, 0.6):
        fit = fit_of(spread=spread)
        world = World.from_fit(fit)
        reference = play(world, limits, Reference(fit), periods=26, episodes=30, seed=2)
        chosen = play(world, limits, Optimizer(fit), periods=26, episodes=30, seed=2)
        costs.append(float(np.mean(regret(chosen, reference) / reference.incremental_kpi)))
    assert costs[0] < costs[1]


def test_bad_constraints_name_their_field() -> None:
    with pytest.raises(SandboxError) as error:
        BudgetSandbox(
            WORLD,
            Constraints(total_budget=BUDGET, blackout=frozenset({"tv"})),
            periods=4,
            num_envs=1,
        )
    assert error.value.field == "constraints.blackout"
    with pytest.raises(SandboxError) as error:
        BudgetSandbox(WORLD, Constraints(total_budget=0), periods=4, num_envs=1)
    assert error.value.field == "constraints.total_budget"


def test_platform_claims_inflate_what_the_agent_sees_not_what_happened() -> None:
    world = World.from_fit(FIT, claims_ratio={"ch0": 2.0})
    sandbox = BudgetSandbox(world, Constraints(total_budget=BUDGET), periods=4, num_envs=1)
    sandbox.reset(seed=0)
    observation, _, _, _, info = sandbox.step(np.array([[100.0, 100.0, 100.0]]))
    plain = BudgetSandbox(WORLD, Constraints(total_budget=BUDGET), periods=4, num_envs=1)
    plain.reset(seed=0)
    truth, _, _, _, plain_info = plain.step(np.array([[100.0, 100.0, 100.0]]))
    assert observation["reported"][0, 0] == pytest.approx(2 * truth["reported"][0, 0])
    assert observation["reported"][0, 1] == pytest.approx(truth["reported"][0, 1])
    assert info["incremental_kpi"] == pytest.approx(plain_info["incremental_kpi"])


def test_thompson_sampling_learns_to_beat_equal_split_without_seeing_the_fit() -> None:
    limits = Constraints(total_budget=BUDGET * 2)
    kwargs = {"periods": 52, "episodes": 40, "seed": 9}
    reference = play(WORLD, limits, Reference(FIT), **kwargs)
    thompson = play(WORLD, limits, Thompson(seed=1), **kwargs)
    equal = play(WORLD, limits, EqualSplit(), **kwargs)
    assert thompson.clean.all()
    assert thompson.spend == pytest.approx(np.full(40, BUDGET * 2))
    assert float(np.mean(regret(thompson, reference))) < float(np.mean(regret(equal, reference)))
    again = play(WORLD, limits, Thompson(seed=1), **kwargs)
    assert again.profit == pytest.approx(thompson.profit)  # seeded: replayable


def test_built_in_agents_keep_to_caps_and_blackouts_they_are_told() -> None:
    caps = {"ch0": 0.8 * float(FIT.channel_scale[0])}
    limits = Constraints(total_budget=BUDGET, channel_caps=caps, blackout=frozenset({"ch1"}))
    for agent in (EqualSplit(), Repeat(), Thompson(seed=2), Optimizer(FIT), Reference(FIT)):
        run = play(WORLD, limits, agent, periods=26, episodes=10, seed=4)
        assert run.clean.all(), agent.name
        assert run.spend == pytest.approx(np.full(10, BUDGET), rel=1e-6), agent.name


def test_within_limits_moves_spend_to_open_channels_with_room() -> None:
    limits = Constraints(
        total_budget=BUDGET, channel_caps={"ch0": 50.0}, blackout=frozenset({"ch1"})
    )
    sandbox = BudgetSandbox(WORLD, limits, periods=4, num_envs=1)
    placed = within_limits(np.array([[100.0, 100.0, 100.0]]), sandbox)
    assert placed[0] == pytest.approx([50.0, 0.0, 250.0])


def test_one_agent_plays_two_scenarios_with_a_plan_for_each() -> None:
    reference, optimizer = Reference(FIT), Optimizer(FIT)
    open_ = Constraints(total_budget=BUDGET)
    closed = Constraints(total_budget=BUDGET, blackout=frozenset({"ch0"}))
    for agent in (reference, optimizer):
        play(WORLD, open_, agent, periods=26, episodes=4, seed=1)
        second = play(WORLD, closed, agent, periods=26, episodes=4, seed=1)
        assert second.clean.all(), agent.name  # not the first scenario's plan, which spends on ch0


def test_when_caps_cannot_absorb_the_budget_the_optimiser_spends_at_the_caps() -> None:
    caps = {
        name: 0.5 * float(scale)
        for name, scale in zip(WORLD.channels, FIT.channel_scale, strict=True)
    }
    limits = Constraints(total_budget=BUDGET, channel_caps=caps)
    for agent in (Optimizer(FIT), Reference(FIT)):
        run = play(WORLD, limits, agent, periods=26, episodes=3, seed=0)
        assert run.clean.all(), agent.name
        assert run.spend == pytest.approx(np.full(3, 0.5 * BUDGET), rel=1e-6), agent.name


def test_a_stored_model_replays_the_same_world_as_the_fit() -> None:
    """A stored model keeps its baseline per draw and period beside the model's own
    ``baseline`` site (a per-draw intercept, which must not be taken for the series)."""
    from engine.causal.persist import dump_posterior, load_posterior

    samples = {**FIT.samples, "baseline": np.full(FIT.samples["sigma"].shape, 0.7)}
    fit = dataclasses.replace(FIT, samples=samples)
    stored = load_posterior(
        dump_posterior(fit), spec=fit.spec, roas=fit.roas, diagnostics=fit.diagnostics
    )
    assert "mu" not in stored.samples
    assert np.array_equal(stored.samples["baseline"], samples["baseline"].astype(np.float32))
    fresh, replayed = World.from_fit(fit), World.from_fit(stored)
    assert replayed.baseline == pytest.approx(fresh.baseline, rel=1e-6)
    limits = Constraints(total_budget=BUDGET)
    first = play(fresh, limits, EqualSplit(), periods=26, episodes=8, seed=3)
    second = play(replayed, limits, EqualSplit(), periods=26, episodes=8, seed=3)
    assert second.profit == pytest.approx(first.profit, rel=1e-5)
    without = dataclasses.replace(
        stored, samples={k: v for k, v in stored.samples.items() if k != "baseline_series"}
    )
    with pytest.raises(SandboxError, match="fit it again"):
        World.from_fit(without)

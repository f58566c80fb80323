"""The remote sandbox agents' protocol: what an episode's agent is told, how its answer is
read, and an unreadable answer spending nothing and counting as an invalid action."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from deployments.eval.agents import PROTOCOL, _Remote, observation_document, parse_action
from engine.causal.inference import FitResult
from engine.eval.sandbox import BudgetSandbox, Constraints, World
from tests.causal_fits import handmade

CHANNELS = ("ch0", "ch1", "ch2")


def fit_of(draws: int = 20) -> FitResult:
    result = handmade(
        beta=[0.30, 0.05, 0.15], lam=[1.0, 1.0, 1.0], spread=0.05, draws=draws, seed=1
    ).result
    samples = {**result.samples, "sigma": np.full(draws, 0.02)}
    return dataclasses.replace(result, samples=samples)


FIT = fit_of()
WORLD = World.from_fit(FIT)
BUDGET = float(FIT.channel_scale.sum()) * 4


def sandbox_of(
    constraints: Constraints | None = None, *, num_envs: int = 2, kpi_value: float = 1.0
) -> BudgetSandbox:
    return BudgetSandbox(
        WORLD,
        constraints or Constraints(total_budget=BUDGET),
        periods=4,
        num_envs=num_envs,
        kpi_value=kpi_value,
    )


# -- parse_action ---------------------------------------------------------------------------


def test_an_answer_covering_every_channel_is_read() -> None:
    text = json.dumps({"spend": {"ch0": 100.0, "ch1": 0, "ch2": 25.5}})
    action = parse_action(text, CHANNELS)
    assert action is not None
    assert action.dtype == np.float64
    assert action.tolist() == [100.0, 0.0, 25.5]


def test_a_channel_left_out_spends_nothing() -> None:
    action = parse_action('{"spend": {"ch2": 7}}', CHANNELS)
    assert action is not None
    assert action.tolist() == [0.0, 0.0, 7.0]


def test_json_in_prose_or_a_code_fence_is_found() -> None:
    prose = 'Shifting budget to ch0.\n```json\n{"spend": {"ch0": 10, "ch1": 20}}\n```\nDone.'
    action = parse_action(prose, CHANNELS)
    assert action is not None
    assert action.tolist() == [10.0, 20.0, 0.0]


@pytest.mark.parametrize(
    "text",
    [
        '{"spend": {"tv": 10}}',  # unknown channel
        '{"spend": {"ch0": 10, "radio": 1}}',  # one unknown among known
        '{"spend": {"ch0": -1}}',
        '{"spend": {"ch0": NaN}}',
        '{"spend": {"ch0": Infinity}}',
        '{"spend": {"ch0": true}}',
        '{"spend": {"ch0": "100"}}',
        '{"spend": {"ch0": null}}',
        '{"spend": [10, 20, 30]}',
        '{"budget": {"ch0": 10}}',  # no spend key
        "[1, 2, 3]",
        "spend everything on ch0",
        "",
        '{"spend": {"ch0": 10}',  # truncated
    ],
)
def test_an_unreadable_answer_is_none(text: str) -> None:
    assert parse_action(text, CHANNELS) is None


# -- observation_document -------------------------------------------------------------------


def test_the_first_observation_tells_the_limits_and_no_kpi_yet() -> None:
    limits = Constraints(
        total_budget=BUDGET,
        channel_caps={"ch0": 100.0},
        blackout=frozenset({"ch1"}),
        max_change=0.5,
    )
    sandbox = sandbox_of(limits, kpi_value=2.5)
    observation, _ = sandbox.reset(seed=0)
    document = observation_document(observation, sandbox, 1)
    assert document == {
        "protocol": PROTOCOL,
        "period": 0,
        "periods": 4,
        "channels": list(CHANNELS),
        "last_spend": {
            c: pytest.approx(float(sandbox.last_spend[1, i])) for i, c in enumerate(CHANNELS)
        },
        "kpi": None,  # nothing has been observed before the first period
        "reported_conversions": {c: 0.0 for c in CHANNELS},
        "remaining_budget": pytest.approx(BUDGET),
        "caps": {"ch0": 100.0},  # uncapped channels are left out
        "blackout": ["ch1"],
        "max_change": 0.5,
        "kpi_value": 2.5,
    }
    # The protocol sends it as JSON: plain types only, and no NaN.
    assert json.loads(json.dumps(document, allow_nan=False)) == document


def test_a_later_observation_reports_the_period_that_passed() -> None:
    sandbox = sandbox_of()
    sandbox.reset(seed=0)
    asked = np.array([[50.0, 20.0, 10.0], [0.0, 30.0, 0.0]])
    observation, *_ = sandbox.step(asked)
    for env in range(2):
        document = observation_document(observation, sandbox, env)
        assert document["period"] == 1
        assert document["last_spend"] == {
            c: pytest.approx(asked[env, i]) for i, c in enumerate(CHANNELS)
        }
        assert isinstance(document["kpi"], float)
        assert math.isfinite(document["kpi"])
        assert document["kpi"] == pytest.approx(float(observation["kpi"][env]))
        assert document["remaining_budget"] == pytest.approx(BUDGET - asked[env].sum())
        reported = document["reported_conversions"]
        assert reported == {
            c: pytest.approx(float(observation["reported"][env, i])) for i, c in enumerate(CHANNELS)
        }
        assert document["caps"] == {}
        assert document["blackout"] == []
        assert document["max_change"] is None
        json.dumps(document, allow_nan=False)


# -- _Remote --------------------------------------------------------------------------------


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in its own thread, as the service's is while play() steps."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.call_soon_threadsafe(running.stop)
        thread.join(timeout=5)
        running.close()


EVEN_SPEND = {"ch0": 40.0, "ch1": 10.0, "ch2": 30.0}


class Recorder:
    """An ``ask`` that answers valid JSON for even episodes and garbage for odd ones."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, dict[str, Any]]] = []
        self.threads: set[int] = set()

    async def __call__(self, env: int, document: dict[str, Any]) -> str:
        self.asked.append((env, document))
        self.threads.add(threading.get_ident())
        await asyncio.sleep(0)
        if env % 2 == 0:
            return "Here you go: " + json.dumps({"spend": EVEN_SPEND})
        return "I would rather not say."


def test_remote_answers_are_played_and_garbage_spends_nothing(
    loop: asyncio.AbstractEventLoop,
) -> None:
    ask = Recorder()
    agent = _Remote("remote", ask, loop, timeout_s=5.0)
    sandbox = sandbox_of(num_envs=4)
    observation, _ = sandbox.reset(seed=0)
    spend = agent.act(observation, sandbox)
    assert spend.shape == (4, 3)
    for env in (0, 2):
        assert spend[env].tolist() == [EVEN_SPEND[c] for c in CHANNELS]
    assert (spend[[1, 3]] == 0).all()
    assert agent.invalid is not None
    assert agent.invalid.tolist() == [0, 1, 0, 1]
    assert agent.errors == []
    # Every live episode was asked once, on the loop's thread, with its own observation.
    assert sorted(env for env, _ in ask.asked) == [0, 1, 2, 3]
    assert len(ask.threads) == 1
    assert threading.get_ident() not in ask.threads
    for env, document in ask.asked:
        assert document == observation_document(observation, sandbox, env)

    sandbox.step(spend)
    assert sandbox.spent[[1, 3]].tolist() == [0.0, 0.0]
    assert sandbox.spent[[0, 2]] == pytest.approx([sum(EVEN_SPEND.values())] * 2)


def test_invalid_answers_add_up_and_start_again_with_a_new_batch(
    loop: asyncio.AbstractEventLoop,
) -> None:
    agent = _Remote("remote", Recorder(), loop, timeout_s=5.0)
    sandbox = sandbox_of(num_envs=2)
    observation, _ = sandbox.reset(seed=0)
    for _ in range(3):
        observation, *_ = sandbox.step(agent.act(observation, sandbox))
    assert agent.invalid is not None
    assert agent.invalid.tolist() == [0, 3]
    observation, _ = sandbox.reset(seed=1)
    agent.act(observation, sandbox)
    assert agent.invalid.tolist() == [0, 1]


def test_a_failed_or_slow_call_is_an_invalid_action_not_a_crash(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def ask(env: int, document: dict[str, Any]) -> str:
        del document
        if env == 0:
            raise ValueError("no answer")
        if env == 1:
            await asyncio.sleep(10)
        return json.dumps({"spend": EVEN_SPEND})

    agent = _Remote("remote", ask, loop, timeout_s=0.05)
    sandbox = sandbox_of(num_envs=3)
    observation, _ = sandbox.reset(seed=0)
    spend = agent.act(observation, sandbox)
    assert agent.invalid is not None
    assert agent.invalid.tolist() == [1, 1, 0]
    assert (spend[:2] == 0).all()
    assert spend[2].tolist() == [EVEN_SPEND[c] for c in CHANNELS]
    errors = sorted(agent.errors)
    assert len(errors) == 2
    assert errors[0] == "episode 0: ValueError: no answer"
    assert errors[1].startswith("episode 1: TimeoutError")


def test_finished_episodes_are_not_asked(loop: asyncio.AbstractEventLoop) -> None:
    ask = Recorder()
    agent = _Remote("remote", ask, loop, timeout_s=5.0)
    sandbox = sandbox_of(Constraints(total_budget=50.0), num_envs=2)
    observation, _ = sandbox.reset(seed=0)
    # Episode 0 spends the whole budget at once and ends; episode 1 spends nothing.
    observation, *_ = sandbox.step(agent.act(observation, sandbox))
    assert sandbox.done.tolist() == [True, False]
    ask.asked.clear()
    spend = agent.act(observation, sandbox)
    assert [env for env, _ in ask.asked] == [1]
    assert (spend == 0).all()
    assert agent.invalid is not None
    assert agent.invalid.tolist() == [0, 2]

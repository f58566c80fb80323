"""The second-price auction for paid-search channels: calibrated to be neutral at the fit
window's spend, each won query paid at the highest competing bid, a competitor surge buying
less media for the same money, and the sandbox charging what was paid."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.eval.agents import EqualSplit, play
from engine.eval.auction import Auction, AuctionError, AuctionSpec
from engine.eval.sandbox import BudgetSandbox, Constraints, World
from tests.causal_fits import handmade

HISTORY = {"search": 1000.0}


def test_at_history_the_auction_is_neutral_on_average() -> None:
    auction = Auction(AuctionSpec(frozenset(HISTORY), auctions=200), HISTORY)
    rng = np.random.default_rng(3)
    cleared = auction.clear(np.full((2000, 1), 1000.0), period=0, rng=rng)
    assert cleared.won.mean() / 200 == pytest.approx(0.5, abs=0.02)
    assert cleared.media.mean() == pytest.approx(1000.0, rel=0.03)
    assert (cleared.paid <= 1000.0 * (1 + 1e-12)).all()


def test_each_query_is_won_cheapest_first_at_the_second_price() -> None:
    spec = AuctionSpec(frozenset(HISTORY), auctions=20, competitors=4, spread=0.8)
    auction = Auction(spec, HISTORY)
    spend = np.asarray([[0.0], [150.0], [900.0], [1e9]])
    cleared = auction.clear(spend, period=0, rng=np.random.default_rng(11))
    # The same draws, by hand: the highest of the competitors' bids per query, cheapest first.
    logs = np.random.default_rng(11).standard_normal((4, 1, 20, 4)) * 0.8
    prices = np.sort(np.exp(logs.max(axis=-1)) * auction.unit[None, :, None], axis=-1)
    for env in range(4):
        total, won = 0.0, 0
        for price in prices[env, 0]:
            if total + price > spend[env, 0]:
                break
            total, won = total + price, won + 1
        assert cleared.won[env, 0] == won
        assert cleared.paid[env, 0] == pytest.approx(total)
    assert cleared.won[0, 0] == 0
    assert cleared.paid[0, 0] == 0
    assert cleared.won[3, 0] == 20  # a budget beyond every price wins every query


def test_a_competitor_surge_buys_less_media_for_the_same_money() -> None:
    calm = Auction(AuctionSpec(frozenset(HISTORY)), HISTORY)
    surge = Auction(AuctionSpec(frozenset(HISTORY), pressure=(2.0,)), HISTORY)
    spend = np.full((1000, 1), 1000.0)
    bought_calm = calm.clear(spend, period=0, rng=np.random.default_rng(5)).media.mean()
    bought_surge = surge.clear(spend, period=0, rng=np.random.default_rng(5)).media.mean()
    assert bought_surge < 0.75 * bought_calm
    assert surge.pressure(7) == 2.0
    assert Auction(AuctionSpec(frozenset(HISTORY), pressure=(1.0, 3.0)), HISTORY).pressure(3) == 3


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (AuctionSpec(frozenset({"tv"})), "auction.channels"),
        (AuctionSpec(frozenset()), "auction.channels"),
        (AuctionSpec(frozenset({"ch0"}), pressure=(1.0, -1.0)), "auction.pressure"),
        (AuctionSpec(frozenset({"ch0"}), share_at_history=1.0), "auction.share_at_history"),
    ],
)
def test_bad_auction_specs_name_their_field(spec: AuctionSpec, field: str) -> None:
    with pytest.raises(AuctionError) as raised:
        spec.check(("ch0", "ch1"))
    assert raised.value.field == field


def _world() -> World:
    result = handmade(beta=[0.3, 0.1], lam=[1.0, 1.0], spread=0.05, draws=40, seed=2).result
    return World.from_fit(
        dataclasses.replace(result, samples={**result.samples, "sigma": np.full(40, 0.02)})
    )


def test_the_sandbox_charges_what_the_auction_cleared_and_replays() -> None:
    world = _world()
    budget = float(world.channel_scale.sum()) * 10
    spec = AuctionSpec(frozenset({"ch0"}), pressure=(1.0, 1.5))
    sandbox = BudgetSandbox(
        world, Constraints(total_budget=budget), periods=10, num_envs=8, auction=spec
    )
    sandbox.reset(seed=4)
    asked = np.broadcast_to(world.channel_scale, (8, 2)).copy()
    _, reward, _, _, info = sandbox.step(asked)
    paid = sandbox.last_spend
    assert (paid[:, 0] <= asked[:, 0] * (1 + 1e-12)).all()
    assert (paid[:, 0] < asked[:, 0]).any()  # whole queries only: some money is left over
    assert paid[:, 1] == pytest.approx(asked[:, 1])  # not an auction channel: paid as asked
    assert sandbox.spent == pytest.approx(paid.sum(axis=1))
    assert info["auction_won"].shape == (8, 1)
    assert reward == pytest.approx(info["incremental_kpi"] - paid.sum(axis=1))

    first = play(
        world,
        Constraints(total_budget=budget),
        EqualSplit(),
        periods=10,
        episodes=8,
        seed=4,
        auction=spec,
    )
    again = play(
        world,
        Constraints(total_budget=budget),
        EqualSplit(),
        periods=10,
        episodes=8,
        seed=4,
        auction=spec,
    )
    plain = play(
        world, Constraints(total_budget=budget), EqualSplit(), periods=10, episodes=8, seed=4
    )
    assert np.array_equal(first.profit, again.profit)
    assert not np.allclose(first.profit, plain.profit)

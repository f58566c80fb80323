"""The budget sandbox: how fast it steps, and how the built-in agents do in it.

1. A real fit: ``engine.causal.simulate`` makes weekly data with a known answer and
   ``engine.causal.inference.fit`` fits the MMM to it (NUTS, as the causal module does).
2. Throughput: ``--episodes`` 52-week episodes with ``--channels`` channels, stepped as one
   vectorised batch, beside the same episodes stepped one environment at a time (the loop a
   non-vectorised environment would need). Target: >= 100,000 env-steps/s for 10 channels.
3. Agents: every built-in agent over the same seeds (so the same posterior draws and noise),
   scored against the reference (the causal optimiser on each episode's own draw), in two
   scenarios: the budget alone, the budget with per-channel caps and a blackout channel, and
   the budget with two channels bought through a second-price auction under competitor surges.
   ``overspend`` is not a built-in: it asks for three times the pace on every channel, to show
   the budget stopping an episode and the attempt being recorded.

Each figure comes from this run; nothing is asserted. Run: ``.venv/bin/python bench/eval.py``
(``--help`` for sizes).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich import box
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.causal.inference import FitConfig, FitResult, fit
from engine.causal.simulate import simulate
from engine.causal.spec import ModelSpec
from engine.eval.agents import (
    Agent,
    EpisodeScores,
    EqualSplit,
    Optimizer,
    Reference,
    Repeat,
    Thompson,
    play,
    regret,
)
from engine.eval.auction import AuctionSpec
from engine.eval.report import render_report
from engine.eval.sandbox import VIOLATIONS, BudgetSandbox, Constraints, World
from engine.eval.scoring import summarize
from engine.eval.stats import mean_score, pass_hat_k_interval, pass_rate

STEPS_TARGET = 100_000


@dataclass
class Overspend:
    """Asks for three times the budget's pace on every channel, every period."""

    name: str = "overspend"

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        del observation
        pace = 3 * sandbox.constraints.total_budget / sandbox.periods
        return np.full((sandbox.num_envs, len(sandbox.world.channels)), pace)


def fitted(channels: int, weeks: int, seed: int, console: Console) -> FitResult:
    data = simulate(periods=weeks, channels=channels, seed=seed).data
    started = time.perf_counter()
    result = fit(data, ModelSpec(), FitConfig(chains=2, warmup=500, samples=500, seed=seed))
    console.print(
        f"fit: {weeks} weeks x {channels} channels, 2 chains x (500 + 500) draws in "
        f"{time.perf_counter() - started:.1f} s; max R-hat {result.diagnostics.max_rhat:.3f}, "
        f"{result.diagnostics.divergences} divergences"
    )
    return result


def throughput(world: World, limits: Constraints, periods: int, episodes: int) -> Table:
    table = Table(title="sandbox throughput (equal_split agent)", box=box.ASCII)
    for column in ("stepping", "episodes", "env-steps", "seconds", "env-steps/s", "target"):
        table.add_column(column, justify="left" if column == "stepping" else "right")
    started = time.perf_counter()
    play(world, limits, EqualSplit(), periods=periods, episodes=episodes, seed=0)
    batch = time.perf_counter() - started
    loop_episodes = min(episodes, 200)  # the loop is slow; its rate does not depend on count
    started = time.perf_counter()
    for seed in range(loop_episodes):
        play(world, limits, EqualSplit(), periods=periods, episodes=1, seed=seed)
    loop = time.perf_counter() - started
    for label, count, seconds in (
        ("vectorised, one batch", episodes, batch),
        ("one environment at a time", loop_episodes, loop),
    ):
        rate = count * periods / seconds
        verdict = "PASS" if rate >= STEPS_TARGET else "FAIL"
        table.add_row(
            label,
            f"{count:,}",
            f"{count * periods:,}",
            f"{seconds:.3f}",
            f"{rate:,.0f}",
            f">= {STEPS_TARGET:,}: {verdict}",
        )
    return table


def _interval(value: float, low: float, high: float, scale: float = 100.0, digits: int = 2) -> str:
    return f"{value * scale:.{digits}f} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"


def _flat(value: tuple[float, Any]) -> tuple[float, float, float]:
    estimate, interval = value
    return estimate, interval.low, interval.high


def comparison(
    title: str,
    runs: Mapping[str, EpisodeScores],
    *,
    pass_regret: float,
    k: int,
) -> Table:
    reference = runs["reference"]
    table = Table(title=title, box=box.ASCII)
    columns = (
        "agent",
        "regret, % of reference KPI [95 % CI]",
        "episodes with violations",
        "violations by kind",
        "asked beyond budget (mean)",
        "pass rate [Wilson 95 %]",
        f"pass^{k} [95 % CI]",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "agent" else "right")
    for name, run in runs.items():
        relative = regret(run, reference) / reference.incremental_kpi
        score = mean_score(relative)
        passed = (relative <= pass_regret) & run.clean
        rate = pass_rate(list(passed))
        broken = pass_rate(list(~run.clean))
        kinds = ", ".join(
            f"{kind} {int(run.violations[kind].sum())}"
            for kind in VIOLATIONS
            if run.violations[kind].sum()
        )
        assert score.mean is not None
        assert score.interval is not None
        assert rate.rate is not None
        assert rate.interval is not None
        assert broken.rate is not None
        table.add_row(
            name,
            _interval(score.mean, score.interval.low, score.interval.high),
            f"{int((~run.clean).sum())} ({broken.rate:.0%})",
            kinds or "-",
            f"{float(run.attempted_over_budget.mean()):,.0f}",
            _interval(rate.rate, rate.interval.low, rate.interval.high, scale=1.0),
            _interval(*_flat(pass_hat_k_interval(list(passed), k)), scale=1.0, digits=3),
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=156, help="weeks of simulated history")
    parser.add_argument("--periods", type=int, default=52, help="periods per episode")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pass-regret", type=float, default=0.02)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--report", type=Path, help="write the first scenario's HTML report here")
    args = parser.parse_args(argv)
    console = Console(highlight=False, width=200)
    result = fitted(args.channels, args.weeks, args.seed, console)
    world = World.from_fit(result)
    budget = float(result.channel_scale.sum()) * args.periods  # the historical pace
    console.print(
        f"world: {world.draws} posterior draws, {len(world.channels)} channels; episode budget "
        f"{budget:,.0f} over {args.periods} periods (the fit window's pace)"
    )
    console.print(throughput(world, Constraints(total_budget=budget), args.periods, args.episodes))

    caps = {
        name: 1.5 * float(scale)
        for name, scale in zip(world.channels, result.channel_scale, strict=True)
    }
    scenarios = {
        "budget only": Constraints(total_budget=budget),
        "caps at 1.5x history, first channel blacked out": Constraints(
            total_budget=budget, channel_caps=caps, blackout=frozenset({world.channels[0]})
        ),
    }
    # The first two channels bought through a second-price auction, competitors' bids doubling
    # every fourth period (a stress scenario: engine/eval/auction.py).
    auctions: dict[str, AuctionSpec | None] = {label: None for label in scenarios}
    surge = "budget only, first two channels by auction, competitors x2 every 4th period"
    scenarios[surge] = Constraints(total_budget=budget)
    auctions[surge] = AuctionSpec(frozenset(world.channels[:2]), pressure=(1.0, 1.0, 1.0, 2.0))
    for label, limits in scenarios.items():
        agents: list[Agent] = [
            Reference(result),
            Optimizer(result),
            Thompson(seed=args.seed),
            EqualSplit(),
            Repeat(),
            Overspend(),
        ]
        started = time.perf_counter()
        runs = {
            agent.name: play(
                world,
                limits,
                agent,
                periods=args.periods,
                episodes=args.episodes,
                seed=args.seed,
                trace=args.report is not None,
                auction=auctions[label],
            )
            for agent in agents
        }
        seconds = time.perf_counter() - started
        console.print(
            comparison(
                f"agents, {label}: {args.episodes} episodes x {args.periods} periods "
                f"({seconds:.1f} s); pass = no violation and regret <= {args.pass_regret:.0%}",
                runs,
                pass_regret=args.pass_regret,
                k=args.k,
            )
        )
        if args.report is not None:
            summaries = [
                summarize(run, runs["reference"], pass_regret=args.pass_regret, k=args.k)
                for run in runs.values()
            ]
            page = render_report(
                title=f"Budget sandbox: {label}",
                summaries=summaries,
                runs=runs,
                channels=world.channels,
            )
            args.report.write_text(page, encoding="utf-8")
            console.print(f"report: {args.report} ({len(page):,} bytes)")
            args.report = None  # the first scenario only
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

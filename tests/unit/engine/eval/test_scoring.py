"""Agent summaries, paired comparisons and the deployment gate on sandbox runs."""

from __future__ import annotations

import numpy as np

from engine.eval.agents import EqualSplit, Optimizer, Reference, play
from engine.eval.sandbox import Constraints
from engine.eval.scoring import Gate, check_gate, compare, summarize
from tests.unit.engine.eval.test_sandbox import BUDGET, FIT, WORLD

LIMITS = Constraints(total_budget=BUDGET)
RUN = {"periods": 26, "episodes": 60, "seed": 3}
REFERENCE = play(WORLD, LIMITS, Reference(FIT), **RUN)
OPTIMIZER = play(WORLD, LIMITS, Optimizer(FIT), **RUN)
EQUAL = play(WORLD, LIMITS, EqualSplit(), **RUN)


def test_the_summary_carries_intervals() -> None:
    summary = summarize(OPTIMIZER, REFERENCE, pass_regret=0.02, k=4)
    assert summary.episodes == 60
    assert summary.regret.interval is not None
    assert summary.regret.interval.low <= summary.regret.mean <= summary.regret.interval.high
    assert summary.violation_rate.rate == 0.0
    estimate, interval = summary.pass_hat_k
    assert interval.low <= estimate <= interval.high


def test_a_paired_comparison_finds_the_optimiser_better_than_equal_split() -> None:
    result = compare(OPTIMIZER, EQUAL, REFERENCE)
    assert result.profit is not None
    assert result.profit.difference > 0
    assert result.profit.interval.low > 0
    assert result.profit.p_value < 0.01
    sequential = compare(OPTIMIZER, EQUAL, REFERENCE, sequential_looks=3)
    assert sequential.sequential is not None
    assert sequential.sequential.rejected
    assert sequential.sequential.stopped_at == 20  # clear from the first look on


def test_the_gate_passes_the_optimiser_and_stops_equal_split_with_evidence() -> None:
    gate = Gate(max_regret=0.05, max_violation_rate=0.0)
    assert check_gate(summarize(OPTIMIZER, REFERENCE), gate).passed
    failed = check_gate(summarize(EQUAL, REFERENCE), gate)
    assert not failed.passed
    regret_check = next(c for c in failed.checks if c.name == "regret")
    assert not regret_check.passed
    assert "upper" in regret_check.evidence
    assert np.isfinite(regret_check.observed)

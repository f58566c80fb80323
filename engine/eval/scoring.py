"""Sandbox results as statistics: each agent's summary with intervals, paired comparisons of
two agents on the same seeds, and the deployment gate.

An episode *passes* when it broke no constraint and its regret is at most ``pass_regret`` of
the reference's incremental KPI; pass^k is then tau-bench's reliability over the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.eval.agents import EpisodeScores, regret
from engine.eval.stats import (
    Interval,
    McNemar,
    MeanScore,
    PairedDifference,
    PassRate,
    SequentialResult,
    mcnemar_test,
    mean_score,
    paired_difference,
    pass_hat_k_interval,
    pass_rate,
    sequential_test,
)


@dataclass(frozen=True)
class AgentSummary:
    agent: str
    episodes: int
    regret: MeanScore  # share of the reference's incremental KPI, per episode
    profit: MeanScore
    violation_rate: PassRate  # share of episodes with at least one violation
    violations: dict[str, int]  # steps with a violation, per kind, over all episodes
    attempted_over_budget: float  # mean spend asked beyond the budget per episode
    pass_rate: PassRate
    pass_hat_k: tuple[float, Interval]
    k: int
    pass_regret: float


def _relative_regret(run: EpisodeScores, reference: EpisodeScores) -> np.ndarray:
    scale = np.maximum(np.abs(reference.incremental_kpi), 1e-12)
    return regret(run, reference) / scale


def passed(run: EpisodeScores, reference: EpisodeScores, *, pass_regret: float) -> np.ndarray:
    return np.asarray((_relative_regret(run, reference) <= pass_regret) & run.clean)


def summarize(
    run: EpisodeScores, reference: EpisodeScores, *, pass_regret: float = 0.02, k: int = 4
) -> AgentSummary:
    ok = passed(run, reference, pass_regret=pass_regret)
    return AgentSummary(
        agent=run.agent,
        episodes=int(run.profit.size),
        regret=mean_score(_relative_regret(run, reference)),
        profit=mean_score(run.profit),
        violation_rate=pass_rate(list(~run.clean)),
        violations={kind: int(counts.sum()) for kind, counts in run.violations.items()},
        attempted_over_budget=float(run.attempted_over_budget.mean()),
        pass_rate=pass_rate(list(ok)),
        pass_hat_k=pass_hat_k_interval(list(ok), min(k, ok.size)),
        k=min(k, int(ok.size)),
        pass_regret=pass_regret,
    )


@dataclass(frozen=True)
class AgentComparison:
    a: str
    b: str
    profit: PairedDifference | None  # a - b per episode; None when run sequentially
    sequential: SequentialResult | None
    passes: McNemar  # pass/fail of the same episodes


def compare(
    a: EpisodeScores,
    b: EpisodeScores,
    reference: EpisodeScores,
    *,
    pass_regret: float = 0.02,
    sequential_looks: int | None = None,
    seed: int = 0,
) -> AgentComparison:
    """Two agents on the same seeds and draws: the paired profit difference (bootstrap interval
    and permutation p, or a group-sequential test over ``sequential_looks`` looks) and McNemar
    on which episodes each passed."""
    if not (np.array_equal(a.draws, b.draws) and np.array_equal(a.draws, reference.draws)):
        raise ValueError("a paired comparison needs both agents on the same seeds")
    difference = a.profit - b.profit
    profit = None
    sequential = None
    if sequential_looks is None:
        profit = paired_difference(a.profit, b.profit, seed=seed)
    else:
        sequential = sequential_test(difference, looks=sequential_looks)
    passes = mcnemar_test(
        list(passed(a, reference, pass_regret=pass_regret)),
        list(passed(b, reference, pass_regret=pass_regret)),
    )
    return AgentComparison(a.agent, b.agent, profit, sequential, passes)


@dataclass(frozen=True)
class Gate:
    """Deployment thresholds; None skips a check."""

    max_regret: float | None = 0.05  # upper end of the regret interval
    max_violation_rate: float | None = 0.0  # observed share of episodes with a violation
    min_pass_hat_k: float | None = None  # lower end of the pass^k interval


@dataclass(frozen=True)
class GateCheck:
    name: str
    threshold: float
    observed: float
    passed: bool
    evidence: str


@dataclass(frozen=True)
class GateResult:
    passed: bool
    checks: tuple[GateCheck, ...]


def check_gate(summary: AgentSummary, gate: Gate) -> GateResult:
    """Pass only when every check holds at the pessimistic end of its interval."""
    checks = []
    if gate.max_regret is not None:
        high = summary.regret.interval.high if summary.regret.interval else float("inf")
        checks.append(
            GateCheck(
                "regret",
                gate.max_regret,
                high,
                high <= gate.max_regret,
                f"mean regret {summary.regret.mean:.4f} of the reference KPI, upper "
                f"{summary.regret.interval.level:.0%} bound {high:.4f}"
                if summary.regret.interval and summary.regret.mean is not None
                else "too few episodes for an interval",
            )
        )
    if gate.max_violation_rate is not None:
        rate = summary.violation_rate.rate or 0.0
        checks.append(
            GateCheck(
                "violations",
                gate.max_violation_rate,
                rate,
                rate <= gate.max_violation_rate,
                f"{summary.violation_rate.passed} of {summary.episodes} episodes broke a "
                f"constraint; by kind {summary.violations}; asked beyond budget "
                f"{summary.attempted_over_budget:,.2f} per episode",
            )
        )
    if gate.min_pass_hat_k is not None:
        estimate, interval = summary.pass_hat_k
        checks.append(
            GateCheck(
                f"pass^{summary.k}",
                gate.min_pass_hat_k,
                interval.low,
                interval.low >= gate.min_pass_hat_k,
                f"pass^{summary.k} {estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}] "
                f"(pass: no violation, regret <= {summary.pass_regret:.0%})",
            )
        )
    return GateResult(all(c.passed for c in checks), tuple(checks))


@dataclass(frozen=True)
class SandboxSummary:
    """A sandbox run: its world and limits, and every agent's summary against the reference."""

    channels: tuple[str, ...]
    periods: int
    episodes: int
    seed: int
    total_budget: float
    pass_regret: float
    k: int
    agents: tuple[AgentSummary, ...]

    def agent(self, name: str) -> AgentSummary | None:
        return next((a for a in self.agents if a.agent == name), None)

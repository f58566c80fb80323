"""An evaluation's case results as statistics: per model and metric an estimate with its
interval, pairwise comparisons of models on the same cases, and a leaderboard per metric that
says which models are statistically tied with the best.

A case result (:class:`Outcome`) carries, per metric, either a verdict (``checks``: pass/fail,
summarised as a pass rate with its Wilson interval) or a number (``scores``: a graded score,
latency, cost; summarised as a mean with a standard error clustered by the case's ``cluster``
where cases share a context). A case whose call failed counts as failing every check and has
no numbers. Models are compared only on the cases both answered: McNemar for checks, a paired
bootstrap (fixed seed) for scores, and every p-value of the run adjusted together (Holm), so
looking at many metrics does not manufacture a winner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from engine.eval.stats import (
    Interval,
    adjust_p_values,
    mcnemar_test,
    mean_score,
    paired_difference,
    pass_rate,
    tied,
)

# Numbers where less is better; every other metric ranks high-to-low.
LOWER_IS_BETTER = frozenset({"latency_ms", "cost_usd"})


@dataclass(frozen=True)
class Outcome:
    model: str
    case: int
    cluster: str
    checks: Mapping[str, bool]
    scores: Mapping[str, float]
    error: str | None = None


@dataclass(frozen=True)
class MetricStat:
    metric: str
    kind: str  # "rate" (a pass rate) or "mean"
    n: int
    value: float | None
    interval: Interval | None
    se: float | None = None
    clusters: int | None = None


@dataclass(frozen=True)
class ModelStats:
    model: str
    cases: int
    errors: int
    metrics: tuple[MetricStat, ...]

    def metric(self, name: str) -> MetricStat | None:
        return next((m for m in self.metrics if m.metric == name), None)


@dataclass(frozen=True)
class PairedResult:
    metric: str
    a: str
    b: str
    n: int
    difference: float | None  # a - b: pass-rate or mean difference on the shared cases
    interval: Interval | None  # of the difference (bootstrap), None for pass/fail
    test: str  # "mcnemar" or "paired_bootstrap"
    p_value: float
    p_adjusted: float
    significant: bool


@dataclass(frozen=True)
class Ranked:
    model: str
    value: float | None
    interval: Interval | None
    tied_with_best: bool


@dataclass(frozen=True)
class Board:
    metric: str
    lower_is_better: bool
    ranking: tuple[Ranked, ...]


@dataclass(frozen=True)
class EvalSummary:
    models: tuple[ModelStats, ...]
    comparisons: tuple[PairedResult, ...]
    leaderboards: tuple[Board, ...]
    level: float
    alpha: float
    adjustment: str
    seconds: float | None = None  # wall time of the calls, all models
    cases_per_second: float | None = None
    notes: tuple[str, ...] = ()  # metrics asked for that no case could measure, and why


def metric_names(outcomes: Sequence[Outcome]) -> tuple[list[str], list[str]]:
    """The check metrics and score metrics the outcomes carry, in first-seen order."""
    checks: dict[str, None] = {}
    scores: dict[str, None] = {}
    for outcome in outcomes:
        checks.update(dict.fromkeys(outcome.checks))
        scores.update(dict.fromkeys(outcome.scores))
    return list(checks), list(scores)


def model_stats(model: str, outcomes: Sequence[Outcome], *, level: float = 0.95) -> ModelStats:
    checks, scores = metric_names(outcomes)
    stats: list[MetricStat] = []
    for name in checks:
        # A case without this check does not count; a failed call fails every check it had.
        verdicts = [o.error is None and o.checks[name] for o in outcomes if name in o.checks]
        rate = pass_rate(verdicts, level=level)
        stats.append(MetricStat(name, "rate", rate.n, rate.rate, rate.interval))
    for name in scores:
        answered = [o for o in outcomes if o.error is None and name in o.scores]
        if not answered:
            stats.append(MetricStat(name, "mean", 0, None, None))
            continue
        clusters = [o.cluster for o in answered]
        shared = len(set(clusters)) < len(clusters)
        mean = mean_score(
            [o.scores[name] for o in answered], clusters=clusters if shared else None, level=level
        )
        stats.append(
            MetricStat(
                name,
                "mean",
                mean.n,
                mean.mean,
                mean.interval,
                se=mean.se,
                clusters=len(set(clusters)) if shared else None,
            )
        )
    return ModelStats(
        model=model,
        cases=len(outcomes),
        errors=sum(o.error is not None for o in outcomes),
        metrics=tuple(stats),
    )


def _paired(
    metric: str,
    kind: str,
    a: str,
    b: str,
    mine: Mapping[int, Outcome],
    theirs: Mapping[int, Outcome],
    *,
    seed: int,
    level: float,
) -> tuple[str, str, str, int, float | None, Interval | None, str, float] | None:
    if kind == "rate":
        shared = sorted(
            c
            for c in set(mine) & set(theirs)
            if metric in mine[c].checks and metric in theirs[c].checks
        )
        if not shared:
            return None
        first = [mine[c].error is None and bool(mine[c].checks.get(metric)) for c in shared]
        second = [theirs[c].error is None and bool(theirs[c].checks.get(metric)) for c in shared]
        test = mcnemar_test(first, second)
        difference = (sum(first) - sum(second)) / len(shared)
        return metric, a, b, len(shared), difference, None, "mcnemar", test.p_value
    shared = sorted(
        c
        for c in set(mine) & set(theirs)
        if mine[c].error is None
        and theirs[c].error is None
        and metric in mine[c].scores
        and metric in theirs[c].scores
    )
    if len(shared) < 2:
        return None
    result = paired_difference(
        [mine[c].scores[metric] for c in shared],
        [theirs[c].scores[metric] for c in shared],
        seed=seed,
        level=level,
    )
    return (
        metric,
        a,
        b,
        len(shared),
        result.difference,
        result.interval,
        "paired_bootstrap",
        result.p_value,
    )


def summarize(
    outcomes: Sequence[Outcome],
    *,
    level: float = 0.95,
    alpha: float = 0.05,
    seed: int = 0,
    adjustment: str = "holm",
) -> EvalSummary:
    """Every model's statistics, every pair of models compared on every metric (p-values
    adjusted together), and a leaderboard per metric."""
    by_model: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_model.setdefault(outcome.model, []).append(outcome)
    stats = tuple(model_stats(m, rows, level=level) for m, rows in by_model.items())
    checks, scores = metric_names(outcomes)
    indexed = {m: {o.case: o for o in rows} for m, rows in by_model.items()}
    raw = []
    for a, b in combinations(by_model, 2):
        for metric, kind in [*((c, "rate") for c in checks), *((s, "mean") for s in scores)]:
            found = _paired(metric, kind, a, b, indexed[a], indexed[b], seed=seed, level=level)
            if found is not None:
                raw.append(found)
    adjusted = adjust_p_values([r[7] for r in raw], method=adjustment)
    comparisons = tuple(
        PairedResult(*r, p_adjusted=p, significant=p < alpha)
        for r, p in zip(raw, adjusted, strict=True)
    )
    return EvalSummary(
        models=stats,
        comparisons=comparisons,
        leaderboards=tuple(_board(name, stats) for name in [*checks, *scores]),
        level=level,
        alpha=alpha,
        adjustment=adjustment,
    )


def _board(metric: str, stats: Sequence[ModelStats]) -> Board:
    lower = metric in LOWER_IS_BETTER
    known: list[tuple[str, MetricStat, float]] = []
    unknown: list[str] = []
    for s in stats:
        stat = s.metric(metric)
        if stat is None or stat.value is None:
            unknown.append(s.model)
        else:
            known.append((s.model, stat, stat.value))
    known.sort(key=lambda item: item[2] if lower else -item[2])
    best = known[0][1].interval if known else None
    ranking = [
        Ranked(model, value, stat.interval, index == 0 or tied(best, stat.interval))
        for index, (model, stat, value) in enumerate(known)
    ]
    ranking += [Ranked(model, None, None, False) for model in unknown]
    return Board(metric, lower, tuple(ranking))

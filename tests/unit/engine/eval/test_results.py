"""Case results as statistics: the per-model estimates are exactly the ``engine.eval.stats``
ones, comparisons are paired on the shared cases with every p-value adjusted together, and the
leaderboard ranks each metric in its own direction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from engine.eval.results import (
    LOWER_IS_BETTER,
    Board,
    EvalSummary,
    Outcome,
    PairedResult,
    model_stats,
    summarize,
)
from engine.eval.stats import (
    adjust_p_values,
    mcnemar_test,
    mean_score,
    paired_difference,
    pass_rate,
)


def outcome(
    case: int,
    *,
    model: str = "a",
    cluster: str | None = None,
    checks: Mapping[str, bool] | None = None,
    scores: Mapping[str, float] | None = None,
    error: str | None = None,
) -> Outcome:
    return Outcome(
        model=model,
        case=case,
        cluster=f"c{case}" if cluster is None else cluster,
        checks=dict(checks or {}),
        scores=dict(scores or {}),
        error=error,
    )


def board(summary: EvalSummary, metric: str) -> Board:
    found = [b for b in summary.leaderboards if b.metric == metric]
    assert len(found) == 1, metric
    return found[0]


def comparison(summary: EvalSummary, metric: str) -> PairedResult:
    found = [c for c in summary.comparisons if c.metric == metric]
    assert len(found) == 1, metric
    return found[0]


# -- one model ------------------------------------------------------------------------------


def test_a_check_is_a_pass_rate_with_the_wilson_interval_of_stats() -> None:
    verdicts = [True] * 8 + [False] * 2
    rows = [outcome(i, checks={"pass": v}) for i, v in enumerate(verdicts)]
    stats = model_stats("a", rows)
    stat = stats.metric("pass")
    assert stat is not None
    expected = pass_rate(verdicts)
    assert stat.kind == "rate"
    assert stat.n == expected.n == 10
    assert stat.value == expected.rate == 0.8
    assert stat.interval == expected.interval
    assert stat.interval is not None
    assert stat.interval.low == pytest.approx(0.4902, abs=1e-4)
    assert stats.model == "a"
    assert stats.cases == 10
    assert stats.errors == 0
    assert stats.metric("missing") is None


def test_the_interval_follows_the_level_asked_for() -> None:
    verdicts = [True] * 6 + [False] * 4
    rows = [outcome(i, checks={"pass": v}) for i, v in enumerate(verdicts)]
    stat = model_stats("a", rows, level=0.8).metric("pass")
    assert stat is not None
    assert stat.interval == pass_rate(verdicts, level=0.8).interval


def test_a_case_without_the_check_is_not_counted() -> None:
    rows = [
        outcome(0, checks={"pass": True, "accuracy": True}),
        outcome(1, checks={"pass": False, "accuracy": False}),
        outcome(2, checks={"pass": True}),  # no accuracy assertion: not an accuracy case
        outcome(3, checks={"pass": True}),
    ]
    stats = model_stats("a", rows)
    accuracy, passed = stats.metric("accuracy"), stats.metric("pass")
    assert accuracy is not None
    assert passed is not None
    assert accuracy.n == 2
    assert accuracy.value == 0.5
    assert accuracy.interval == pass_rate([True, False]).interval
    assert passed.n == 4
    assert passed.value == 0.75


def test_an_errored_case_fails_its_checks_and_has_no_numbers() -> None:
    rows = [
        outcome(0, checks={"pass": True}, scores={"latency_ms": 100.0}),
        outcome(1, checks={"pass": True}, scores={"latency_ms": 300.0}),
        outcome(2, checks={"pass": True}, scores={"latency_ms": 200.0}),
        outcome(3, checks={"pass": False}, scores={}, error="TimeoutError: no answer"),
    ]
    stats = model_stats("a", rows)
    assert stats.cases == 4
    assert stats.errors == 1
    passed, latency = stats.metric("pass"), stats.metric("latency_ms")
    assert passed is not None
    assert latency is not None
    assert passed.n == 4
    assert passed.value == 0.75
    assert passed.interval == pass_rate([True, True, True, False]).interval
    assert latency.n == 3
    assert latency.value == pytest.approx(200.0)


def test_an_error_fails_a_check_even_when_the_verdict_says_passed() -> None:
    rows = [
        outcome(0, checks={"pass": True}),
        outcome(1, checks={"pass": True}, error="ApiError: upstream"),
    ]
    stat = model_stats("a", rows).metric("pass")
    assert stat is not None
    assert stat.value == 0.5


def test_a_score_only_errored_cases_have_is_unknown() -> None:
    rows = [
        outcome(0, checks={"pass": False}, scores={"score": 0.4}, error="boom"),
        outcome(1, checks={"pass": False}, scores={"score": 0.2}, error="boom"),
    ]
    stat = model_stats("a", rows).metric("score")
    assert stat is not None
    assert stat.kind == "mean"
    assert (stat.n, stat.value, stat.interval, stat.se) == (0, None, None, None)


SCORES = [0.9, 0.7, 0.8, 0.2, 0.3, 0.25, 0.6, 0.65, 0.7, 0.1, 0.4, 0.15]


def test_scores_of_cases_sharing_a_context_get_a_clustered_error() -> None:
    clusters = [f"page{i // 3}" for i in range(len(SCORES))]  # four pages, three cases each
    rows = [
        outcome(i, cluster=c, scores={"score": s})
        for i, (s, c) in enumerate(zip(SCORES, clusters, strict=True))
    ]
    stat = model_stats("a", rows).metric("score")
    assert stat is not None
    expected = mean_score(SCORES, clusters=clusters)
    plain = mean_score(SCORES)
    assert stat.kind == "mean"
    assert stat.n == 12
    assert stat.clusters == 4 == expected.clusters
    assert stat.value == pytest.approx(expected.mean)
    assert stat.se == pytest.approx(expected.se)
    assert stat.interval == expected.interval
    # Within-page correlation makes the clustered error differ from the naive one.
    assert stat.se != pytest.approx(plain.se)


def test_scores_of_independent_cases_get_the_plain_error() -> None:
    rows = [outcome(i, scores={"score": s}) for i, s in enumerate(SCORES)]  # one cluster each
    stat = model_stats("a", rows).metric("score")
    assert stat is not None
    expected = mean_score(SCORES)
    assert stat.clusters is None
    assert stat.se == pytest.approx(expected.se)
    assert stat.interval == expected.interval


# -- two models -----------------------------------------------------------------------------

# Model a answered cases 0-19, model b cases 4-23: 16 shared. a errored on case 5.
A_PASS = {i: i % 3 != 0 for i in range(20)}
B_PASS = {i: i % 4 == 0 for i in range(4, 24)}


def a_score(case: int) -> float:
    return 0.5 + 0.02 * case + (0.1 if case % 2 else 0.0)


def b_score(case: int) -> float:
    return 0.4 + 0.015 * case + (0.05 if case % 3 else 0.0)


def two_models() -> list[Outcome]:
    rows = []
    for case, passed in A_PASS.items():
        if case == 5:
            rows.append(outcome(case, model="a", checks={"pass": False}, error="Timeout"))
        else:
            rows.append(
                outcome(case, model="a", checks={"pass": passed}, scores={"score": a_score(case)})
            )
    for case, passed in B_PASS.items():
        rows.append(
            outcome(case, model="b", checks={"pass": passed}, scores={"score": b_score(case)})
        )
    return rows


def test_two_models_are_compared_on_their_shared_cases_only() -> None:
    summary = summarize(two_models())
    assert [m.model for m in summary.models] == ["a", "b"]
    assert len(summary.comparisons) == 2
    shared = sorted(set(A_PASS) & set(B_PASS))
    assert len(shared) == 16

    check = comparison(summary, "pass")
    first = [A_PASS[c] and c != 5 for c in shared]  # the errored case fails
    second = [B_PASS[c] for c in shared]
    assert (check.a, check.b) == ("a", "b")
    assert check.test == "mcnemar"
    assert check.n == 16
    assert check.interval is None
    assert check.difference == pytest.approx((sum(first) - sum(second)) / 16)
    assert check.p_value == pytest.approx(mcnemar_test(first, second).p_value)

    score = comparison(summary, "score")
    answered = [c for c in shared if c != 5]  # an errored case has no score to pair
    expected = paired_difference(
        [a_score(c) for c in answered], [b_score(c) for c in answered], seed=0
    )
    assert score.test == "paired_bootstrap"
    assert score.n == 15
    assert score.difference == pytest.approx(expected.difference)
    assert score.interval == expected.interval
    assert score.p_value == pytest.approx(expected.p_value)


def test_every_p_value_of_the_run_is_holm_adjusted_together() -> None:
    summary = summarize(two_models(), alpha=0.05)
    raw = [c.p_value for c in summary.comparisons]
    adjusted = adjust_p_values(raw, method="holm")
    assert [c.p_adjusted for c in summary.comparisons] == pytest.approx(adjusted)
    assert all(c.p_adjusted >= c.p_value for c in summary.comparisons)
    assert [c.significant for c in summary.comparisons] == [p < 0.05 for p in adjusted]
    assert summary.adjustment == "holm"
    assert summary.alpha == 0.05
    assert summary.level == 0.95


def test_models_with_no_shared_case_are_not_compared() -> None:
    rows = [
        outcome(0, model="a", checks={"pass": True}, scores={"score": 1.0}),
        outcome(1, model="a", checks={"pass": False}, scores={"score": 0.0}),
        outcome(2, model="b", checks={"pass": True}, scores={"score": 1.0}),
        outcome(3, model="b", checks={"pass": True}, scores={"score": 0.5}),
    ]
    summary = summarize(rows)
    assert summary.comparisons == ()
    assert len(summary.models) == 2


# -- leaderboards ---------------------------------------------------------------------------


def model_rows(model: str, passes: int, latency: float, cost: float) -> list[Outcome]:
    rows = []
    for case in range(100):
        wobble = (case % 10) / 10.0
        rows.append(
            outcome(
                case,
                model=model,
                checks={"pass": case < passes},
                scores={
                    "score": passes / 100.0 + 0.05 * wobble,
                    "latency_ms": latency + 20.0 * wobble,
                    "cost_usd": cost * (1.0 + 0.1 * wobble),
                },
            )
        )
    return rows


def leaderboard_summary() -> EvalSummary:
    return summarize(
        [
            *model_rows("weak", 20, latency=100.0, cost=0.001),
            *model_rows("strong", 95, latency=900.0, cost=0.010),
            *model_rows("close", 93, latency=500.0, cost=0.005),
        ]
    )


def test_the_leaderboard_ranks_rates_and_scores_high_to_low() -> None:
    summary = leaderboard_summary()
    assert [b.metric for b in summary.leaderboards] == ["pass", "score", "latency_ms", "cost_usd"]
    passed = board(summary, "pass")
    assert not passed.lower_is_better
    assert [r.model for r in passed.ranking] == ["strong", "close", "weak"]
    assert [r.value for r in passed.ranking] == [0.95, 0.93, 0.20]
    assert [r.model for r in board(summary, "score").ranking] == ["strong", "close", "weak"]
    assert not board(summary, "score").lower_is_better


@pytest.mark.parametrize("metric", sorted(LOWER_IS_BETTER))
def test_the_leaderboard_ranks_latency_and_cost_low_to_high(metric: str) -> None:
    ranked = board(leaderboard_summary(), metric)
    assert ranked.lower_is_better
    assert [r.model for r in ranked.ranking] == ["weak", "close", "strong"]
    values = [r.value for r in ranked.ranking]
    assert all(v is not None for v in values)
    assert values == sorted(values)  # type: ignore[type-var]


def test_overlapping_intervals_tie_with_the_best_and_a_clearly_worse_model_does_not() -> None:
    ranking = {r.model: r for r in board(leaderboard_summary(), "pass").ranking}
    strong, close, weak = ranking["strong"], ranking["close"], ranking["weak"]
    assert strong.interval is not None
    assert close.interval is not None
    assert weak.interval is not None
    assert strong.interval.overlaps(close.interval)
    assert not strong.interval.overlaps(weak.interval)
    assert strong.tied_with_best  # the best is tied with itself
    assert close.tied_with_best  # 93/100 cannot be told apart from 95/100
    assert not weak.tied_with_best  # 20/100 is clearly worse
    assert weak.interval.high < strong.interval.low


def test_a_model_without_a_value_comes_last_and_is_not_tied() -> None:
    rows = [
        *model_rows("strong", 95, latency=900.0, cost=0.01)[:10],
        *(outcome(c, model="broken", checks={"pass": False}, error="down") for c in range(10)),
    ]
    summary = summarize(rows)
    latency = board(summary, "latency_ms")
    assert [r.model for r in latency.ranking] == ["strong", "broken"]
    last = latency.ranking[-1]
    assert (last.value, last.interval, last.tied_with_best) == (None, None, False)
    passed = board(summary, "pass")
    assert [r.model for r in passed.ranking] == ["strong", "broken"]
    assert passed.ranking[-1].value == 0.0


def summaries_agree(first: Sequence[PairedResult], second: Sequence[PairedResult]) -> bool:
    return [(c.metric, c.p_value, c.interval) for c in first] == [
        (c.metric, c.p_value, c.interval) for c in second
    ]


def test_the_comparisons_replay_from_the_seed() -> None:
    rows = two_models()
    assert summaries_agree(summarize(rows, seed=3).comparisons, summarize(rows, seed=3).comparisons)

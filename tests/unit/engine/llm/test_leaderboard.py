"""Ranking of model x template arms on measured outcomes with Bayesian intervals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine.llm.leaderboard import (
    HIGHER_IS_BETTER,
    ArmStats,
    Interval,
    Metric,
    Ranked,
    rank_arms,
)


def arm(
    model: str,
    *,
    template: str | None = None,
    generations: int = 10,
    impressions: int = 0,
    clicks: int = 0,
    conversions: int = 0,
    cost_usd: float = 0.0,
    quality_scores: tuple[float, ...] = (),
) -> ArmStats:
    return ArmStats(
        model=model,
        template=template,
        generations=generations,
        impressions=impressions,
        clicks=clicks,
        conversions=conversions,
        cost_usd=cost_usd,
        quality_scores=quality_scores,
    )


def by_model(ranked: tuple[Ranked, ...]) -> dict[str, Ranked]:
    return {r.model: r for r in ranked}


def test_direction_of_each_metric() -> None:
    assert HIGHER_IS_BETTER[Metric.CTR]
    assert HIGHER_IS_BETTER[Metric.CONVERSION_RATE]
    assert HIGHER_IS_BETTER[Metric.QUALITY]
    assert not HIGHER_IS_BETTER[Metric.COST_PER_CONVERSION]


def test_clearly_different_ctr_ranks_one_and_two_not_tied() -> None:
    ranked = rank_arms(
        [arm("weak", impressions=1000, clicks=10), arm("strong", impressions=1000, clicks=100)],
        Metric.CTR,
    )
    assert [r.model for r in ranked] == ["strong", "weak"]
    assert [r.rank for r in ranked] == [1, 2]
    assert ranked[0].tied_with == ()
    assert ranked[1].tied_with == ()
    assert ranked[0].n == 1000
    assert ranked[0].successes == 100
    assert ranked[0].prior == "Beta(1, 1)"


def test_overlapping_ctr_arms_are_tied_and_share_rank_one() -> None:
    ranked = by_model(
        rank_arms(
            [
                arm("a", template="t@1", impressions=1000, clicks=50),
                arm("b", template="t@1", impressions=1000, clicks=52),
            ],
            Metric.CTR,
        )
    )
    assert ranked["a"].rank == 1
    assert ranked["b"].rank == 1
    assert ranked["a"].tied_with == ("b|t@1",)
    assert ranked["b"].tied_with == ("a|t@1",)


def test_competition_ranking_skips_after_a_tie_group() -> None:
    ranked = rank_arms(
        [
            arm("a", impressions=1000, clicks=200),
            arm("b", impressions=1000, clicks=205),
            arm("c", impressions=1000, clicks=20),
        ],
        Metric.CTR,
    )
    assert [(r.model, r.rank) for r in ranked] == [("b", 1), ("a", 1), ("c", 3)]


def test_non_transitive_ties_only_push_down_by_clear_winners() -> None:
    # a is clearly above c, b overlaps both: c is behind a only.
    ranked = by_model(
        rank_arms(
            [
                arm("a", impressions=10_000, clicks=1_300),
                arm("b", impressions=100, clicks=11),
                arm("c", impressions=10_000, clicks=900),
            ],
            Metric.CTR,
        )
    )
    assert ranked["a"].interval is not None
    assert ranked["c"].interval is not None
    assert not ranked["a"].interval.overlaps(ranked["c"].interval)
    assert set(ranked["b"].tied_with) == {"a", "c"}
    assert (ranked["a"].rank, ranked["b"].rank, ranked["c"].rank) == (1, 1, 2)


def test_rate_interval_is_the_beta_posterior_quantiles() -> None:
    (ranked,) = rank_arms([arm("m", impressions=1000, clicks=37)], Metric.CTR, level=0.9)
    low, high = stats.beta.ppf([0.05, 0.95], 1 + 37, 1 + 1000 - 37)
    assert ranked.interval is not None
    assert ranked.interval.low == pytest.approx(low)
    assert ranked.interval.high == pytest.approx(high)
    assert ranked.interval.level == 0.9
    assert ranked.estimate == pytest.approx(38 / 1002)


def test_conversion_rate_is_per_click_with_the_prior_applied() -> None:
    (ranked,) = rank_arms(
        [arm("m", impressions=5000, clicks=200, conversions=20)],
        Metric.CONVERSION_RATE,
        prior=(2.0, 3.0),
    )
    assert ranked.n == 200
    assert ranked.successes == 20
    assert ranked.estimate == pytest.approx(22 / 205)
    assert ranked.prior == "Beta(2, 3)"
    low, high = stats.beta.ppf([0.025, 0.975], 22, 183)
    assert ranked.interval is not None
    assert ranked.interval.low == pytest.approx(low)
    assert ranked.interval.high == pytest.approx(high)


def test_arm_without_data_has_no_rank_and_comes_last() -> None:
    ranked = rank_arms(
        [
            arm("empty", impressions=0, clicks=0),
            arm("low", impressions=1000, clicks=10),
            arm("high", impressions=1000, clicks=100),
        ],
        Metric.CTR,
    )
    assert [r.model for r in ranked] == ["high", "low", "empty"]
    empty = ranked[-1]
    assert empty.rank is None
    assert empty.estimate is None
    assert empty.interval is None
    assert empty.n == 0
    assert "empty" not in ranked[0].tied_with


def test_cheaper_arm_ranks_first_on_cost_per_conversion() -> None:
    ranked = rank_arms(
        [
            arm("pricey", generations=1000, conversions=100, cost_usd=500.0),
            arm("cheap", generations=1000, conversions=100, cost_usd=50.0),
        ],
        Metric.COST_PER_CONVERSION,
    )
    assert [(r.model, r.rank) for r in ranked] == [("cheap", 1), ("pricey", 2)]
    cheap = ranked[0]
    assert cheap.n == 1000
    assert cheap.successes == 100
    assert cheap.estimate == pytest.approx(0.5, rel=0.02)
    assert cheap.prior.startswith("Gamma(1, 1)")


def test_cost_interval_matches_sampling_the_gamma_posterior() -> None:
    (ranked,) = rank_arms(
        [arm("m", generations=400, conversions=30, cost_usd=120.0)], Metric.COST_PER_CONVERSION
    )
    rng = np.random.default_rng(0)
    rate = rng.gamma(shape=1 + 30, scale=1 / (1 + 400), size=400_000)
    sampled = (120.0 / 400) / rate
    low, median, high = np.quantile(sampled, [0.025, 0.5, 0.975])
    assert ranked.interval is not None
    assert ranked.estimate == pytest.approx(median, rel=0.01)
    assert ranked.interval.low == pytest.approx(low, rel=0.01)
    assert ranked.interval.high == pytest.approx(high, rel=0.01)


def test_cost_per_conversion_without_generations_is_unranked() -> None:
    ranked = by_model(
        rank_arms(
            [arm("none", generations=0), arm("some", generations=10, conversions=2, cost_usd=1.0)],
            Metric.COST_PER_CONVERSION,
        )
    )
    assert ranked["none"].estimate is None
    assert ranked["none"].rank is None
    assert ranked["some"].rank == 1


def test_quality_ranks_by_mean_with_a_bootstrap_interval() -> None:
    good = tuple(np.linspace(0.7, 0.9, 30))
    poor = tuple(np.linspace(0.2, 0.4, 30))
    ranked = rank_arms(
        [arm("poor", quality_scores=poor), arm("good", quality_scores=good)], Metric.QUALITY
    )
    assert [(r.model, r.rank) for r in ranked] == [("good", 1), ("poor", 2)]
    best = ranked[0]
    assert best.estimate == pytest.approx(0.8)
    assert best.n == 30
    assert best.successes is None
    assert best.interval is not None
    assert best.interval.low < 0.8 < best.interval.high
    expected = stats.bootstrap(
        (np.asarray(good),),
        np.mean,
        n_resamples=20_000,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert best.interval.low == pytest.approx(expected.low)
    assert best.interval.high == pytest.approx(expected.high)


def test_quality_with_one_score_has_an_estimate_but_no_interval_or_rank() -> None:
    ranked = by_model(
        rank_arms(
            [
                arm("one", quality_scores=(0.99,)),
                arm("none"),
                arm("many", quality_scores=(0.5, 0.6, 0.7)),
            ],
            Metric.QUALITY,
        )
    )
    assert ranked["one"].estimate == pytest.approx(0.99)
    assert ranked["one"].interval is None
    assert ranked["one"].rank is None
    assert ranked["none"].estimate is None
    assert ranked["many"].rank == 1


def test_same_seed_same_quality_result() -> None:
    arms = [arm("m", quality_scores=(0.1, 0.5, 0.9, 0.4))]
    assert rank_arms(arms, Metric.QUALITY, seed=3) == rank_arms(arms, Metric.QUALITY, seed=3)


def test_empty_input_gives_empty_result() -> None:
    assert rank_arms([], Metric.CTR) == ()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"impressions": -1}, "impressions must be >= 0"),
        ({"clicks": -1}, "clicks must be >= 0"),
        ({"generations": -1}, "generations must be >= 0"),
        ({"impressions": 5, "clicks": 6}, "exceed impressions"),
        ({"cost_usd": -1.0}, "cost_usd"),
        ({"quality_scores": (1.5,)}, "quality_scores"),
    ],
)
def test_invalid_arms_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        arm("m", **fields)  # type: ignore[arg-type]


def test_conversions_above_clicks_are_rejected_for_conversion_rate_only() -> None:
    view_through = arm("m", impressions=100, clicks=2, conversions=5)
    with pytest.raises(ValueError, match="exceed clicks"):
        rank_arms([view_through], Metric.CONVERSION_RATE)
    assert rank_arms([view_through], Metric.CTR)[0].rank == 1


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5])
def test_level_outside_the_unit_interval_is_rejected(level: float) -> None:
    with pytest.raises(ValueError, match="level"):
        rank_arms([arm("m", impressions=10, clicks=1)], Metric.CTR, level=level)


def test_invalid_prior_and_duplicate_arms_are_rejected() -> None:
    with pytest.raises(ValueError, match="prior"):
        rank_arms([arm("m", impressions=10, clicks=1)], Metric.CTR, prior=(0.0, 1.0))
    with pytest.raises(ValueError, match="repeated"):
        rank_arms([arm("m"), arm("m")], Metric.CTR)


def test_touching_intervals_overlap() -> None:
    assert Interval(0.1, 0.2, 0.95).overlaps(Interval(0.2, 0.3, 0.95))
    assert not Interval(0.1, 0.2, 0.95).overlaps(Interval(0.21, 0.3, 0.95))

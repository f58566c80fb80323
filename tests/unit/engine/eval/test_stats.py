"""The eval statistics against published values and against scipy/statsmodels computed
independently on the same fixed data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from engine.eval.stats import (
    adjust_p_values,
    mcnemar_test,
    mean_score,
    obrien_fleming_bounds,
    paired_difference,
    pass_hat_k,
    pass_hat_k_interval,
    pass_rate,
    sequential_test,
    tied,
)


def test_wilson_interval_matches_the_published_value() -> None:
    # 8 of 10 at 95 %: Wilson (1927) gives 0.4902 to 0.9433 (Newcombe 1998, table I).
    result = pass_rate([True] * 8 + [False] * 2)
    assert result.rate == 0.8
    assert result.interval is not None
    assert result.interval.low == pytest.approx(0.4902, abs=1e-4)
    assert result.interval.high == pytest.approx(0.9433, abs=1e-4)


def test_a_perfect_score_still_has_an_interval_below_one() -> None:
    result = pass_rate([True] * 5)
    assert result.interval is not None
    assert result.interval.high == pytest.approx(1.0)
    assert result.interval.low < 0.6  # five passes do not prove a 95 % pass rate


def test_no_outcomes_give_no_rate() -> None:
    assert pass_rate([]).rate is None


def test_mcnemar_exact_matches_scipys_binomial_test() -> None:
    a = [True] * 59 + [True] * 6 + [False] * 16 + [False] * 80
    b = [True] * 59 + [False] * 6 + [True] * 16 + [False] * 80
    result = mcnemar_test(a, b)
    assert (result.only_a, result.only_b, result.exact) == (6, 16, True)
    assert result.p_value == pytest.approx(stats.binomtest(6, 22, 0.5).pvalue, rel=1e-12)


def test_mcnemar_chi_square_matches_the_formula_with_many_discordant_pairs() -> None:
    a = [True] * 10 + [False] * 30 + [True] * 20
    b = [False] * 10 + [True] * 30 + [True] * 20
    result = mcnemar_test(a, b)
    assert result.exact is False
    statistic = (abs(10 - 30) - 1) ** 2 / 40
    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(stats.chi2.sf(statistic, 1))


def test_mcnemar_with_no_discordant_pairs_finds_nothing() -> None:
    assert mcnemar_test([True, False], [True, False]).p_value == 1.0


def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    b = rng.uniform(0.3, 0.8, 40)
    a = b + 0.1 + rng.normal(0, 0.05, 40)
    return a, b


def test_paired_bootstrap_is_scipys_paired_bca_with_the_same_seed() -> None:
    a, b = scores()
    result = paired_difference(a, b, seed=3, resamples=2_000)
    reference = stats.bootstrap(
        (a, b),
        lambda x, y, axis=-1: np.mean(x - y, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=2_000,
        method="BCa",
        rng=np.random.default_rng(3),
    ).confidence_interval
    assert result.interval.low == pytest.approx(reference.low)
    assert result.interval.high == pytest.approx(reference.high)
    assert result.interval.low < 0.1 < result.interval.high
    assert result.difference == pytest.approx(float(np.mean(a - b)))
    assert paired_difference(a, b, seed=3, resamples=2_000) == result  # seeded: replayable


def test_the_permutation_p_value_equals_exact_sign_flip_enumeration() -> None:
    a = np.array([0.9, 0.7, 0.8, 0.65, 0.75, 0.6, 0.85, 0.7])
    b = np.array([0.7, 0.72, 0.6, 0.6, 0.7, 0.62, 0.65, 0.55])
    d = a - b
    observed = abs(d.mean())
    flips = [np.mean(d * np.array(signs)) for signs in itertools.product([1, -1], repeat=d.size)]
    exact = sum(abs(f) >= observed - 1e-12 for f in flips) / len(flips)
    result = paired_difference(a, b)
    assert result.p_value == pytest.approx(exact)


def test_clustered_standard_error_is_the_cluster_robust_sandwich() -> None:
    values = [0.9, 0.8, 0.85, 0.2, 0.3, 0.25, 0.6, 0.5, 0.55, 0.4]
    groups = ["p1", "p1", "p1", "p2", "p2", "p2", "p3", "p3", "p3", "p4"]
    result = mean_score(values, clusters=groups)
    y = np.asarray(values)
    e = y - y.mean()
    sums = [
        e[[i for i, g in enumerate(groups) if g == label]].sum() for label in dict.fromkeys(groups)
    ]
    count = len(sums)
    # statsmodels' small-sample factor: G/(G-1) * (n-1)/(n-k), with k = 1 for a mean.
    variance = count / (count - 1) * sum(s**2 for s in sums) / y.size**2
    assert result.se == pytest.approx(math.sqrt(variance))
    assert result.clusters == 4
    naive = mean_score(values)
    assert naive.se is not None
    assert result.se > naive.se  # correlated cases carry less information than their count
    assert result.interval is not None
    half = stats.t.ppf(0.975, 3) * result.se
    assert result.interval.high - result.interval.low == pytest.approx(2 * half)


def test_holm_adjustment() -> None:
    assert adjust_p_values([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_pass_hat_k_is_exact_on_a_tiny_case() -> None:
    trials = [(3, 4), (1, 4), (4, 4)]
    assert pass_hat_k(trials, 1) == pytest.approx((0.75 + 0.25 + 1.0) / 3)
    assert pass_hat_k(trials, 2) == pytest.approx((3 / 6 + 0 + 1) / 3)
    assert pass_hat_k(trials, 4) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="at least 5 tries"):
        pass_hat_k(trials, 5)


def test_obrien_fleming_bounds_match_published_lan_demets_values() -> None:
    # Five equally spaced looks, two-sided alpha 0.05 (gsDesign / rpact, Lan-DeMets O'Brien-
    # Fleming spending): 4.877, 3.357, 2.680, 2.290, 2.031.
    bounds = obrien_fleming_bounds([0.2, 0.4, 0.6, 0.8, 1.0])
    assert bounds.z == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=0.01)
    assert bounds.alpha_spent[-1] == pytest.approx(0.05)
    assert obrien_fleming_bounds([1.0]).z[0] == pytest.approx(1.959964, abs=1e-5)


def test_overlapping_intervals_are_tied() -> None:
    a, b, c = (
        pass_rate([True] * 9 + [False]),
        pass_rate([True] * 8 + [False] * 2),
        pass_rate([False] * 10),
    )
    assert tied(a.interval, b.interval)
    assert not tied(a.interval, c.interval)


def test_pass_hat_k_interval_brackets_the_estimate() -> None:
    passed = [True] * 16 + [False] * 4
    estimate, interval = pass_hat_k_interval(passed, 3, seed=1)
    assert estimate == pytest.approx(math.comb(16, 3) / math.comb(20, 3))
    assert interval.low < estimate < interval.high
    assert pass_hat_k_interval(passed, 3, seed=1) == (estimate, interval)
    assert pass_hat_k_interval([True] * 5, 2)[1].low == 1.0


def test_peeking_with_obrien_fleming_keeps_the_false_positive_rate() -> None:
    # 2,000 comparisons of two equal agents, each looked at 5 times: stopping at the first
    # crossing of the O'Brien-Fleming bounds rejects about 5 % of the time; stopping at the
    # first |z| >= 1.96, the naive peek, rejects far more often.
    rng = np.random.default_rng(0)
    sequential = naive = 0
    for _ in range(2_000):
        d = rng.standard_normal(100)
        sequential += sequential_test(d, looks=5).rejected
        cuts = (20, 40, 60, 80, 100)
        naive += any(abs(d[:c].mean() / (d[:c].std(ddof=1) / math.sqrt(c))) >= 1.96 for c in cuts)
    assert 0.03 <= sequential / 2_000 <= 0.07
    assert naive / 2_000 > 0.10


def test_a_real_difference_stops_early() -> None:
    rng = np.random.default_rng(1)
    result = sequential_test(rng.normal(0.8, 1.0, 200), looks=5)
    assert result.rejected
    assert result.stopped_at is not None
    assert result.stopped_at < 200
    assert result.difference > 0

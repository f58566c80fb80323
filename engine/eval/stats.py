"""The statistics on every eval score: no bare pass rate leaves this module.

- Pass rates carry a Wilson score interval (``statsmodels`` ``proportion_confint``), which
  stays inside [0, 1] and keeps its coverage at the small n and extreme rates evals produce.
- Mean scores carry a standard error; when cases share a context (several questions about one
  product page, one conversation), the error is clustered by that context (a cluster-robust
  sandwich estimator through ``statsmodels`` OLS on a constant, with t quantiles on G - 1
  degrees of freedom), because such cases are not independent draws.
- Head-to-head comparisons are paired: McNemar's test on the discordant pass/fail pairs (exact
  binomial below 25 discordant pairs), and for scores a paired bootstrap interval of the mean
  difference (``scipy.stats.bootstrap``, BCa, fixed seed) with a paired sign-flip permutation
  p-value (``scipy.stats.permutation_test``, same seed).
- Several metrics compared at once get their p-values adjusted (Holm by default,
  ``statsmodels`` ``multipletests``), so a family of comparisons keeps its error rate.
- ``pass_hat_k`` is tau-bench's reliability: the chance that k independent tries of a case
  all pass, estimated without bias from n >= k tries per case.
- ``obrien_fleming_bounds`` are Lan-DeMets O'Brien-Fleming-type group-sequential boundaries,
  so a comparison that is looked at after every batch of episodes keeps its overall alpha.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, stats
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from engine.llm.leaderboard import Interval  # the same interval the LLM leaderboard ranks with

__all__ = [
    "Bounds",
    "Interval",
    "McNemar",
    "MeanScore",
    "PairedDifference",
    "PassRate",
    "SequentialResult",
    "adjust_p_values",
    "mcnemar_test",
    "mean_score",
    "obrien_fleming_bounds",
    "paired_difference",
    "pass_hat_k",
    "pass_hat_k_interval",
    "pass_rate",
    "sequential_test",
    "tied",
]

# Scores as callers hold them: a list, or a numpy array straight from a sandbox run.
Scores = Sequence[float] | np.ndarray

# Below this many discordant pairs McNemar's chi-square approximation is poor; the exact
# binomial test is used instead (the usual rule: b + c < 25).
_EXACT_BELOW = 25


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")


def tied(a: Interval | None, b: Interval | None) -> bool:
    """Statistically tied: either has no interval yet, or their intervals overlap."""
    return a is None or b is None or a.overlaps(b)


@dataclass(frozen=True)
class PassRate:
    n: int
    passed: int
    rate: float | None  # None when n == 0
    interval: Interval | None


def pass_rate(outcomes: Sequence[bool], *, level: float = 0.95) -> PassRate:
    """The share of passing outcomes with its Wilson score interval."""
    _check_level(level)
    n = len(outcomes)
    passed = int(sum(bool(o) for o in outcomes))
    if n == 0:
        return PassRate(0, 0, None, None)
    low, high = proportion_confint(passed, n, alpha=1.0 - level, method="wilson")
    return PassRate(n, passed, passed / n, Interval(float(low), float(high), level))


@dataclass(frozen=True)
class MeanScore:
    n: int
    mean: float | None
    se: float | None  # None below two observations (or two clusters)
    interval: Interval | None
    clusters: int | None  # the number of clusters when the error is clustered


def _finite(values: Scores, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def mean_score(
    scores: Scores,
    *,
    clusters: Sequence[Hashable] | None = None,
    level: float = 0.95,
) -> MeanScore:
    """Mean with its standard error and a t interval; clustered when ``clusters`` is given
    (one label per score: the context the case shares with others)."""
    _check_level(level)
    y = _finite(scores, "scores")
    n = int(y.size)
    if n == 0:
        return MeanScore(0, None, None, None, None)
    mean = float(y.mean())
    if clusters is None:
        if n < 2:
            return MeanScore(n, mean, None, None, None)
        se = float(y.std(ddof=1) / math.sqrt(n))
        df = n - 1
        groups = None
    else:
        if len(clusters) != n:
            raise ValueError(f"clusters has {len(clusters)} labels for {n} scores")
        codes = {label: i for i, label in enumerate(dict.fromkeys(clusters))}
        groups = len(codes)
        if groups < 2:
            return MeanScore(n, mean, None, None, groups)
        labels = np.asarray([codes[c] for c in clusters])
        fit = OLS(y, np.ones((n, 1))).fit(
            cov_type="cluster", cov_kwds={"groups": labels}, use_t=True
        )
        se = float(fit.bse[0])
        df = groups - 1
    if se == 0.0:
        return MeanScore(n, mean, 0.0, Interval(mean, mean, level), groups)
    half = float(stats.t.ppf(0.5 + level / 2.0, df)) * se
    return MeanScore(n, mean, se, Interval(mean - half, mean + half, level), groups)


@dataclass(frozen=True)
class McNemar:
    n: int  # pairs
    only_a: int  # a passed, b failed
    only_b: int  # b passed, a failed
    statistic: float
    p_value: float
    exact: bool


def mcnemar_test(a: Sequence[bool], b: Sequence[bool]) -> McNemar:
    """McNemar's test of two systems' pass/fail on the same cases."""
    if len(a) != len(b):
        raise ValueError(f"paired outcomes need equal lengths, got {len(a)} and {len(b)}")
    table = np.zeros((2, 2), dtype=int)
    for x, y in zip(a, b, strict=True):
        table[0 if x else 1, 0 if y else 1] += 1
    only_a, only_b = int(table[0, 1]), int(table[1, 0])
    exact = only_a + only_b < _EXACT_BELOW
    if only_a + only_b == 0:
        return McNemar(len(a), 0, 0, 0.0, 1.0, exact)
    result = mcnemar(table, exact=exact, correction=True)
    return McNemar(len(a), only_a, only_b, float(result.statistic), float(result.pvalue), exact)


@dataclass(frozen=True)
class PairedDifference:
    n: int
    mean_a: float
    mean_b: float
    difference: float  # mean of a - b
    interval: Interval
    p_value: float  # paired sign-flip permutation test, two-sided


def paired_difference(
    a: Scores,
    b: Scores,
    *,
    level: float = 0.95,
    resamples: int = 9_999,
    seed: int = 0,
) -> PairedDifference:
    """Mean of a - b over the same cases, with a paired BCa bootstrap interval and a paired
    permutation p-value; both seeded, so equal inputs give equal results."""
    _check_level(level)
    x, y = _finite(a, "a"), _finite(b, "b")
    if x.size != y.size:
        raise ValueError(f"paired scores need equal lengths, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"a paired comparison needs at least 2 cases, got {x.size}")
    difference = float(np.mean(x - y))
    if np.all(x - y == x[0] - y[0]):
        # Every case moved by the same amount: nothing to resample, the interval is a point.
        interval = Interval(difference, difference, level)
        p_value = 1.0 if difference == 0.0 else float(2.0 ** (1 - x.size))
        return PairedDifference(
            int(x.size), float(x.mean()), float(y.mean()), difference, interval, min(1.0, p_value)
        )

    def mean_difference(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(u - v, axis=axis)  # type: ignore[no-any-return]

    booted = stats.bootstrap(
        (x, y),
        mean_difference,
        paired=True,
        vectorized=True,
        confidence_level=level,
        n_resamples=resamples,
        method="BCa",
        rng=np.random.default_rng(seed),
    )
    permuted = stats.permutation_test(
        (x, y),
        mean_difference,
        permutation_type="samples",
        vectorized=True,
        n_resamples=resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    low, high = booted.confidence_interval
    return PairedDifference(
        int(x.size),
        float(x.mean()),
        float(y.mean()),
        difference,
        Interval(float(low), float(high), level),
        float(permuted.pvalue),
    )


def adjust_p_values(p_values: Sequence[float], *, method: str = "holm") -> list[float]:
    """Family-wise (``holm``, ``bonferroni``) or false-discovery (``fdr_bh``) adjustment."""
    if not p_values:
        return []
    _, adjusted, _, _ = multipletests(list(p_values), method=method)
    return [float(p) for p in adjusted]


def pass_hat_k(trials: Sequence[tuple[int, int]], k: int) -> float:
    """tau-bench's pass^k: over cases, the mean chance that k tries drawn without replacement
    from a case's n tries all passed, ``C(c, k) / C(n, k)`` for c passes in n tries. Unbiased
    for the probability that k fresh tries all pass; every case needs n >= k tries."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not trials:
        raise ValueError("pass^k needs at least one case")
    total = 0.0
    for index, (passes, tries) in enumerate(trials):
        if not 0 <= passes <= tries:
            raise ValueError(f"case {index}: {passes} passes in {tries} tries")
        if tries < k:
            raise ValueError(f"case {index}: pass^{k} needs at least {k} tries, got {tries}")
        total += math.comb(passes, k) / math.comb(tries, k)
    return total / len(trials)


def pass_hat_k_interval(
    passed: Sequence[bool], k: int, *, level: float = 0.95, resamples: int = 2_000, seed: int = 0
) -> tuple[float, Interval]:
    """pass^k of one case tried ``len(passed)`` times (e.g. one agent over k-or-more seeds),
    with a percentile bootstrap interval over the tries (``scipy.stats.bootstrap``, seeded)."""
    _check_level(level)
    tries = np.asarray(passed, dtype=float)
    estimate = pass_hat_k([(int(tries.sum()), tries.size)], k)
    if tries.size < 2 or np.all(tries == tries[0]):
        return estimate, Interval(estimate, estimate, level)

    def statistic(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        passes = np.sum(sample, axis=axis)
        # C(c, k) / C(n, k) as a product, vectorised over resamples.
        n = sample.shape[axis]
        ratio = np.ones_like(passes, dtype=float)
        for j in range(k):
            ratio = ratio * np.clip(passes - j, 0, None) / (n - j)
        return ratio

    booted = stats.bootstrap(
        (tries,),
        statistic,
        vectorized=True,
        confidence_level=level,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = booted.confidence_interval
    return estimate, Interval(float(low), float(high), level)


@dataclass(frozen=True)
class Bounds:
    """Two-sided group-sequential boundaries: stop at look i when ``|z| >= z[i]``."""

    fractions: tuple[float, ...]  # information fraction at each look, increasing to 1
    z: tuple[float, ...]
    alpha_spent: tuple[float, ...]  # cumulative alpha spent by each look
    alpha: float


def _obf_spent(t: float, alpha: float) -> float:
    """Two-sided alpha spent by information fraction ``t``: each side spends ``alpha / 2``
    with Lan & DeMets's (1983) O'Brien-Fleming-type function
    ``a(t) = 2 - 2 Phi(Phi^-1(1 - a / 2) / sqrt(t))``, the convention of gsDesign and rpact."""
    side = alpha / 2.0
    return float(2.0 * 2.0 * stats.norm.sf(stats.norm.ppf(1.0 - side / 2.0) / math.sqrt(t)))


def _next_bound(t: np.ndarray, earlier: np.ndarray, no_crossing: float) -> float:
    """The bound at the last of the looks ``t`` under which the chance of never crossing any
    bound (``earlier`` then this one) is ``no_crossing``."""
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    # A fixed seed makes the quasi-Monte Carlo integral, and so the bounds, reproducible.
    normal = stats.multivariate_normal(mean=np.zeros(t.size), cov=cov, seed=0)

    def gap(z: float) -> float:
        upper = np.append(earlier, z)
        return float(normal.cdf(upper, lower_limit=-upper)) - no_crossing

    return float(optimize.brentq(gap, 0.5, 12.0, xtol=1e-6))


def obrien_fleming_bounds(fractions: Sequence[float], *, alpha: float = 0.05) -> Bounds:
    """Boundaries for looks at the given information fractions; see :func:`_bounds`."""
    return _bounds(tuple(float(f) for f in fractions), float(alpha))


@lru_cache(maxsize=256)
def _bounds(fractions: tuple[float, ...], alpha: float) -> Bounds:
    """Boundaries for looks at the given information fractions (e.g. the share of planned
    episodes observed), spending ``alpha`` with the O'Brien-Fleming-type function.

    The z statistics at the looks are a Brownian motion sampled at ``t``, so
    ``corr(Z_i, Z_j) = sqrt(t_i / t_j)``; each boundary solves ``P(no crossing before, crossing
    now) = spent(t_k) - spent(t_{k-1})`` with the multivariate normal integral.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    t = np.asarray(fractions, dtype=float)
    if t.size == 0 or np.any(t <= 0) or np.any(t > 1) or np.any(np.diff(t) <= 0):
        raise ValueError("fractions must increase strictly within (0, 1]")
    spent = [_obf_spent(float(x), alpha) for x in t]
    bounds = [float(stats.norm.ppf(1.0 - spent[0] / 2.0))]
    for k in range(1, t.size):
        # No crossing through look k has probability 1 - spent(t_k).
        bounds.append(_next_bound(t[: k + 1], np.asarray(bounds), 1.0 - spent[k]))
    return Bounds(tuple(float(x) for x in t), tuple(bounds), tuple(spent), alpha)


@dataclass(frozen=True)
class SequentialResult:
    """A paired comparison looked at as its data arrived."""

    looks: int  # how many looks were taken (the test stops at the first crossing)
    z: tuple[float, ...]  # the statistic at each look taken
    bounds: tuple[float, ...]  # the boundary at each look taken
    rejected: bool  # a boundary was crossed: the difference is significant at ``alpha``
    stopped_at: int | None  # the paired observations used when it stopped early, else None
    difference: float  # mean difference a - b over the data used
    alpha: float


def sequential_test(
    differences: Scores, *, looks: int = 5, planned: int | None = None, alpha: float = 0.05
) -> SequentialResult:
    """Group-sequential two-sided test of a zero mean paired difference.

    ``planned`` pairs (default: all of ``differences``) are looked at after each of ``looks``
    equal batches; at each look the one-sample z statistic (mean / standard error) is compared
    with the O'Brien-Fleming-type bound for the information fraction reached, so stopping at the
    first crossing keeps the overall false-positive rate at ``alpha`` however often one peeks.
    """
    d = _finite(differences, "differences")
    total = d.size if planned is None else planned
    if total < 2 * looks or d.size > total:
        raise ValueError(f"need at least {2 * looks} planned pairs, at most {total} given")
    cuts = [round(total * (i + 1) / looks) for i in range(looks)]
    cuts = [c for c in cuts if c <= d.size]
    fractions = [c / total for c in cuts]
    bounds = obrien_fleming_bounds(fractions, alpha=alpha).z if cuts else ()
    zs: list[float] = []
    for cut, bound in zip(cuts, bounds, strict=True):
        sample = d[:cut]
        se = float(sample.std(ddof=1) / math.sqrt(cut))
        z = float(sample.mean() / se) if se > 0 else (0.0 if sample.mean() == 0 else math.inf)
        zs.append(z)
        if abs(z) >= bound:
            return SequentialResult(
                len(zs), tuple(zs), tuple(bounds[: len(zs)]), True, cut, float(sample.mean()), alpha
            )
    used = cuts[-1] if cuts else 0
    mean = float(d[:used].mean()) if used else 0.0
    return SequentialResult(len(zs), tuple(zs), tuple(bounds), False, None, mean, alpha)

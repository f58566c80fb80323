"""Models (and templates) ranked on measured outcomes, each with a Bayesian interval.

An *arm* is one model x template (or task) cell, its counts summed over its generations. For a
metric, every arm gets an estimate and an equal-tailed interval at ``level``:

``ctr``
    clicks / impressions. Beta-binomial: the posterior is ``Beta(a + clicks, b + impressions -
    clicks)``; the estimate is its mean and the interval its ``beta.ppf`` quantiles.
    ``n = impressions``, ``successes = clicks``.
``conversion_rate``
    conversions / **clicks** (post-click conversion rate, not per impression), with the same
    Beta-binomial posterior on ``(clicks, conversions)``. ``n = clicks``,
    ``successes = conversions``; conversions may not exceed clicks for this metric.
``cost_per_conversion``
    cost_usd / conversions, lower is better. Conversions per generation get the Poisson-Gamma
    posterior ``p ~ Gamma(shape=a + conversions, rate=b + generations)``; with the cost per
    generation ``c = cost_usd / generations`` the cost per conversion is ``c / p``. Because
    ``c / p`` is decreasing in ``p`` its quantiles are exactly ``c`` over the opposite quantiles
    of ``p``, so they come from ``gamma.ppf`` without Monte Carlo noise. The estimate is the
    posterior median (the mean of ``c / p`` is infinite when the shape is at most 1).
    ``n = generations``, ``successes = conversions``.
``quality``
    mean of the per-generation quality scores with a percentile bootstrap interval
    (``scipy.stats.bootstrap``, ``draws`` resamples, seeded by ``seed``). No prior is involved.
    With fewer than two scores the interval, and so the rank, is None. ``n`` = number of scores.

An arm with no trials behind its metric (``n == 0``) has estimate, interval and rank None.

Ranking. Two arms are *tied* when their closed intervals overlap (touching counts). Arm ``j`` is
*clearly better* than arm ``i`` when they are not tied and ``j``'s estimate is better (higher, or
lower for ``cost_per_conversion``), i.e. ``j``'s interval lies wholly on the better side of
``i``'s. Then::

    rank_i = 1 + #{j : j is clearly better than i}

"Clearly better" is a strict partial order (an interval order), so an arm always ranks strictly
below every arm that is clearly better than it. When ties are transitive (groups of mutually
overlapping arms, separated from each other) this is exactly competition ranking: a tie group
shares the best rank and the next group skips ("1, 1, 3"). When they are not (A overlaps B, B
overlaps C, A is clearly better than C), each arm is only pushed down by the arms that beat it
clearly: A=1, B=1, C=2. Results are ordered by rank, then by estimate, then by label; arms
without a rank come last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import numpy as np
from scipy import stats

__all__ = [
    "HIGHER_IS_BETTER",
    "ArmStats",
    "Interval",
    "Metric",
    "Ranked",
    "rank_arms",
]


class Metric(StrEnum):
    CONVERSION_RATE = "conversion_rate"
    CTR = "ctr"
    COST_PER_CONVERSION = "cost_per_conversion"
    QUALITY = "quality"


HIGHER_IS_BETTER: Mapping[Metric, bool] = MappingProxyType(
    {
        Metric.CONVERSION_RATE: True,
        Metric.CTR: True,
        Metric.COST_PER_CONVERSION: False,
        Metric.QUALITY: True,
    }
)


def _label(model: str, template: str | None) -> str:
    return model if template is None else f"{model}|{template}"


@dataclass(frozen=True)
class ArmStats:
    """One model x template (or task) cell, summed over its generations.

    ``template`` is ``name@version`` or None; ``cost_usd`` is the LLM cost attributed to the
    cell (no media spend); ``quality_scores`` holds one score in [0, 1] per generation where
    quality was measured. Structural invariants are checked here, so an invalid arm cannot exist;
    ``conversions <= clicks`` is only required when ranking on ``conversion_rate`` because
    view-through conversions can legitimately exceed clicks.
    """

    model: str
    template: str | None
    generations: int
    impressions: int
    clicks: int
    conversions: int
    cost_usd: float
    quality_scores: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("generations", "impressions", "clicks", "conversions"):
            if getattr(self, name) < 0:
                raise ValueError(f"{self.label}: {name} must be >= 0, got {getattr(self, name)}")
        if self.clicks > self.impressions:
            raise ValueError(
                f"{self.label}: clicks ({self.clicks}) exceed impressions ({self.impressions})"
            )
        if not np.isfinite(self.cost_usd) or self.cost_usd < 0:
            raise ValueError(f"{self.label}: cost_usd must be finite and >= 0, got {self.cost_usd}")
        scores = np.asarray(self.quality_scores, dtype=float)
        if scores.size and (not np.all(np.isfinite(scores)) or np.any((scores < 0) | (scores > 1))):
            raise ValueError(f"{self.label}: quality_scores must lie in [0, 1]")

    @property
    def label(self) -> str:
        """``model|template``, or ``model`` alone when there is no template."""
        return _label(self.model, self.template)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float

    def overlaps(self, other: Interval) -> bool:
        return self.low <= other.high and other.low <= self.high


@dataclass(frozen=True)
class Ranked:
    """One arm's standing on one metric; see the module docstring for every field's meaning."""

    model: str
    template: str | None
    metric: Metric
    estimate: float | None
    interval: Interval | None
    n: int
    successes: int | None
    rank: int | None
    tied_with: tuple[str, ...]
    prior: str

    @property
    def label(self) -> str:
        return _label(self.model, self.template)


@dataclass(frozen=True)
class _Estimate:
    estimate: float | None
    interval: Interval | None
    n: int
    successes: int | None


def _validate(
    arms: Sequence[ArmStats], metric: Metric, level: float, prior: tuple[float, float], draws: int
) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    a, b = prior
    if not (np.isfinite(a) and np.isfinite(b) and a > 0 and b > 0):
        raise ValueError(f"prior parameters must be finite and > 0, got {prior}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    labels = [arm.label for arm in arms]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"arms must be unique per model and template, repeated: {duplicates}")
    if metric is Metric.CONVERSION_RATE:
        for arm in arms:
            if arm.conversions > arm.clicks:
                raise ValueError(
                    f"{arm.label}: conversions ({arm.conversions}) exceed clicks ({arm.clicks}); "
                    "conversion_rate is conversions per click"
                )


def _beta_estimates(
    trials: np.ndarray, successes: np.ndarray, level: float, prior: tuple[float, float]
) -> list[_Estimate]:
    a = prior[0] + successes
    b = prior[1] + trials - successes
    mean = a / (a + b)
    tail = (1.0 - level) / 2.0
    low = stats.beta.ppf(tail, a, b)
    high = stats.beta.ppf(1.0 - tail, a, b)
    return [
        _Estimate(
            estimate=float(mean[i]) if trials[i] > 0 else None,
            interval=Interval(float(low[i]), float(high[i]), level) if trials[i] > 0 else None,
            n=int(trials[i]),
            successes=int(successes[i]),
        )
        for i in range(trials.size)
    ]


def _cost_estimates(
    arms: Sequence[ArmStats], level: float, prior: tuple[float, float]
) -> list[_Estimate]:
    generations = np.array([arm.generations for arm in arms], dtype=float)
    conversions = np.array([arm.conversions for arm in arms], dtype=float)
    cost = np.array([arm.cost_usd for arm in arms], dtype=float)
    has_data = generations > 0
    per_generation = np.divide(cost, generations, out=np.zeros_like(cost), where=has_data)
    shape = prior[0] + conversions
    scale = 1.0 / (prior[1] + generations)
    tail = (1.0 - level) / 2.0
    # High cost per conversion comes from a low conversion rate, hence the swapped tails.
    median = per_generation / stats.gamma.ppf(0.5, shape, scale=scale)
    low = per_generation / stats.gamma.ppf(1.0 - tail, shape, scale=scale)
    high = per_generation / stats.gamma.ppf(tail, shape, scale=scale)
    return [
        _Estimate(
            estimate=float(median[i]) if has_data[i] else None,
            interval=Interval(float(low[i]), float(high[i]), level) if has_data[i] else None,
            n=arm.generations,
            successes=arm.conversions,
        )
        for i, arm in enumerate(arms)
    ]


def _quality_estimate(scores: tuple[float, ...], level: float, draws: int, seed: int) -> _Estimate:
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        return _Estimate(None, None, 0, None)
    mean = float(values.mean())
    if values.size < 2:
        return _Estimate(mean, None, 1, None)
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=draws,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return _Estimate(mean, Interval(float(ci.low), float(ci.high), level), int(values.size), None)


def _prior_text(metric: Metric, prior: tuple[float, float]) -> str:
    a, b = prior
    if metric is Metric.QUALITY:
        return "none (percentile bootstrap)"
    if metric is Metric.COST_PER_CONVERSION:
        return f"Gamma({a:g}, {b:g}) on conversions per generation"
    return f"Beta({a:g}, {b:g})"


def rank_arms(
    arms: Sequence[ArmStats],
    metric: Metric,
    *,
    level: float = 0.95,
    prior: tuple[float, float] = (1.0, 1.0),
    draws: int = 20_000,
    seed: int = 0,
) -> tuple[Ranked, ...]:
    """Rank ``arms`` on ``metric``, best first; see the module docstring for the semantics.

    ``prior`` is ``(a, b)`` of the Beta prior for rates, or ``(shape, rate)`` of the Gamma prior
    on conversions per generation for ``cost_per_conversion``; it is unused for ``quality``.
    ``draws`` and ``seed`` drive the quality bootstrap, so equal inputs give equal results.
    Raises ValueError for an invalid level, prior or draws, repeated arms, or (for
    ``conversion_rate``) conversions exceeding clicks.
    """
    metric = Metric(metric)
    _validate(arms, metric, level, prior, draws)
    if not arms:
        return ()

    estimates: list[_Estimate]
    if metric is Metric.CTR:
        estimates = _beta_estimates(
            np.array([arm.impressions for arm in arms], dtype=np.int64),
            np.array([arm.clicks for arm in arms], dtype=np.int64),
            level,
            prior,
        )
    elif metric is Metric.CONVERSION_RATE:
        estimates = _beta_estimates(
            np.array([arm.clicks for arm in arms], dtype=np.int64),
            np.array([arm.conversions for arm in arms], dtype=np.int64),
            level,
            prior,
        )
    elif metric is Metric.COST_PER_CONVERSION:
        estimates = _cost_estimates(arms, level, prior)
    else:
        estimates = [_quality_estimate(arm.quality_scores, level, draws, seed) for arm in arms]

    higher = HIGHER_IS_BETTER[metric]
    rankable = [
        (i, e.estimate, e.interval)
        for i, e in enumerate(estimates)
        if e.estimate is not None and e.interval is not None
    ]
    ranks: dict[int, int] = {}
    tied: dict[int, tuple[str, ...]] = {}
    if rankable:
        index = [i for i, _, _ in rankable]
        value = np.array([estimate for _, estimate, _ in rankable])
        low = np.array([interval.low for _, _, interval in rankable])
        high = np.array([interval.high for _, _, interval in rankable])
        # Row i, column j: does arm j's interval overlap / is arm j better than arm i.
        overlap = (low[:, None] <= high[None, :]) & (low[None, :] <= high[:, None])
        np.fill_diagonal(overlap, False)
        better = value[None, :] > value[:, None] if higher else value[None, :] < value[:, None]
        clearly_better = (better & ~overlap).sum(axis=1)
        for row, i in enumerate(index):
            ranks[i] = 1 + int(clearly_better[row])
            tied[i] = tuple(sorted(arms[index[col]].label for col in np.flatnonzero(overlap[row])))

    def order(i: int) -> tuple[int, int, float, str]:
        estimate = estimates[i].estimate
        if i in ranks and estimate is not None:
            return (0, ranks[i], -estimate if higher else estimate, arms[i].label)
        if estimate is not None:
            return (1, 0, -estimate if higher else estimate, arms[i].label)
        return (2, 0, 0.0, arms[i].label)

    prior_text = _prior_text(metric, prior)
    return tuple(
        Ranked(
            model=arms[i].model,
            template=arms[i].template,
            metric=metric,
            estimate=estimates[i].estimate,
            interval=estimates[i].interval,
            n=estimates[i].n,
            successes=estimates[i].successes,
            rank=ranks.get(i),
            tied_with=tied.get(i, ()),
            prior=prior_text,
        )
        for i in sorted(range(len(arms)), key=order)
    )

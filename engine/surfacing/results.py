"""What an audit stores and answers: one :class:`ProductAudit` per product and an
:class:`AuditSummary` for the catalog. Plain frozen records, independent of how each stage
computes its part, so the API, the report and the exports read one stable shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.surfacing.findings import Finding

RETRIEVERS: tuple[str, ...] = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class RetrieverFindability:
    """How findable one product is under one retriever, over its own intent queries."""

    retriever: str
    recall_at_10: float  # share of its intents that put it in the top 10
    mrr: float  # mean reciprocal rank (0 where it is beyond the ranking depth)
    best_rank: int | None
    invisible: bool  # in the top 10 for none of its intents


@dataclass(frozen=True)
class QueryRank:
    """One query of a product and where the product ranked for it, per retriever (None:
    beyond the ranking depth)."""

    text: str
    kind: str  # broad, attribute, long_tail, navigational, merchant
    ranks: Mapping[str, int | None]


@dataclass(frozen=True)
class CategoryView:
    node_id: int | None
    path: str | None
    confidence: float
    declared_id: int | None
    declared_path: str | None
    disagrees: bool


@dataclass(frozen=True)
class AspectView:
    aspect: str
    mentions: int
    mean_sentiment: float
    positive: int
    negative: int


@dataclass(frozen=True)
class ReviewsView:
    supported: bool  # False: the reviews' language has no sentiment model here
    reviews: int
    mean_sentiment: float | None
    positive_share: float | None
    negative_share: float | None
    aspects: tuple[AspectView, ...] = ()


@dataclass(frozen=True)
class MeasuredFix:
    """A mechanical fix applied to this product alone and measured: the product's ranks for
    its queries before and after, under the hybrid retriever, with a bootstrap interval."""

    check: str
    summary: str
    generated: bool
    changes: Mapping[str, str | tuple[str, ...] | Mapping[str, str]]
    queries: int
    mean_rank_before: float | None
    mean_rank_after: float | None
    click_share_before: float
    click_share_after: float
    click_share_change: float
    interval: tuple[float, float] | None  # 95 % bootstrap interval of the change, over queries
    expected_gain: float
    gain_unit: str  # "revenue per month" when price and velocity are known, else "click share"


@dataclass(frozen=True)
class ScoreComponents:
    """Each in [0, 1]; docs/surfacing.md gives every formula."""

    findability: float
    completeness: float
    intent_coverage: float
    feed_quality: float


@dataclass(frozen=True)
class EntitiesView:
    """What the listing and its reviews name (engine.surfacing.entities)."""

    other_brands: tuple[str, ...]  # known brands other than its own, named capitalised
    product_types: tuple[str, ...]  # taxonomy leaves named, as full paths
    attributes: Mapping[str, tuple[str, ...]]  # colour, material, size, measurement -> values


@dataclass(frozen=True)
class ProductAudit:
    product_id: str
    title: str
    language: str | None
    category: CategoryView
    findability: tuple[RetrieverFindability, ...]
    queries: tuple[QueryRank, ...]
    outranked_by: tuple[str, ...]  # the products that most often rank above it
    findings: tuple[Finding, ...]
    fixes: tuple[MeasuredFix, ...]
    reviews: ReviewsView | None
    components: ScoreComponents
    score: float  # 0-100; 0 on a hard fail
    invisible: bool
    hard_fail: bool
    expected_gain: float
    entities: EntitiesView | None = None


@dataclass(frozen=True)
class FixHighlight:
    product_id: str
    check: str
    summary: str
    click_share_change: float
    expected_gain: float
    gain_unit: str


@dataclass(frozen=True)
class AuditSummary:
    products: int
    invisible: int
    invisible_share: float
    gini: Mapping[str, float]  # retrievability Gini per retriever
    recall_at_10: Mapping[str, float]  # mean over products, per retriever
    mrr: Mapping[str, float]
    mean_score: float
    hard_fails: int
    findings_by_severity: Mapping[str, int]
    findings_by_check: Mapping[str, int]
    invisible_share_by_category: Mapping[str, float]
    rank_histogram: Mapping[str, int]  # best hybrid rank bucket -> products
    top_fixes: tuple[FixHighlight, ...]
    languages: Mapping[str, int]
    english_only_checks: tuple[str, ...]
    merchant_queries: int
    merchant_recall_at_10: Mapping[str, float] = field(default_factory=dict)
    stage_seconds: Mapping[str, float] = field(default_factory=dict)
    products_per_minute: float = 0.0
    # What each product's queries ran against (engine.surfacing.competitive), and in how many
    # sets the catalog was split.
    competitive_set: str = "catalog"
    competitive_sets: int = 1

"""Request and response bodies of the surfacing API (storage rows live in cluster.repositories)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from engine.surfacing.competitive import CompetitiveSet
from engine.surfacing.product import MAX_PRODUCTS, Availability, PageMarkup, Product, Reviews
from engine.surfacing.results import AuditSummary, MeasuredFix, ProductAudit, QueryRank

ProductId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CanonicalField = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- catalogs -------------------------------------------------------------------------------


class CatalogRowsRequest(_Request):
    """A catalog sent as JSON: one object per product, with Merchant Center's field names (or
    the aliases of docs/surfacing.md), or with ``columns`` mapping your own keys to them."""

    name: str = Field(min_length=1, max_length=200)
    products: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_PRODUCTS)
    columns: dict[ColumnName, CanonicalField] | None = Field(
        default=None,
        max_length=200,
        description='your key -> canonical field, e.g. {"Product Name": "title"}',
    )


class CatalogOut(_Response):
    id: uuid.UUID
    name: str
    format: str
    product_count: int
    content_sha256: str
    created_at: datetime
    products_url: str


class CatalogList(_Response):
    items: list[CatalogOut]


class ReviewsOut(_Response):
    rating: float | None
    count: int | None
    texts: list[str]

    @classmethod
    def of(cls, reviews: Reviews) -> ReviewsOut:
        return cls(rating=reviews.rating, count=reviews.count, texts=list(reviews.texts))


class PageMarkupOut(_Response):
    name: str | None
    price: float | None
    currency: str | None
    availability: Availability | None
    gtin: str | None
    brand: str | None
    problems: list[str]

    @classmethod
    def of(cls, markup: PageMarkup) -> PageMarkupOut:
        return cls(
            name=markup.name,
            price=markup.price,
            currency=markup.currency,
            availability=markup.availability,
            gtin=markup.gtin,
            brand=markup.brand,
            problems=list(markup.problems),
        )


class ProductOut(_Response):
    """A product as stored: the canonical record (Merchant Center's field names)."""

    id: str
    title: str
    description: str
    brand: str | None
    gtin: str | None
    mpn: str | None
    price: float | None
    currency: str | None
    availability: Availability | None
    google_product_category: str | None
    product_type: str | None
    attributes: dict[str, str]
    highlights: list[str]
    image_link: str | None
    link: str | None
    item_group_id: str | None
    reviews: ReviewsOut | None
    sales_velocity: float | None
    markup: PageMarkupOut | None
    line: int | None

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(
            id=product.id,
            title=product.title,
            description=product.description,
            brand=product.brand,
            gtin=product.gtin,
            mpn=product.mpn,
            price=product.price,
            currency=product.currency,
            availability=product.availability,
            google_product_category=product.google_product_category,
            product_type=product.product_type,
            attributes=dict(product.attributes),
            highlights=list(product.highlights),
            image_link=product.image_link,
            link=product.link,
            item_group_id=product.item_group_id,
            reviews=ReviewsOut.of(product.reviews) if product.reviews else None,
            sales_velocity=product.sales_velocity,
            markup=PageMarkupOut.of(product.markup) if product.markup else None,
            line=product.line,
        )


class ProductList(_Response):
    items: list[ProductOut]
    total: int


# --- merchant queries ----------------------------------------------------------------------


class QueryIn(_Request):
    text: str = Field(min_length=1, max_length=500)
    relevant: list[ProductId] | None = Field(
        default=None,
        max_length=1000,
        description="ids of the products relevant to the query, when labelled",
    )


class QueriesRequest(_Request):
    """Site-search queries (from your search logs), optionally labelled with relevant products."""

    queries: list[QueryIn] = Field(min_length=1, max_length=20_000)


class QueryOut(_Response):
    id: uuid.UUID
    text: str
    relevant: list[str] | None
    created_at: datetime


class QueryList(_Response):
    items: list[QueryOut]


JobStatus = Literal["queued", "running", "succeeded", "failed"]


# --- audits -----------------------------------------------------------------------------------


class AuditRequest(_Request):
    catalog_id: uuid.UUID
    competitive_set: CompetitiveSet = Field(
        "catalog",
        description="what each product's queries run against: the whole catalog, or the "
        "products of its category (docs/surfacing.md)",
    )


class AuditOut(_Response):
    id: uuid.UUID
    catalog_id: uuid.UUID | None
    competitive_set: CompetitiveSet
    status: JobStatus
    stage: str
    progress: float
    products_total: int
    products_done: int
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: AuditSummary | None
    products_url: str
    report_url: str


class AuditAccepted(_Response):
    audit: AuditOut
    status_url: str


class AuditList(_Response):
    items: list[AuditOut]


class AuditProductOut(_Response):
    product_id: str
    position: int
    invisible: bool
    hard_fail: bool
    score: float
    expected_gain: float
    result: ProductAudit


class AuditProductList(_Response):
    items: list[AuditProductOut]


# --- fixes ------------------------------------------------------------------------------------


class ApplyFixRequest(_Request):
    """Which finding's fix to apply: its check id, from the product's latest audit (or the
    audit named)."""

    check: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$")
    audit_id: uuid.UUID | None = None


class AppliedFix(_Response):
    product: ProductOut
    check: str
    summary: str
    generated: bool
    changed_fields: list[str]
    impact: MeasuredFix | None
    labels: dict[str, str] = Field(
        description="what to publish with generated text (Merchant Center's structured_title / "
        "structured_description convention)"
    )


# --- the product description's analyze ------------------------------------------------------


class AnalyzeRequest(_Request):
    """The seed's request: one product, described in text, placed among the org's catalog."""

    product_description: str = Field(min_length=1, max_length=5000)
    price_point: float | None = Field(default=None, ge=0, le=1e9)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    competitors: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50, description="competitor brands, matched in the catalog"
    )
    market_focus: str | None = Field(
        default=None, max_length=200, description="the market the product sells in (reported back)"
    )
    catalog_id: uuid.UUID | None = Field(
        default=None, description="default: the org's most recently audited catalog"
    )


class CompetitorOut(_Response):
    brand: str
    products_in_catalog: int
    best_rank: int | None = Field(description="best hybrid rank for the product's queries")
    queries_ranking_above: int = Field(description="queries where it ranks above the product")


class RecommendationOut(_Response):
    check: str
    severity: str
    message: str
    fix: str | None
    source: str
    source_url: str


class RevenueImpactOut(_Response):
    """Measured on the catalog: the product's click share for its queries now and with every
    mechanical fix applied, and what the difference is worth per 1,000 searches of those
    queries when every click buys (scale by your conversion rate)."""

    click_share_now: float
    click_share_with_fixes: float
    revenue_per_1000_searches_if_every_click_converts: float | None
    currency: str | None


class AnalyzeResponse(_Response):
    seo_score: float = Field(description="0-100: completeness, intent coverage, feed quality")
    ai_discoverability: float | None = Field(
        description="0-100: the findability component against the catalog; null without one"
    )
    ai_discoverability_reason: str | None
    revenue_impact: RevenueImpactOut | None
    optimization_recommendations: list[RecommendationOut]
    queries: list[QueryRank]
    competitors: list[CompetitorOut]
    market_focus: str | None
    catalog_id: uuid.UUID | None
    audit_id: uuid.UUID | None
    evidence: dict[str, str] = Field(description="links to what the numbers were measured on")

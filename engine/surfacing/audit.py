"""An audit of a catalog, stage by stage, as plain functions over batches of products.

1. :class:`Examiner` (per product, batchable, stateful: it holds the taxonomy and the
   categoriser): language, category, feed checklist, manipulation lint, reviews, and the
   product's intent queries.
2. :func:`assess` (over the whole catalog, the competitive set): each product's rank for its
   own intents and the merchant's queries under BM25, dense and hybrid retrieval; every
   mechanical fix applied to its product alone and measured; scores; the catalog summary.

The Ray Data pipeline (``deployments.surfacing.pipeline``) runs stage 1 with ``map_batches``
and the embedding as its own stage; everything here also runs in one process (tests, CLI).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from engine.surfacing.categorise import (
    CONFIDENT,
    Categoriser,
    CategoryAssignment,
    categorise_findings,
)
from engine.surfacing.checks import check_product
from engine.surfacing.checks.catalog import catalog_findings
from engine.surfacing.checks.entities import entity_findings
from engine.surfacing.competitive import CompetitiveSet, combined, queries_for
from engine.surfacing.ctr import click_share
from engine.surfacing.entities import EntityExtractor, ProductEntities
from engine.surfacing.findability import CatalogIndex, FindabilityReport, audit_findability
from engine.surfacing.findings import Finding
from engine.surfacing.impact import expected_gain, measure_fix
from engine.surfacing.intents import IntentQuery, MerchantQuery, intent_queries
from engine.surfacing.language import ENGLISH_ONLY_CHECKS, product_language
from engine.surfacing.lint import lint_product
from engine.surfacing.product import Product
from engine.surfacing.report import rank_bucket
from engine.surfacing.results import (
    RETRIEVERS,
    AspectView,
    AuditSummary,
    CategoryView,
    EntitiesView,
    FixHighlight,
    MeasuredFix,
    ProductAudit,
    QueryRank,
    RetrieverFindability,
    ReviewsView,
    ScoreComponents,
)
from engine.surfacing.reviews import ReviewAnalysis, analyse_reviews, review_findings
from engine.surfacing.rules import required_attributes
from engine.surfacing.scoring import (
    completeness_component,
    composite,
    feed_quality_component,
    findability_component,
    intent_coverage_component,
)
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode, google_taxonomy
from memory.embedding import Embedder

Progress = Callable[[str, int, float], None]  # stage, products done, fraction of the audit
MAX_FIXES_PER_PRODUCT = 5
TEXT_FIELDS = frozenset({"title", "description", "highlights", "brand"})
DEFAULT_MEASURED_FIXES = 5_000  # products whose fixes are measured, highest value first


@dataclass(frozen=True)
class Examination:
    """What stage 1 learnt about one product."""

    product: Product
    language: str | None
    assignment: CategoryAssignment
    findings: tuple[Finding, ...]
    reviews: ReviewsView | None
    intents: tuple[IntentQuery, ...]
    entities: EntitiesView | None = None


def _reviews_view(analysis: ReviewAnalysis) -> ReviewsView:
    return ReviewsView(
        supported=analysis.language_supported,
        reviews=analysis.reviews,
        mean_sentiment=analysis.mean_compound,
        positive_share=analysis.positive_share,
        negative_share=analysis.negative_share,
        aspects=tuple(
            AspectView(
                aspect=a.aspect,
                mentions=a.mentions,
                mean_sentiment=a.mean_compound,
                positive=a.positive,
                negative=a.negative,
            )
            for a in analysis.aspects
        ),
    )


class Examiner:
    """Stage 1, for batches of products. Built once per worker: the categoriser indexes the
    taxonomy when it is made."""

    def __init__(
        self,
        taxonomy: Taxonomy | None = None,
        embedder: Embedder | None = None,
        *,
        known_brands: Collection[str] = (),
    ) -> None:
        """``known_brands``: the catalog's brands, so that a listing or review naming another
        brand is seen (the product's own brand is always known)."""
        self.taxonomy = taxonomy or google_taxonomy()
        self.categoriser = Categoriser(self.taxonomy, embedder)
        self.entities = EntityExtractor(known_brands, self.taxonomy)

    def examine(self, products: Sequence[Product]) -> list[Examination]:
        assignments = self.categoriser.assign(products)
        examined: list[Examination] = []
        for product, assignment in zip(products, assignments, strict=True):
            language = product_language(product).code
            checks_language = language or "en"
            findings = [
                *check_product(
                    product,
                    taxonomy=self.taxonomy,
                    language=checks_language,
                    suggested_category=_suggestion(assignment),
                ),
                *lint_product(product, language=checks_language),
                # The checks report a missing category themselves (with the suggestion as
                # its fix); what only the categoriser can tell is a declared one it disputes.
                *(
                    f
                    for f in categorise_findings(product, assignment)
                    if f.check == "category_disagrees"
                ),
            ]
            reviews = None
            if product.reviews is not None and product.reviews.texts:
                analysis = analyse_reviews(
                    product,
                    language=checks_language,
                    node=assignment.node,
                    taxonomy=self.taxonomy,
                )
                findings.extend(review_findings(product, analysis))
                reviews = _reviews_view(analysis)
            entities = self.entities.extract(product)
            findings.extend(
                entity_findings(
                    product, entities, reported_fields={f.field for f in findings if f.field}
                )
            )
            category_name = assignment.node.name if assignment.node is not None else None
            examined.append(
                Examination(
                    product=product,
                    language=language,
                    assignment=assignment,
                    findings=tuple(findings),
                    reviews=reviews,
                    intents=intent_queries(product, category_name=category_name),
                    entities=_entities_view(entities),
                )
            )
        return examined


def _entities_view(entities: ProductEntities) -> EntitiesView:
    kinds: dict[str, list[str]] = {}
    for mention in entities.attributes:
        kinds.setdefault(mention.kind, []).append(mention.value)
    return EntitiesView(
        other_brands=tuple(b.name for b in entities.brands if not b.own),
        product_types=tuple(
            dict.fromkeys(node.full_path for t in entities.product_types for node in t.nodes)
        ),
        attributes={kind: tuple(values) for kind, values in kinds.items()},
    )


def _suggestion(assignment: CategoryAssignment) -> TaxonomyNode | None:
    """The categoriser's leaf, for the checks to offer as a category fix and to read the
    category-required attributes from: only where the product declares no valid category or
    the categoriser disputes it, and only when it is confident (below that, a mechanical fix
    would as likely move a product to a wrong category as to the right one)."""
    if assignment.node is None or assignment.confidence < CONFIDENT:
        return None
    return assignment.node if assignment.disagrees or assignment.declared is None else None


def _category_view(assignment: CategoryAssignment) -> CategoryView:
    node, declared = assignment.node, assignment.declared
    return CategoryView(
        node_id=node.id if node else None,
        path=node.full_path if node else None,
        confidence=assignment.confidence,
        declared_id=declared.id if declared else None,
        declared_path=declared.full_path if declared else None,
        disagrees=assignment.disagrees,
    )


def _value(product: Product) -> float:
    """What a rank change of this product is worth relative to others: price x velocity when
    known, else price, else 1 (used only to choose which products' fixes to measure first)."""
    price = product.price or 0.0
    return price * (product.sales_velocity or 1.0) if price else 1.0


def assess(
    examinations: Sequence[Examination],
    index: CatalogIndex | Sequence[CatalogIndex],
    *,
    merchant_queries: Sequence[MerchantQuery] = (),
    measured_fixes: int = DEFAULT_MEASURED_FIXES,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
    competitive_set: CompetitiveSet = "catalog",
) -> tuple[list[ProductAudit], AuditSummary]:
    """Stage 2 over the competitive sets: ``index`` holds the examined products (one index
    for the whole catalog, or one per set from :func:`engine.surfacing.competitive.partition`,
    each product in exactly one); ``competitive_set`` names the layout for the summary."""
    started = time.perf_counter()
    timings = timings if timings is not None else {}
    total = len(examinations)
    report(progress, "findability", 0, total)
    products = [e.product for e in examinations]
    indexes = [index] if isinstance(index, CatalogIndex) else list(index)
    by_id = {e.product.id: e for e in examinations}
    home = {pid: i for i in indexes for pid in i.position}
    if home.keys() != by_id.keys() or sum(len(i) for i in indexes) != total:
        raise ValueError("the competitive sets must hold each examined product exactly once")
    reports, labelled = [], []
    for members in indexes:
        queries = (
            list(merchant_queries)
            if len(indexes) == 1
            else queries_for(merchant_queries, set(members.position))
        )
        intents = {pid: by_id[pid].intents for pid in members.position}
        reports.append(audit_findability(members, intents, merchant_queries=queries))
        labelled.append(sum(1 for q in queries if q.relevant))
    findability = combined(reports, labelled)
    timings["findability"] = time.perf_counter() - started

    across: dict[str, list[Finding]] = {}
    languages = {e.product.id: e.language or "en" for e in examinations}
    for finding in catalog_findings(products, languages):
        across.setdefault(finding.product_id, []).append(finding)

    mark = time.perf_counter()
    chosen = _products_to_measure(examinations, findability, measured_fixes)
    measured: dict[str, tuple[MeasuredFix, ...]] = {}
    for done, examination in enumerate(chosen, start=1):
        pid = examination.product.id
        measured[pid] = _measure(home[pid], examination, findability)
        if done % 50 == 0:
            report(progress, "fix impact", done, len(chosen))
    timings["fix_impact"] = time.perf_counter() - mark

    audits = [
        _product_audit(e, findability, across.get(e.product.id, []), measured) for e in examinations
    ]
    summary = summarise(audits, findability, merchant_queries, timings, started)
    summary = dataclasses.replace(
        summary, competitive_set=competitive_set, competitive_sets=len(indexes)
    )
    report(progress, "done", total, total)
    return audits, summary


def report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, done / total if total else 1.0)


def _products_to_measure(
    examinations: Sequence[Examination], findability: FindabilityReport, limit: int
) -> list[Examination]:
    with_fixes = [
        e for e in examinations if any(f.fix is not None and f.fix.mechanical for f in e.findings)
    ]
    # Invisible products first (that is where a fix can matter most), then by value.
    with_fixes.sort(
        key=lambda e: (not findability.product(e.product.id).invisible, -_value(e.product))
    )
    return with_fixes[:limit]


def _measure(
    index: CatalogIndex, examination: Examination, findability: FindabilityReport
) -> tuple[MeasuredFix, ...]:
    product = examination.product
    # The audit has ranked the listing as it is for these very queries: no search repeats it.
    ranked = {
        q.text: q.ranks["hybrid"]
        for q in findability.product(product.id).queries
        if q.kind != "merchant"
    }
    before = [ranked[q.text] for q in examination.intents]
    results: list[MeasuredFix] = []
    fixes = [f for f in examination.findings if f.fix is not None and f.fix.mechanical]
    # Fixes that change what retrieval reads first; a category fix changes no text, so its
    # measured effect on rank is nil by construction (it matters for the feed, not the rank).
    fixes.sort(key=lambda f: not (set(f.fix.changes) & TEXT_FIELDS))  # type: ignore[union-attr]
    for finding in fixes[:MAX_FIXES_PER_PRODUCT]:
        assert finding.fix is not None
        impact = measure_fix(index, product, finding.fix, examination.intents, ranks_before=before)
        gain, unit = expected_gain(impact, product)
        results.append(
            MeasuredFix(
                check=finding.check,
                summary=finding.fix.summary,
                generated=finding.fix.generated,
                changes={str(k): v for k, v in finding.fix.changes.items()},
                queries=impact.queries,
                mean_rank_before=impact.mean_rank_before,
                mean_rank_after=impact.mean_rank_after,
                click_share_before=impact.click_share_before,
                click_share_after=impact.click_share_after,
                click_share_change=impact.click_share_change,
                interval=impact.interval,
                expected_gain=gain,
                gain_unit=unit,
            )
        )
    results.sort(key=lambda m: -m.expected_gain)
    return tuple(results)


def _product_audit(
    examination: Examination,
    findability: FindabilityReport,
    catalog_findings: Sequence[Finding],
    measured: Mapping[str, tuple[MeasuredFix, ...]],
) -> ProductAudit:
    product = examination.product
    found = findability.product(product.id)
    findings = (*examination.findings, *catalog_findings)
    hard_fail = any(f.hard_fail for f in findings)
    top = click_share(1)
    hybrid_ranks = [q.ranks.get("hybrid") for q in found.queries if q.kind != "merchant"]
    node = examination.assignment.node
    components = ScoreComponents(
        findability=findability_component([click_share(r) / top for r in hybrid_ranks]),
        completeness=completeness_component(
            product, required_attributes(node) if node is not None else ()
        ),
        intent_coverage=intent_coverage_component(product, [q.text for q in examination.intents]),
        feed_quality=feed_quality_component(findings),
    )
    fixes = measured.get(product.id, ())
    return ProductAudit(
        product_id=product.id,
        title=product.title,
        language=examination.language,
        category=_category_view(examination.assignment),
        findability=tuple(
            RetrieverFindability(
                retriever=r.retriever,
                recall_at_10=r.recall_at_10,
                mrr=r.mrr,
                best_rank=r.best_rank,
                invisible=r.invisible,
            )
            for r in found.retrievers
        ),
        queries=tuple(
            QueryRank(text=q.text, kind=q.kind, ranks=dict(q.ranks)) for q in found.queries
        ),
        outranked_by=tuple(found.outranked_by),
        findings=findings,
        fixes=fixes,
        reviews=examination.reviews,
        components=components,
        score=composite(components, hard_fail=hard_fail),
        invisible=found.invisible,
        hard_fail=hard_fail,
        expected_gain=max((m.expected_gain for m in fixes), default=0.0),
        entities=examination.entities,
    )


def summarise(
    audits: Sequence[ProductAudit],
    findability: FindabilityReport,
    merchant_queries: Sequence[MerchantQuery],
    timings: Mapping[str, float],
    started: float,
) -> AuditSummary:
    count = len(audits)
    invisible = sum(a.invisible for a in audits)
    by_category: dict[str, list[bool]] = {}
    histogram: Counter[str] = Counter()
    for audit in audits:
        name = audit.category.path.split(" > ")[0] if audit.category.path else "(unassigned)"
        by_category.setdefault(name, []).append(audit.invisible)
        best = next((f.best_rank for f in audit.findability if f.retriever == "hybrid"), None)
        histogram[rank_bucket(best)] += 1
    highlights = sorted(
        (
            FixHighlight(
                product_id=a.product_id,
                check=m.check,
                summary=m.summary,
                click_share_change=m.click_share_change,
                expected_gain=m.expected_gain,
                gain_unit=m.gain_unit,
            )
            for a in audits
            for m in a.fixes[:1]
            if m.click_share_change > 0
        ),
        key=lambda h: -h.expected_gain,
    )[:20]
    elapsed = sum(timings.values()) or (time.perf_counter() - started)
    return AuditSummary(
        products=count,
        invisible=invisible,
        invisible_share=invisible / count if count else 0.0,
        gini=dict(findability.gini),
        recall_at_10={
            r: _mean([f.recall_at_10 for a in audits for f in a.findability if f.retriever == r])
            for r in RETRIEVERS
        },
        mrr={
            r: _mean([f.mrr for a in audits for f in a.findability if f.retriever == r])
            for r in RETRIEVERS
        },
        mean_score=_mean([a.score for a in audits]),
        hard_fails=sum(a.hard_fail for a in audits),
        findings_by_severity=dict(Counter(f.severity for a in audits for f in a.findings)),
        findings_by_check=dict(Counter(f.check for a in audits for f in a.findings)),
        invisible_share_by_category={
            name: sum(flags) / len(flags) for name, flags in sorted(by_category.items())
        },
        rank_histogram=dict(histogram),
        top_fixes=tuple(highlights),
        languages=dict(Counter(a.language or "unknown" for a in audits)),
        english_only_checks=tuple(sorted(ENGLISH_ONLY_CHECKS)),
        merchant_queries=len(merchant_queries),
        merchant_recall_at_10=dict(findability.merchant_recall_at_10),
        stage_seconds=dict(timings),
        products_per_minute=60.0 * count / elapsed if elapsed > 0 else 0.0,
    )


def _mean(values: Sequence[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0

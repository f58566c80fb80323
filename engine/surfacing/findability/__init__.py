"""Findability: each product's rank for the queries a shopper would use to find it, among its
competitive set, under BM25, dense and hybrid retrieval (``index``); the measures over those
ranks (``metrics``); and the ranks a changed listing would get (``counterfactual``)."""

from engine.surfacing.findability.counterfactual import counterfactual_rankings
from engine.surfacing.findability.index import (
    DEPTH,
    RETRIEVERS,
    CatalogIndex,
    TermStatistics,
    fuse_rankings,
    rank_of,
    retrieval_text,
)
from engine.surfacing.findability.metrics import (
    CUTOFF,
    FindabilityReport,
    ProductFindability,
    QueryResult,
    RetrieverStats,
    audit_findability,
    gini,
)

__all__ = [
    "CUTOFF",
    "DEPTH",
    "RETRIEVERS",
    "CatalogIndex",
    "FindabilityReport",
    "ProductFindability",
    "QueryResult",
    "RetrieverStats",
    "TermStatistics",
    "audit_findability",
    "counterfactual_rankings",
    "fuse_rankings",
    "gini",
    "rank_of",
    "retrieval_text",
]

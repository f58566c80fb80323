"""Moved to :mod:`engine.surfacing.findability`; re-exported here so that existing imports keep
working until they move."""

from engine.surfacing.findability import (
    CUTOFF,
    DEPTH,
    RETRIEVERS,
    CatalogIndex,
    FindabilityReport,
    ProductFindability,
    QueryResult,
    RetrieverStats,
    TermStatistics,
    audit_findability,
    fuse_rankings,
    gini,
    rank_of,
    retrieval_text,
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
    "fuse_rankings",
    "gini",
    "rank_of",
    "retrieval_text",
]

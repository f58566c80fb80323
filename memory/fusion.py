"""Weighted reciprocal rank fusion of the dense, keyword and graph rankings.

RRF uses ranks only, so retrievers whose scores live on unrelated scales (cosine, BM25, graph
hops) combine without calibration: score(d) = sum over retrievers r of w_r / (k + rank_r(d)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class FusedHit:
    id: int
    score: float
    retrievers: tuple[str, ...]
    # 1-based rank of the id in each retriever that returned it.
    ranks: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]],
    *,
    weights: Mapping[str, float] | None = None,
    k: float = 60.0,
    limit: int | None = None,
) -> list[FusedHit]:
    """Fuse best-first id lists per retriever; a retriever missing from `weights` weighs 1.

    Ties are broken by the best single rank, then by the smaller id, so equal inputs always give
    the same order. A duplicate id within one ranking counts at its first (best) rank.
    """
    if k < 0:
        raise ValueError("k must not be negative")
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    weight_of = dict(weights or {})
    if any(weight < 0 for weight in weight_of.values()):
        raise ValueError("weights must not be negative")

    scores: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    for retriever in sorted(rankings):
        weight = weight_of.get(retriever, 1.0)
        for position, memory_id in enumerate(rankings[retriever], start=1):
            seen = ranks.setdefault(int(memory_id), {})
            if retriever in seen:
                continue
            seen[retriever] = position
            scores[int(memory_id)] = scores.get(int(memory_id), 0.0) + weight / (k + position)

    order = sorted(
        scores,
        key=lambda memory_id: (-scores[memory_id], min(ranks[memory_id].values()), memory_id),
    )
    if limit is not None:
        order = order[:limit]
    return [
        FusedHit(
            id=memory_id,
            score=scores[memory_id],
            retrievers=tuple(sorted(ranks[memory_id])),
            ranks=MappingProxyType(dict(sorted(ranks[memory_id].items()))),
        )
        for memory_id in order
    ]

"""An audit on Ray Data: the per-product stages fan out, the catalog-wide stage gathers.

    products ──map_batches(ExamineStage)──► language, category, checks, lint, reviews, intents
             ──map_batches(EmbedStage)────► each product's retrieval embedding
             ──(gathered in the audit task)─► one competitive-set index; every product's ranks
                                              for its queries; fixes measured; scores; summary

Both mapped stages are stateful callable classes on an actor pool (the categoriser indexes the
taxonomy once per actor, the embedder loads its model once per actor). Ray Data streams blocks
between them, so a 100,000-product catalog never sits in one process more than once: the audit
task holds the products and their vectors (100k x 384 float32 = 150 MB) for the search stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import ray

from engine.surfacing.audit import Examination, Examiner, assess
from engine.surfacing.competitive import CompetitiveSet, partition
from engine.surfacing.findability import CatalogIndex, retrieval_text
from engine.surfacing.intents import MerchantQuery
from engine.surfacing.product import Product
from engine.surfacing.results import AuditSummary, ProductAudit
from memory.embedders import EmbedderName, build_embedder

Progress = Callable[[str, int, float], None]
BATCH_SIZE = 256
# Logical CPUs each stage actor asks for. Fractional, so that an audit's stages find room on a
# small cluster whose CPUs the audit task itself, the memory shards and a fit already hold
# (`liftos up` gives at least 4); the actors' threads use the cores there are.
STAGE_CPUS = 0.5
# Share of the audit's progress bar given to the mapped stages; the rest is the search stage.
MAPPED_SHARE = 0.6


@dataclass(frozen=True)
class AuditInput:
    products: tuple[Product, ...]
    merchant_queries: tuple[MerchantQuery, ...]
    embedder: EmbedderName
    competitive_set: CompetitiveSet = "catalog"


@dataclass(frozen=True)
class AuditOutcome:
    products: list[ProductAudit]
    summary: AuditSummary
    vectors: np.ndarray  # (products, dimension) float32, in catalog order


class ExamineStage:
    """Ray Data stage 1: a batch of products -> their examinations."""

    def __init__(self, embedder: EmbedderName, known_brands: tuple[str, ...] = ()) -> None:
        self.examiner = Examiner(embedder=build_embedder(embedder), known_brands=known_brands)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        examined = self.examiner.examine(list(batch["product"]))
        column = np.empty(len(examined), dtype=object)
        column[:] = examined
        return {"position": batch["position"], "examination": column}


class EmbedStage:
    """Ray Data stage 2: each product's retrieval text -> its embedding (one model per actor)."""

    def __init__(self, embedder: EmbedderName) -> None:
        self.embedder = build_embedder(embedder)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        examinations: list[Examination] = list(batch["examination"])
        vectors = self.embedder.encode([retrieval_text(e.product) for e in examinations])
        return {**batch, "vector": np.asarray(vectors, dtype=np.float32)}


def _mapped(work: AuditInput, progress: Progress | None) -> tuple[list[Examination], np.ndarray]:
    # Records travel as Python objects (Ray Data keeps them in an Arrow object column).
    items = [{"position": i, "product": p} for i, p in enumerate(work.products)]
    # The catalog's brands, so each product's text and reviews are read for the others.
    brands = tuple(sorted({p.brand.strip() for p in work.products if p.brand and p.brand.strip()}))
    dataset = (
        ray.data.from_items(items, override_num_blocks=max(1, len(items) // (4 * BATCH_SIZE)))
        .map_batches(
            ExamineStage,
            fn_constructor_kwargs={"embedder": work.embedder, "known_brands": brands},
            batch_size=BATCH_SIZE,
            concurrency=(1, 2),
            num_cpus=STAGE_CPUS,
            batch_format="numpy",
        )
        .map_batches(
            EmbedStage,
            fn_constructor_kwargs={"embedder": work.embedder},
            batch_size=BATCH_SIZE,
            concurrency=1,
            num_cpus=STAGE_CPUS,
            batch_format="numpy",
        )
    )
    total = len(items)
    positions: list[int] = []
    examinations: list[Examination] = []
    vectors: list[np.ndarray] = []
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        positions.extend(int(p) for p in batch["position"])
        examinations.extend(batch["examination"])
        vectors.append(np.asarray(batch["vector"], dtype=np.float32))
        if progress is not None:
            progress("checks and embedding", len(positions), MAPPED_SHARE * len(positions) / total)
    order = np.argsort(np.asarray(positions))
    stacked = np.concatenate(vectors) if vectors else np.empty((0, 0), dtype=np.float32)
    return [examinations[i] for i in order], stacked[order]


def run_audit(work: AuditInput, *, progress: Progress | None = None) -> AuditOutcome:
    """The whole audit; call it inside a Ray task or driver (it submits Ray Data work)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    examinations, vectors = _mapped(work, progress)
    timings["checks_and_embedding"] = time.perf_counter() - started

    mark = time.perf_counter()
    embedder = build_embedder(work.embedder)
    sets = partition([e.assignment.node for e in examinations], work.competitive_set)
    indexes = [
        CatalogIndex(
            [examinations[i].product for i in members],
            embedder=embedder,
            vectors=vectors[members],
        )
        for members in sets
    ]
    timings["index"] = time.perf_counter() - mark

    def staged(stage: str, done: int, fraction: float) -> None:
        if progress is not None:
            progress(stage, done, MAPPED_SHARE + (1 - MAPPED_SHARE) * fraction)

    audits, summary = assess(
        examinations,
        indexes,
        merchant_queries=work.merchant_queries,
        progress=staged,
        timings=timings,
        competitive_set=work.competitive_set,
    )
    return AuditOutcome(products=audits, summary=summary, vectors=vectors)

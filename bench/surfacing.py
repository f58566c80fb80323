"""Audit throughput, stage by stage, on generated catalogs; and the dense part at scale.

Part 1 runs the audit's stages in one process on a generated catalog (``--products``; types,
brands, colours and materials drawn at random, some listings stripped of their attributes):
examine (language, category, checklist, lint, reviews, intents), embed (the memory module's
embedder, ``--embedder``), index (BM25 + vectors), findability (every product's intents and
the catalog's retrievability), and fix impact for ``--measure`` products. It prints seconds
and products per minute per stage, the total with and without fix measurement, and the peak
resident memory. The baseline, in the same run, is BM25 alone (no embedding, no dense or
hybrid ranking): what findability costs without semantic retrieval.

Part 2 times the dense index alone (the memory module's ``DenseIndex``: exact below 20,000
vectors, HNSW above) on random unit vectors at 10k, 100k and ``--dense-max`` products: build
time and the search throughput of a batch of queries.

Run: ``.venv/bin/python bench/surfacing.py --products 10000`` (issue 13 target: >= 10,000
products/min for checks + findability over a 100,000-product catalog, embedding included).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.surfacing.audit import Examiner, assess
from engine.surfacing.competitive import COMPETITIVE_SETS, CompetitiveSet, partition
from engine.surfacing.findability import CatalogIndex, audit_findability, retrieval_text
from engine.surfacing.intents import intent_queries
from engine.surfacing.product import Product
from memory.dense import DenseIndex
from memory.embedders import EMBEDDER_NAMES, build_embedder

KINDS = (
    ("table lamp", "4636"),
    ("floor lamp", "4636"),
    ("dining table", "4355"),
    ("coffee mug", "2169"),
    ("office chair", "2045"),
    ("wool rug", "598"),
    ("desk", "4191"),
    ("bookcase", "465"),
    ("sofa", "460"),
    ("bed frame", "505764"),
    ("backpack", "100"),
    ("water bottle", "2126"),
    ("hiking boots", "187"),
    ("linen shirt", "212"),
    ("wall clock", "3890"),
    ("cutting board", "638"),
)
COLORS = ("black", "white", "green", "grey", "blue", "red", "yellow", "pink", "brown", "navy")
MATERIALS = ("oak", "walnut", "steel", "brass", "ceramic", "wool", "glass", "bamboo", "linen")
BRANDS = tuple(f"Brand{i}" for i in range(60))


def catalog(n: int, seed: int = 0) -> list[Product]:
    rng = np.random.default_rng(seed)
    products = []
    for i in range(n):
        kind, category = KINDS[int(rng.integers(len(KINDS)))]
        color = COLORS[int(rng.integers(len(COLORS)))]
        material = MATERIALS[int(rng.integers(len(MATERIALS)))]
        brand = BRANDS[int(rng.integers(len(BRANDS)))]
        hide = rng.random() < 0.2  # a fifth of listings never state their attributes
        title = f"{brand} {kind}" if hide else f"{brand} {color} {material} {kind}"
        products.append(
            Product(
                id=f"p{i}",
                title=title,
                description=f"A {kind} for everyday use, model {i}."
                if hide
                else f"A {color} {kind} made of {material}, model {i}, built to last.",
                brand=brand,
                price=float(rng.integers(10, 500)),
                currency="USD",
                availability="in_stock",
                google_product_category=category,
                link=f"https://shop.example.com/p{i}",
                image_link=f"https://shop.example.com/p{i}.jpg",
                attributes={"color": color, "material": material},
                sales_velocity=float(rng.integers(1, 100)),
            )
        )
    return products


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stages(
    n: int, embedder_name: str, measure: int, layout: CompetitiveSet = "catalog"
) -> list[tuple[str, float]]:
    products = catalog(n)
    embedder = build_embedder(embedder_name)  # type: ignore[arg-type]  # checked by argparse
    rows: list[tuple[str, float]] = []
    started = time.perf_counter()
    examiner = Examiner(embedder=embedder)
    rows.append(("setup (taxonomy index, language models)", time.perf_counter() - started))

    mark = time.perf_counter()
    examinations = []
    for start in range(0, n, 256):
        examinations.extend(examiner.examine(products[start : start + 256]))
    rows.append(("examine (checks, lint, category, intents)", time.perf_counter() - mark))

    mark = time.perf_counter()
    vectors = embedder.encode([retrieval_text(p) for p in products])
    rows.append(("embed", time.perf_counter() - mark))

    mark = time.perf_counter()
    sets = partition([e.assignment.node for e in examinations], layout)
    indexes = [
        CatalogIndex([products[i] for i in members], embedder=embedder, vectors=vectors[members])
        for members in sets
    ]
    rows.append((f"index (BM25 + vectors, {len(sets)} set(s))", time.perf_counter() - mark))

    mark = time.perf_counter()
    timings: dict[str, float] = {}
    _, summary = assess(
        examinations, indexes, measured_fixes=measure, timings=timings, competitive_set=layout
    )
    print(
        f"invisible share {summary.invisible_share:.1%}, hybrid recall@10 "
        f"{summary.recall_at_10['hybrid']:.1%}, Gini {summary.gini['hybrid']:.3f}\n"
    )
    rows.append(("findability (3 retrievers)", timings["findability"]))
    rows.append((f"fix impact ({measure} products)", timings["fix_impact"]))
    rows.append(("scores and summary", time.perf_counter() - mark - sum(timings.values())))
    return rows


class _NoDense:
    """For the BM25-only baseline (``dense=False``): nothing is embedded."""

    dimension = 1
    name = "none"

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.ones((len(texts), 1), dtype=np.float32)


def baseline(n: int) -> float:
    products = catalog(n)
    started = time.perf_counter()
    index = CatalogIndex(products, embedder=_NoDense(), dense=False)
    queries = {p.id: intent_queries(p) for p in products}
    audit_findability(index, queries)
    return time.perf_counter() - started


def dense_scale(sizes: list[int], dimension: int = 384, queries: int = 2000) -> None:
    """Prints one line per size as soon as it is measured (1M vectors take many minutes).
    Recall@10 is HNSW's top 10 against exact search (FAISS flat) for 200 of the queries.
    Random unit vectors are the hard case for a graph index: no clusters to route through."""
    rng = np.random.default_rng(0)
    for size in sizes:
        vectors = rng.standard_normal((size, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = DenseIndex(dimension)
        started = time.perf_counter()
        index.rebuild(np.arange(size, dtype=np.int64), vectors)
        build = time.perf_counter() - started
        # Queries near stored vectors (noise of norm ~0.3, cosine ~0.96), as a product's own
        # intents are near its listing; uniformly random queries have no meaningful top 10.
        noise = (0.3 / np.sqrt(dimension)) * rng.standard_normal((queries, dimension))
        sources = rng.integers(0, size, queries)
        probe = vectors[sources] + noise.astype(np.float32)
        probe /= np.linalg.norm(probe, axis=1, keepdims=True)
        # Against exact search (FAISS flat) for 200 queries: the share of the exact top 10
        # found, and whether the product a query was drawn from comes back in the top 10 (on
        # random vectors the rest of an exact top 10 is a near-tie of unrelated vectors, so
        # the first figure is a floor; the second is the one findability depends on).
        exact = faiss.IndexFlatIP(dimension)
        exact.add(vectors)
        _, truth = exact.search(probe[:200], 10)
        # HNSW is searched at the shipped efSearch and at wider beams: the cost of recall.
        beams = [index.ef_search] + ([256, 512] if index.kind == "hnsw" else [])
        for beam in beams:
            index.ef_search = beam
            started = time.perf_counter()
            found = index.search(probe, 100)
            search = time.perf_counter() - started
            overlap = np.mean(
                [
                    len(set(truth[i].tolist()) & set(found[i][0][:10].tolist())) / 10
                    for i in range(200)
                ]
            )
            own = np.mean([int(sources[i]) in set(found[i][0][:10].tolist()) for i in range(200)])
            ef = str(beam) if index.kind == "hnsw" else "-"
            print(
                f"{size:>10,} {index.kind:>6} {ef:>5} {build:>9.1f} {queries / search:>12,.0f} "
                f"{overlap:>10.3f} {own:>8.3f} {index.memory_bytes() / 2**20:>9.0f} "
                f"{peak_mb():>9,.0f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--embedder", choices=EMBEDDER_NAMES, default="onnx-int8")
    parser.add_argument(
        "--measure", type=int, default=500, help="products whose fixes are measured"
    )
    parser.add_argument("--dense-max", type=int, default=1_000_000)
    parser.add_argument("--skip-dense", action="store_true")
    parser.add_argument("--dense-only", action="store_true", help="part 2 alone")
    parser.add_argument("--competitive-set", choices=COMPETITIVE_SETS, default="catalog")
    args = parser.parse_args()
    if args.dense_only:
        dense_part(args.dense_max)
        return

    n = args.products
    print(
        f"audit stages, {n:,} generated products, embedder {args.embedder}, competitive set "
        f"{args.competitive_set}, 1 process\n"
    )
    rows = stages(n, args.embedder, args.measure, args.competitive_set)
    print(f"{'stage':44} {'seconds':>9} {'products/min':>13}")
    for name, seconds in rows:
        print(f"{name:44} {seconds:>9.1f} {60 * n / seconds if seconds else float('inf'):>13,.0f}")
    checks_and_findability = sum(s for name, s in rows if not name.startswith(("fix", "setup")))
    everything = sum(s for _, s in rows)
    print(
        f"{'checks + embedding + findability':44} {checks_and_findability:>9.1f} "
        f"{60 * n / checks_and_findability:>13,.0f}"
    )
    print(
        f"{'everything (setup and fix impact included)':44} {everything:>9.1f} "
        f"{60 * n / everything:>13,.0f}"
    )
    seconds = baseline(n)
    print(
        f"{'baseline: BM25-only findability (index + queries)':44} {seconds:>9.1f} "
        f"{60 * n / seconds:>13,.0f}"
    )
    print(f"\npeak resident memory: {peak_mb():,.0f} MB")

    if not args.skip_dense:
        dense_part(args.dense_max)


def dense_part(largest: int) -> None:
    sizes = [s for s in (10_000, 100_000, largest) if s <= largest]
    print("\ndense index alone (memory.dense.DenseIndex, 384 dimensions, top 100)")
    print(
        f"{'vectors':>10} {'kind':>6} {'ef':>5} {'build s':>9} {'queries/s':>12} "
        f"{'recall@10':>10} {'own@10':>8} {'MiB':>9} {'peak MB':>9}"
    )
    dense_scale(sorted(set(sizes)))


if __name__ == "__main__":
    main()

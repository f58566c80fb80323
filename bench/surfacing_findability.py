"""Findability throughput: building the competitive sets' indexes (embedding included) and
auditing every product's intents, over the whole catalog as one competitive set and over one
set per category; and what one measured fix costs in each.

The catalog is ``bench/surfacing.py``'s generator (16 product types, random brands, colours
and materials, a fifth of listings stripped of their attributes). Stages, each timed:

- embed: every product's retrieval text through the memory module's embedder (``onnx-int8``
  by default), once per catalog size, shared by both layouts;
- index: the BM25 and vector indexes (``CatalogIndex``) of each competitive set;
- intents: every product's intent queries;
- audit: ``audit_findability`` over each set (queries embedded, three retrievers, metrics);
- fix: ``measure_fix`` for ``--fixes`` stripped products (their attributes put back in the
  title), seconds per fix.

Each layout runs in a fresh process, so its peak resident memory is its own (the embedding
process's is reported separately). Run:
``.venv/bin/python bench/surfacing_findability.py --products 10000 100000``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.surfacing import catalog
from engine.surfacing.competitive import partition
from engine.surfacing.findability import CatalogIndex, audit_findability, retrieval_text
from engine.surfacing.findings import Fix
from engine.surfacing.impact import measure_fix
from engine.surfacing.intents import intent_queries
from engine.surfacing.product import Product
from engine.surfacing.taxonomy import google_taxonomy
from memory.embedders import EMBEDDER_NAMES, build_embedder

LAYOUTS = ("catalog", "category")


@dataclass(frozen=True)
class Row:
    products: int
    layout: str
    sets: int
    largest: int
    index_s: float
    intents_s: float
    audit_s: float
    queries: int
    fix_s: float
    fixes: int
    invisible_share: float
    peak_mb: float


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def competitive_sets(products: list[Product], layout: str) -> list[list[int]]:
    """The audit's own partition (``engine.surfacing.competitive``), over the declared
    categories (the generator's are all valid taxonomy ids)."""
    taxonomy = google_taxonomy()
    nodes = [taxonomy.resolve(p.google_product_category or "") for p in products]
    return partition(nodes, "category" if layout == "category" else "catalog")


def embed(n: int, embedder_name: str, target: Path) -> dict[str, float]:
    products = catalog(n)
    embedder = build_embedder(embedder_name)  # type: ignore[arg-type]  # checked by argparse
    started = time.perf_counter()
    vectors = embedder.encode([retrieval_text(p) for p in products])
    seconds = time.perf_counter() - started
    np.save(target, vectors)
    return {"embed_s": seconds, "peak_mb": peak_mb()}


def layout_run(n: int, layout: str, embedder_name: str, vectors_path: Path, fixes: int) -> Row:
    products = catalog(n)
    vectors = np.load(vectors_path)
    embedder = build_embedder(embedder_name)  # type: ignore[arg-type]
    sets = competitive_sets(products, layout)

    started = time.perf_counter()
    indexes = [
        CatalogIndex([products[i] for i in members], embedder=embedder, vectors=vectors[members])
        for members in sets
    ]
    index_s = time.perf_counter() - started

    started = time.perf_counter()
    intents = [{products[i].id: intent_queries(products[i]) for i in members} for members in sets]
    intents_s = time.perf_counter() - started

    started = time.perf_counter()
    invisible = 0
    for index, of_set in zip(indexes, intents, strict=True):
        report = audit_findability(index, of_set)
        invisible += sum(p.invisible for p in report.products.values())
    audit_s = time.perf_counter() - started
    queries = sum(len(q) for group in intents for q in group.values())

    # Stripped listings (title "BrandN kind"): their attributes put back in the title.
    stripped = [
        (s, product)
        for s, index in enumerate(indexes)
        for product in index.products
        if product.attributes["color"] not in product.title
    ][:fixes]
    started = time.perf_counter()
    for s, product in stripped:
        kind = product.title.split(" ", 1)[1]
        fix = Fix(
            "colour and material in the title",
            {
                "title": f"{product.brand} {product.attributes['color']} "
                f"{product.attributes['material']} {kind}"
            },
            mechanical=True,
        )
        measure_fix(indexes[s], product, fix, intents[s][product.id], resamples=200)
    fix_s = (time.perf_counter() - started) / max(1, len(stripped))
    return Row(
        products=n,
        layout=layout,
        sets=len(sets),
        largest=max(len(m) for m in sets),
        index_s=index_s,
        intents_s=intents_s,
        audit_s=audit_s,
        queries=queries,
        fix_s=fix_s,
        fixes=len(stripped),
        invisible_share=invisible / n,
        peak_mb=peak_mb(),
    )


def child(args: list[str]) -> dict[str, float | int | str]:
    command = [sys.executable, __file__, *args]
    finished = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, float | int | str] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def per_minute(n: int, seconds: float) -> str:
    return f"{60 * n / seconds:>10,.0f}" if seconds > 0 else f"{'inf':>10}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=int, nargs="+", default=[10_000])
    parser.add_argument("--embedder", choices=EMBEDDER_NAMES, default="onnx-int8")
    parser.add_argument("--fixes", type=int, default=20, help="fixes measured per layout")
    parser.add_argument(
        "--random-vectors", action="store_true", help="random unit vectors, no embedding"
    )
    parser.add_argument("--child", nargs=4, metavar=("STAGE", "N", "LAYOUT", "VECTORS"))
    args = parser.parse_args()

    if args.child:
        stage, n, layout, path = args.child
        if stage == "embed":
            print(json.dumps(embed(int(n), args.embedder, Path(path))))
        else:
            measured = layout_run(int(n), layout, args.embedder, Path(path), args.fixes)
            print(json.dumps(measured.__dict__))
        return

    print(f"findability, generated catalogs, embedder {args.embedder}, one process per run")
    header = (
        f"{'products':>9} {'sets':>9} {'largest':>8} {'embed s':>8} {'index s':>8} "
        f"{'audit s':>8} {'queries':>9} {'build/min':>10} {'audit/min':>10} {'both/min':>10} "
        f"{'s/fix':>7} {'invisible':>9} {'peak MB':>8}"
    )
    for n in args.products:
        with tempfile.TemporaryDirectory() as tmp:
            vectors = Path(tmp) / "vectors.npy"
            if args.random_vectors:
                # Unit vectors at random in place of the products' embeddings (queries are
                # still embedded): the index, audit and fix costs without the embedding's.
                rng = np.random.default_rng(0)
                matrix = rng.standard_normal((n, 384)).astype(np.float32)
                np.save(vectors, matrix / np.linalg.norm(matrix, axis=1, keepdims=True))
                embed_s = 0.0
                print(f"\n{n:,} products, random vectors in place of embeddings (embed s = 0)")
            else:
                embedded = child(
                    ["--embedder", args.embedder, "--child", "embed", str(n), "-", str(vectors)]
                )
                embed_s = float(embedded["embed_s"])
                print(
                    f"\n{n:,} products embedded in {embed_s:.1f} s "
                    f"({per_minute(n, embed_s).strip()} a minute), "
                    f"peak {float(embedded['peak_mb']):,.0f} MB"
                )
            print(header, flush=True)
            for layout in LAYOUTS:
                row = child(
                    [
                        "--embedder",
                        args.embedder,
                        "--fixes",
                        str(args.fixes),
                        "--child",
                        "layout",
                        str(n),
                        layout,
                        str(vectors),
                    ]
                )
                index_s, audit_s = float(row["index_s"]), float(row["audit_s"])
                build = embed_s + index_s
                audit = float(row["intents_s"]) + audit_s
                sets = f"{layout}:{row['sets']}"
                print(
                    f"{n:>9,} {sets:>9} {int(row['largest']):>8,} {embed_s:>8.1f} "
                    f"{index_s:>8.1f} {audit_s:>8.1f} {int(row['queries']):>9,} "
                    f"{per_minute(n, build)} {per_minute(n, audit)} "
                    f"{per_minute(n, build + audit)} {float(row['fix_s']):>7.3f} "
                    f"{float(row['invisible_share']):>9.1%} {float(row['peak_mb']):>8,.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

"""The categoriser's accuracy on generated labelled products, and its throughput.

Accuracy: ``tests/unit/engine/surfacing/labelled_products.py`` writes products for 40 taxonomy
leaves (titles as shops write them); each is categorised and compared with its leaf:

- top-1 leaf: the assigned leaf is the labelled one;
- top-1 parent: the assigned leaf shares the labelled leaf's parent (or is it);
- the same for the first 20 leaves of the generator and for the other 20: the categoriser's
  later design choices (accessory prior, dense weight) were made looking at the first 20 only;
- top-3: the labelled leaf is the assigned one or among the first two alternatives;
- flagged, declared right: products declaring their true leaf that ``disagrees`` flags;
- flagged, declared far off: products declaring a leaf of another top-level branch, flagged;
- confidence: mean confidence of right and of wrong top-1 answers, and accuracy at or above
  the ``CONFIDENT`` threshold (with the share of products reaching it).

Throughput: ``assign`` over --products generated products in one call (categoriser built
beforehand; building it, and embedding the leaves, is reported apart).

    .venv/bin/python bench/surfacing_categorise.py [--per-leaf 5] [--products 10000]
        [--embedder minilm|onnx-int8|onnx-fp32|none]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.surfacing.categorise import CONFIDENT, Categoriser, CategoryAssignment
from engine.surfacing.product import Product
from engine.surfacing.taxonomy import google_taxonomy
from memory.embedders import EMBEDDER_NAMES, build_embedder
from memory.embedding import Embedder
from tests.unit.engine.surfacing.labelled_products import (
    LEAVES,
    declared_truth,
    labelled_products,
    misdeclared,
)


def _accuracy(
    categoriser: Categoriser, labelled: list[tuple[Product, int]]
) -> dict[str, float | str]:
    taxonomy = categoriser.taxonomy
    products = [p for p, _ in labelled]
    got = categoriser.assign(products)
    dev = {words.leaf for words in LEAVES[:20]}
    halves = {True: [0, 0], False: [0, 0]}  # dev leaf? -> [right, total]
    leaf_ok = parent_ok = top3 = 0
    right: list[float] = []
    wrong: list[float] = []
    confident = confident_ok = 0
    for assignment, (_, label) in zip(got, labelled, strict=True):
        truth = taxonomy.by_id(label)
        node = assignment.node
        hit = node is not None and node.id == label
        leaf_ok += hit
        halves[label in dev][0] += hit
        halves[label in dev][1] += 1
        parent_ok += node is not None and node.path[:-1] == truth.path[:-1]
        top3 += label in {n.id for n in (node, *assignment.alternatives[:2]) if n is not None}
        (right if hit else wrong).append(assignment.confidence)
        if assignment.confidence >= CONFIDENT:
            confident += 1
            confident_ok += hit
    tops = {label: taxonomy.by_id(label).top_level for _, label in labelled}
    flagged_right = _flagged(categoriser.assign(declared_truth(labelled)))
    flagged_far = _flagged(categoriser.assign(misdeclared(labelled, tops)))
    n = len(labelled)
    return {
        "top-1 leaf": leaf_ok / n,
        "top-1 parent": parent_ok / n,
        "top-1 leaf, leaves 1-20 (dev)": halves[True][0] / max(halves[True][1], 1),
        "top-1 leaf, leaves 21-40 (held out)": halves[False][0] / max(halves[False][1], 1),
        "top-3": top3 / n,
        "flagged, declared right": flagged_right / n,
        "flagged, declared far off": flagged_far / n,
        "mean conf. right / wrong": f"{_mean(right):.2f} / {_mean(wrong):.2f}",
        f"accuracy at conf >= {CONFIDENT} (share)": (
            f"{confident_ok / max(confident, 1):.1%} ({confident / n:.0%})"
        ),
    }


def _flagged(assignments: list[CategoryAssignment]) -> int:
    return sum(a.disagrees for a in assignments)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _throughput(categoriser: Categoriser, products: list[Product]) -> float:
    start = time.perf_counter()
    categoriser.assign(products)
    return len(products) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-leaf", type=int, default=5)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--embedder", choices=(*EMBEDDER_NAMES, "none"), default="minilm")
    args = parser.parse_args()

    taxonomy = google_taxonomy()
    labelled = labelled_products(per_leaf=args.per_leaf, seed=0)
    many = [p for p, _ in labelled_products(per_leaf=-(-args.products // 40), seed=7)]
    many = many[: args.products]
    print(f"{len(labelled)} labelled products over 40 leaves; {len(taxonomy.leaves())} leaves\n")

    setups: list[tuple[str, Embedder | None]] = [("BM25", None)]
    if args.embedder != "none":
        setups.append((f"BM25 + {args.embedder} (RRF)", build_embedder(args.embedder)))
    columns: dict[str, dict[str, float | str]] = {}
    for name, embedder in setups:
        start = time.perf_counter()
        categoriser = Categoriser(taxonomy, embedder)
        built = time.perf_counter() - start
        columns[name] = _accuracy(categoriser, labelled)
        columns[name]["build s (index + leaf embeddings)"] = f"{built:.1f}"
        columns[name][f"products/s ({len(many):,} in one call)"] = (
            f"{_throughput(categoriser, many):,.0f}"
        )

    names = list(columns)
    rows = list(columns[names[0]])
    width = max(len(r) for r in rows)
    print(f"| {'measure':<{width}} | " + " | ".join(names) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * (len(n) + 2) for n in names) + "|")
    for row in rows:
        cells = []
        for name in names:
            value = columns[name][row]
            text = f"{value:.1%}" if isinstance(value, float) else value
            cells.append(f"{text:>{len(name)}}")
        print(f"| {row:<{width}} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

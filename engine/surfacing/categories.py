"""A Google product taxonomy node for each product, by text similarity, with a confidence.

Each leaf of the taxonomy is a document: its own name (weighted three times: the words that
name the product type) and its parents' names. A product's query is its product type, title
and the start of its description. BM25 (the memory module's ``KeywordIndex``) ranks the
leaves and, with an embedder, cosine similarity ranks them too, the two fused by reciprocal
rank fusion (dense weighted 2); the confidence is the softmax weight of the best leaf over the
top five (cosines / 0.02 with dense, BM25 scores without), near 1 when one leaf clearly wins
and near 0.2 when five tie. The declared category
disagrees when it is set, the assignment is confident (``CONFIDENT``, or none of the top
candidates shares the declared node's top level) and the declared node is
neither the assigned leaf nor one of its ancestors or descendants, nor named by the product's
own text (a lamp declared under Lamps is never "wrong" because its shade matched Lamp Shades).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.surfacing.findings import Finding, Fix
from engine.surfacing.product import Product
from engine.surfacing.specs import SPEC
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode
from memory.embedding import Embedder
from memory.fusion import reciprocal_rank_fusion
from memory.keyword import KeywordIndex

CONFIDENT = 0.5
TOP = 5
CANDIDATES = 20
TEMPERATURE = 0.02  # cosine differences of a few hundredths separate MiniLM's neighbours


@dataclass(frozen=True)
class CategoryAssignment:
    node: TaxonomyNode | None
    confidence: float
    alternatives: tuple[TaxonomyNode, ...]
    declared: TaxonomyNode | None
    disagrees: bool


def _related(a: TaxonomyNode, b: TaxonomyNode) -> bool:
    shorter, longer = sorted((a.path, b.path), key=len)
    return longer[: len(shorter)] == shorter


class Categoriser:
    """``embedder`` adds dense similarity (the memory module's MiniLM): lexical matching
    alone cannot tell that a "TV" is a television or "hiking boots" are shoes."""

    def __init__(self, taxonomy: Taxonomy, embedder: Embedder | None = None) -> None:
        self.taxonomy = taxonomy
        self.leaves = taxonomy.leaves()
        self.embedder = embedder
        self.index = KeywordIndex(background_merge=False)
        self.index.rebuild(
            list(range(len(self.leaves))),
            [" ".join([leaf.name] * 3 + list(leaf.path[:-1])) for leaf in self.leaves],
        )
        self.leaf_vectors: NDArray[np.float32] | None = None
        if embedder is not None:
            # Leaf first: "Televisions (Electronics > Video)" embeds as what it is.
            self.leaf_vectors = embedder.encode(
                [f"{leaf.name} ({' > '.join(leaf.path[:-1])})" for leaf in self.leaves]
            )

    def _query(self, product: Product) -> str:
        """Product type and title, without the brand and the attribute values: "white" and
        "brass" say what a product looks like, not what it is (with them, a white floor lamp
        scored highest against White Coats)."""
        noise = {w.casefold() for v in product.attributes.values() for w in v.split()}
        if product.brand:
            noise |= {w.casefold() for w in product.brand.split()}
        text = " ".join(filter(None, (product.product_type, product.title))).replace(">", " ")
        return " ".join(w for w in text.split() if w.casefold().strip(",.") not in noise)

    def _plausible(self, product: Product, declared: TaxonomyNode) -> bool:
        """The declared leaf names what the product's own text says it is."""
        text = " ".join((product.title, product.product_type or "", product.description))
        words = {w.casefold().strip(",.()") for w in text.split()}
        stems = {w[:-1] if w.endswith("s") else w for w in words}
        leaf = [w.casefold().strip(",") for w in declared.name.replace("&", " ").split()]
        return any((w[:-1] if w.endswith("s") else w) in stems for w in leaf if len(w) > 3)

    def _ranked(self, queries: list[str]) -> list[tuple[list[int], NDArray[np.float64]]]:
        """Per query: the best leaves (fused when dense is on) and the scores that set the
        confidence (cosines with dense, BM25 scores without)."""
        lexical = [self.index.search(q, CANDIDATES) for q in queries]
        if self.embedder is None or self.leaf_vectors is None:
            return [
                ([i for i, _ in hits], np.array([score for _, score in hits])) for hits in lexical
            ]
        cosines = self.embedder.encode(queries) @ self.leaf_vectors.T
        ranked = []
        for row, hits in enumerate(lexical):
            dense = np.argsort(-cosines[row])[:CANDIDATES].tolist()
            fused = reciprocal_rank_fusion(
                {"bm25": [i for i, _ in hits], "dense": dense}, weights={"dense": 2.0}
            )
            order = [hit.id for hit in fused[:TOP]]
            ranked.append((order, cosines[row][order].astype(np.float64) / TEMPERATURE))
        return ranked

    def assign(self, products: Sequence[Product]) -> list[CategoryAssignment]:
        assignments: list[CategoryAssignment] = []
        ranked = self._ranked([self._query(p) for p in products])
        for product, (order, scores) in zip(products, ranked, strict=True):
            declared = (
                self.taxonomy.resolve(product.google_product_category)
                if product.google_product_category
                else None
            )
            if not order:
                assignments.append(CategoryAssignment(None, 0.0, (), declared, False))
                continue
            weights = np.exp(scores[:TOP] - scores[:TOP].max())
            confidence = float(weights[0] / weights.sum())
            node = self.leaves[order[0]]
            alternatives = tuple(self.leaves[i] for i in order[1:4])
            # Unsure which leaf, but sure it is not that branch: no candidate shares the
            # declared node's top level.
            elsewhere = declared is not None and declared.top_level not in {
                n.top_level for n in (node, *alternatives)
            }
            disagrees = (
                declared is not None
                and (confidence >= CONFIDENT or elsewhere)
                and not _related(declared, node)
                and not self._plausible(product, declared)
            )
            assignments.append(
                CategoryAssignment(
                    node=node,
                    confidence=confidence,
                    alternatives=alternatives,
                    declared=declared,
                    disagrees=disagrees,
                )
            )
        return assignments


def categorise_findings(product: Product, assignment: CategoryAssignment) -> list[Finding]:
    if not assignment.disagrees or assignment.node is None or assignment.declared is None:
        return []
    node, declared = assignment.node, assignment.declared
    return [
        Finding(
            product_id=product.id,
            check="category_disagrees",
            severity="medium",
            message="the declared category does not match what the product's text describes",
            evidence=f"declared {declared.full_path}; the text reads as {node.full_path} "
            f"(confidence {assignment.confidence:.2f})",
            source=SPEC["category"],
            fix=Fix(
                f"set google_product_category to {node.id} ({node.full_path})",
                {"google_product_category": str(node.id)},
                mechanical=True,
            ),
            field="google_product_category",
        )
    ]

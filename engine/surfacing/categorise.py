"""A Google product taxonomy leaf for each product, by text similarity, with a confidence.

**Documents.** Each leaf of the taxonomy is a document: its name three times (the words that
say what the product is), the head noun of each part of its name as a marked term ("Lamp
Shades" are shades; "Shirts & Tops" shirts and tops), and each ancestor's name once, as
stemmed words (:func:`engine.surfacing.entities.index_terms`: "knives" and "knife" are one).

**Queries.** A product's terms, weighted by where they stand: the title's first segment 1.0
(segments are split at commas, dashes, bars and "by"), later segments 0.5 (specs), words after
"with"/"for" 0.3 (what comes with it or what it fits), the title's head noun (the last word
of the first segment before "with"/"for", model codes skipped) as a marked term 2.0, the
``product_type`` path 0.6 and its last part's head 0.6, the first :data:`DESCRIPTION_WORDS`
words of the description 0.3; a word in several places adds up, to 1.5. The brand's words,
plain colours and marketing words (:data:`GENERIC_WORDS`) are left out: "Global", "white" and
"premium" say who made a product, what it looks like and how it is sold, not what it is.

**Accessory prior.** A third of the leaves sit under an accessories or parts branch (Lamp
Shades, Headphone Cushions & Tips); a title usually names the product itself, and shares
words with its accessories. Unless the title or product type says "replacement", "spare",
"parts", "accessory", "compatible" or "refill", or its head noun is the accessory leaf's own
("case"), accessory leaves lose one temperature (below) in each retriever: prior odds e^-1.

**Ranking.** BM25 (bm25s, k1 1.5, b 0.75) over the leaves, every product of a call scored at
once as one sparse matrix product of the weighted query terms with bm25s's score matrix. With
an embedder, each leaf is also embedded as "Name (Parent > Path)" and each product as its
title and product type, cleaned as the BM25 query is and without model codes. Each retriever
nominates its leaves within :data:`NOMINATE` temperatures (below) of its best, of its top
:data:`CANDIDATES`, and the nominations are fused by reciprocal rank fusion (memory's
``reciprocal_rank_fusion``, k 60, dense weighted :data:`DENSE_WEIGHT`: MiniLM alone is the
weaker of the two on the labelled set), ties going to the more probable leaf. Without the
nomination, ranks alone let a retriever that is unsure outvote one that is sure.

**Confidence** of the assigned leaf, in [0, 1]: each retriever's scores over its candidates
become a distribution, ``p_i = softmax((s_i - s_best) / T)``, with T = :data:`BM25_TEMPERATURE`
times the best BM25 score (BM25 scores grow with the query's length; relative differences do
not) and T = :data:`COSINE_TEMPERATURE` for cosines (MiniLM's near neighbours sit a few
hundredths apart). With both retrievers the distributions are mixed with the fusion's weights,
a leaf one of them did not return having 0 there, so both must agree for a confident answer.
The confidence is that probability of the assigned leaf: about 1 when one leaf clearly wins,
about 1/n when n tie, 0 when nothing matched (``node`` is then None). BM25 alone is
overconfident when few leaves share a word with the title (bench/surfacing_categorise.py
measures both).

**Disagreement.** ``disagrees`` when the product declares a category that resolves, the
assignment is confident (confidence >= :data:`CONFIDENT`), the declared node is not on the
assigned leaf's path (neither the leaf nor an ancestor of it), no alternative lies under the
declared node, and the text's support for the declared node (per retriever, exp of its best
leaf's score minus the best score overall, over T) is below :data:`SUPPORT_FLOOR`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from engine.surfacing.entities import MATERIALS, index_terms, words
from engine.surfacing.findings import Finding, Fix
from engine.surfacing.product import Product
from engine.surfacing.rules import GMC_CATEGORY
from engine.surfacing.taxonomy import Taxonomy, TaxonomyNode
from memory.embedding import Embedder
from memory.fusion import reciprocal_rank_fusion

CONFIDENT = 0.6
SUPPORT_FLOOR = 0.1  # the declared node's support below which the text contradicts it
CANDIDATES = 30  # per retriever, before fusion
NOMINATE = 3.0  # temperatures below a retriever's best (probability ratio e^-3, 5 %)
DENSE_WEIGHT = 0.5  # MiniLM alone is the weaker retriever here (see bench/surfacing_categorise)
ALTERNATIVES = 3
BM25_TEMPERATURE = 0.1
COSINE_TEMPERATURE = 0.02
NOMINATE_B, NOMINATE_D = NOMINATE * BM25_TEMPERATURE, NOMINATE * COSINE_TEMPERATURE
TITLE, PRODUCT_TYPE, DESCRIPTION, MAX_WEIGHT = 1.0, 0.6, 0.3, 1.5
LATER_SEGMENT = 0.5  # title segments after the first ("..., 8 inch, stainless steel")
ACCESSORY = 0.3  # words after "with" / "for": what comes with it or what it fits
HEAD = 2.0  # the title's head noun matching a leaf's
HEAD_MARK = "head:"
MATERIAL = 0.3  # a material says what a product is made of, not what it is
DESCRIPTION_WORDS = 40
LEAF_REPEAT = 3
CHUNK = 1024  # products scored per sparse product (a CHUNK x leaves dense block)
# Colour words that name no product type; "orange", "cream", "olive", "gold" do, so stay in.
COLOUR_WORDS = frozenset(
    {"black", "white", "grey", "gray", "red", "blue", "navy", "green", "yellow", "pink"}
    | {"purple", "brown", "beige", "teal"}
)


# Words of praise and marketing that say nothing of what a product is ("Premium quality, best
# choice" names no category, however many leaves contain "quality").
GENERIC_WORDS = frozenset(
    {"premium", "quality", "best", "new", "great", "perfect", "ideal", "luxury", "deluxe"}
    | {"top", "amazing", "awesome", "excellent", "choice", "original", "genuine", "official"}
    | {"brand", "sale", "offer", "deal", "free", "hot", "popular", "must", "have", "arrival"}
)


# One-word materials ("stainless steel chef's knife" is not a steel cleaner), stemmed.
MATERIAL_TERMS = frozenset(
    term
    for name, spellings in MATERIALS.items()
    for spelling in (name, *spellings)
    for term in index_terms(spelling)
    if len(spelling.split()) == 1 or spelling == "stainless steel"
)


@dataclass(frozen=True)
class CategoryAssignment:
    node: TaxonomyNode | None  # the best leaf; None when no leaf matched at all
    confidence: float
    alternatives: tuple[TaxonomyNode, ...]  # the next best, up to three
    declared: TaxonomyNode | None  # what google_product_category resolves to
    disagrees: bool


def on_path(node: TaxonomyNode, leaf: TaxonomyNode) -> bool:
    """``node`` is ``leaf`` or one of its ancestors."""
    return leaf.path[: len(node.path)] == node.path


_SEGMENT = re.compile(r"\s+[-\u2013\u2014|/]\s+|[,;:()\[\]|]|\s+by\s+", re.IGNORECASE)
_ACCESSORY_BRANCH = re.compile(r"\b(?:Accessories|Parts)\b")
_ACCESSORY_CUE = re.compile(
    r"\b(?:compatible|replacement|spare|accessor(?:y|ies)|parts?|refills?)\b", re.IGNORECASE
)
_ACCESSORY = re.compile(r"\b(?:with|for|incl|including|includes|compatible)\b")


def _leaf_heads(leaf: TaxonomyNode) -> list[str]:
    """The stemmed head noun of each part of a leaf's name: "Lamp Shades" are shades,
    "Shirts & Tops" shirts and tops."""
    heads = []
    for part in re.split(r"\s*(?:&|,)\s*", leaf.name):
        named = index_terms(part)
        if named:
            heads.append(named[-1])
    return heads


def _is_accessory(leaf: TaxonomyNode) -> bool:
    """Under an accessories or parts branch (below the top level, which "Apparel &
    Accessories" would otherwise make all of apparel)."""
    return any(_ACCESSORY_BRANCH.search(part) for part in leaf.path[1:])


def _head(segments: Sequence[str]) -> str | None:
    """The stemmed head noun of a title: the last word without digits of the first segment's
    part before "with"/"for" (else of the whole first segment)."""
    if not segments:
        return None
    first = segments[0]
    for text in (_ACCESSORY.split(first, maxsplit=1)[0], first):
        named = [w for w, _ in words(text) if not any(c.isdigit() for c in w)]
        terms = [t for t in (index_terms(w) for w in named) if t]
        if terms:
            return terms[-1][-1]
    return None


def _softmax(scores: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    weights = np.exp((scores - scores.max()) / max(temperature, 1e-12))
    result: NDArray[np.float64] = weights / weights.sum()
    return result


class Categoriser:
    """Built once per taxonomy (it indexes the leaves, and embeds them when ``embedder`` is
    given: dense similarity knows a "TV" is a television); :meth:`assign` per batch."""

    def __init__(self, taxonomy: Taxonomy, embedder: Embedder | None = None) -> None:
        self.taxonomy = taxonomy
        self.leaves = taxonomy.leaves()
        self.embedder = embedder
        documents = [self._document(leaf) for leaf in self.leaves]
        # Imported here, as memory.keyword does: importing bm25s probes JAX and starts its
        # threads, which a process that later forks (Ray workers) must not have.
        retriever = importlib.import_module("bm25s").BM25(k1=1.5, b=0.75)
        retriever.index(documents, show_progress=False)
        self._vocabulary: dict[str, int] = dict(retriever.vocab_dict)
        scores = retriever.scores
        columns = len(scores["indptr"]) - 1
        # bm25s stores one column per term (CSC); transposed, a row per term.
        matrix = sp.csc_matrix(
            (scores["data"], scores["indices"], scores["indptr"]),
            shape=(len(self.leaves), columns),
        )
        self._term_leaf = matrix.T.tocsr().astype(np.float64)
        self._leaf_vectors: NDArray[np.float32] | None = None
        self._subtrees: dict[int, NDArray[np.intp]] = {}
        self._accessory = np.array([_is_accessory(leaf) for leaf in self.leaves], dtype=bool)
        by_head: dict[str, list[int]] = {}
        for index, leaf in enumerate(self.leaves):
            for head in _leaf_heads(leaf):
                by_head.setdefault(head, []).append(index)
        self._by_head = {h: np.array(i, dtype=np.intp) for h, i in by_head.items()}
        if embedder is not None:
            self._leaf_vectors = embedder.encode(
                [f"{leaf.name} ({' > '.join(leaf.path[:-1])})" for leaf in self.leaves]
            )

    @staticmethod
    def _document(leaf: TaxonomyNode) -> list[str]:
        terms = index_terms(leaf.name) * LEAF_REPEAT
        terms += [HEAD_MARK + head for head in _leaf_heads(leaf)]
        for ancestor in leaf.path[:-1]:
            terms += index_terms(ancestor)
        return terms

    # -- queries ------------------------------------------------------------------------------

    def _query(self, product: Product) -> tuple[dict[int, float], str | None]:
        """The weighted query terms (by vocabulary column) and the title's head noun."""
        dropped = COLOUR_WORDS | GENERIC_WORDS | {w for w, _ in words(product.brand or "")}
        weights: dict[int, float] = {}

        def add(terms: Iterable[str], weight: float, cap: float = MAX_WEIGHT) -> None:
            for term in set(terms):
                column = self._vocabulary.get(term)
                if column is not None and column < self._term_leaf.shape[0]:
                    scaled = weight * MATERIAL if term in MATERIAL_TERMS else weight
                    weights[column] = min(cap, weights.get(column, 0.0) + scaled)

        def kept(text: str) -> str:
            return " ".join(w for w, _ in words(text) if w not in dropped)

        segments = [kept(s) for s in _SEGMENT.split(product.title)]
        segments = [s for s in segments if s.strip()]
        for position, segment in enumerate(segments):
            main, *accessory = _ACCESSORY.split(segment, maxsplit=1)
            weight = TITLE if position == 0 else LATER_SEGMENT
            add(index_terms(main), weight)
            add(index_terms(" ".join(accessory)), ACCESSORY)
        head = _head(segments)
        if head:
            add([HEAD_MARK + head], HEAD, cap=HEAD + PRODUCT_TYPE)
        path = (product.product_type or "").split(">")
        add(index_terms(kept(" ".join(path))), PRODUCT_TYPE)
        type_head = _head([kept(path[-1])])
        if type_head:
            add([HEAD_MARK + type_head], PRODUCT_TYPE, cap=HEAD + PRODUCT_TYPE)
        description = " ".join(product.description.split()[:DESCRIPTION_WORDS])
        add(index_terms(kept(description)), DESCRIPTION)
        return weights, head or type_head

    @staticmethod
    def _dense_text(product: Product) -> str:
        """Title and product type, without what BM25 leaves out too (brand, colours, generic
        words) nor model codes ("P199"). Not the description: a sentence embedding weighs
        every word alike, so "soft ear cushions" would count as much as "headphones"."""
        dropped = COLOUR_WORDS | GENERIC_WORDS | {w for w, _ in words(product.brand or "")}
        parts = []
        for text in (product.title, (product.product_type or "").replace(">", ",")):
            kept = []
            for token in text.split():  # as written: "chef's knife" reads better than "chef knife"
                found = [w for w, _ in words(token)]
                if found and not any(w in dropped or any(c.isdigit() for c in w) for w in found):
                    kept.append(token)
            if kept:
                parts.append(" ".join(kept).strip(" ,-|"))
        return ". ".join(p for p in parts if p) or product.title

    def _scores(
        self, products: Sequence[Product]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """products x leaves BM25 scores (one sparse product for the batch) and cosines (None
        without an embedder), with the accessory prior applied to both."""
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        penalised = np.zeros((len(products), len(self.leaves)), dtype=bool)
        for row, product in enumerate(products):
            weights, head = self._query(product)
            for column, weight in weights.items():
                rows.append(row)
                cols.append(column)
                values.append(weight)
            if not _ACCESSORY_CUE.search(" ".join((product.title, product.product_type or ""))):
                # An accessory leaf is right when the title's head noun names it ("case").
                penalised[row] = self._accessory
                if head in self._by_head:
                    penalised[row, self._by_head[head]] = False
        queries = sp.csr_matrix(
            (values, (rows, cols)), shape=(len(products), self._term_leaf.shape[0])
        )
        bm25: NDArray[np.float64] = (queries @ self._term_leaf).toarray()
        bm25[penalised] *= 1 - BM25_TEMPERATURE
        cosines = None
        if self.embedder is not None and self._leaf_vectors is not None:
            vectors = self.embedder.encode([self._dense_text(p) for p in products])
            cosines = (vectors @ self._leaf_vectors.T).astype(np.float64)
            cosines[penalised] -= COSINE_TEMPERATURE
        return bm25, cosines

    # -- assignment ---------------------------------------------------------------------------

    def assign(self, products: Sequence[Product]) -> list[CategoryAssignment]:
        out: list[CategoryAssignment] = []
        for start in range(0, len(products), CHUNK):
            out += self._assign(products[start : start + CHUNK])
        return out

    def _assign(self, products: Sequence[Product]) -> list[CategoryAssignment]:
        if not products:
            return []
        bm25, cosines = self._scores(products)
        k = min(CANDIDATES, len(self.leaves))
        lexical_top = np.argpartition(-bm25, k - 1, axis=1)[:, :k]
        dense_top = None if cosines is None else np.argpartition(-cosines, k - 1, axis=1)[:, :k]
        out = []
        for row, product in enumerate(products):
            lexical = [int(i) for i in lexical_top[row] if bm25[row, i] > 0]
            lexical.sort(key=lambda i: (-bm25[row, i], i))
            best = float(bm25[row, lexical[0]]) if lexical else 0.0
            probability: dict[int, float] = {}
            if lexical:
                p = _softmax(bm25[row, lexical], BM25_TEMPERATURE * best)
                probability = dict(zip(lexical, p.tolist(), strict=True))
            # Per retriever: (scores of every leaf, best score, temperature), for support.
            views = [(bm25[row], best, BM25_TEMPERATURE * best)] if lexical else []
            order = lexical
            if cosines is not None and dense_top is not None:
                dense = sorted((int(i) for i in dense_top[row]), key=lambda i: -cosines[row, i])
                q = _softmax(cosines[row, dense], COSINE_TEMPERATURE)
                total = 1.0 + DENSE_WEIGHT
                mixed = {i: probability.get(i, 0.0) / total for i in lexical}
                for i, value in zip(dense, q.tolist(), strict=True):
                    mixed[i] = mixed.get(i, 0.0) + DENSE_WEIGHT * value / total
                # Ranks alone would let an unsure retriever (cosines all alike) outvote a sure
                # one (a BM25 score twice the next): each nominates what is near its best.
                fused = reciprocal_rank_fusion(
                    {
                        "bm25": [i for i in lexical if bm25[row, i] >= best * (1 - NOMINATE_B)],
                        "dense": [
                            i
                            for i in dense
                            if cosines[row, i] >= cosines[row, dense[0]] - NOMINATE_D
                        ],
                    },
                    weights={"dense": DENSE_WEIGHT},
                )
                # RRF ties (rank 1 + 2 against rank 2 + 1) go to the more probable leaf.
                fused.sort(key=lambda hit: (-round(hit.score, 12), -mixed.get(hit.id, 0.0)))
                nominated = [hit.id for hit in fused]
                # The other candidates follow, most probable first, as further alternatives.
                rest = sorted(set(mixed) - set(nominated), key=lambda i: (-mixed[i], i))
                order, probability = nominated + rest, mixed
                views.append((cosines[row], float(cosines[row, dense[0]]), COSINE_TEMPERATURE))
            out.append(self._assignment(product, order, probability, views))
        return out

    def _under(self, node: TaxonomyNode) -> NDArray[np.intp]:
        """Indices of the leaves on ``node``'s subtree (``node`` itself when a leaf)."""
        found = self._subtrees.get(node.id)
        if found is None:
            found = np.array(
                [i for i, leaf in enumerate(self.leaves) if on_path(node, leaf)], dtype=np.intp
            )
            self._subtrees[node.id] = found
        return found

    def _support(
        self, node: TaxonomyNode, views: list[tuple[NDArray[np.float64], float, float]]
    ) -> float:
        """How well the text supports ``node``: per retriever, exp((best score on its subtree -
        best score overall) / T), 1 when it holds the best leaf; averaged over retrievers."""
        under = self._under(node)
        if not views or under.size == 0:
            return 0.0
        ratios = [
            float(np.exp((scores[under].max() - best) / max(temperature, 1e-12)))
            for scores, best, temperature in views
        ]
        return sum(ratios) / len(ratios)

    def _assignment(
        self,
        product: Product,
        order: list[int],
        probability: dict[int, float],
        views: list[tuple[NDArray[np.float64], float, float]],
    ) -> CategoryAssignment:
        declared = (
            self.taxonomy.resolve(product.google_product_category)
            if product.google_product_category
            else None
        )
        if not order:
            return CategoryAssignment(None, 0.0, (), declared, False)
        node = self.leaves[order[0]]
        alternatives = tuple(self.leaves[i] for i in order[1 : 1 + ALTERNATIVES])
        confidence = min(1.0, max(0.0, probability.get(order[0], 0.0)))
        disagrees = (
            declared is not None
            and confidence >= CONFIDENT
            and not on_path(declared, node)
            and not any(on_path(declared, alt) for alt in alternatives)
            and self._support(declared, views) < SUPPORT_FLOOR
        )
        return CategoryAssignment(node, confidence, alternatives, declared, disagrees)


def categorise_findings(product: Product, assignment: CategoryAssignment) -> list[Finding]:
    """``category_disagrees`` (medium) with a mechanical fix to the assigned leaf;
    ``category_missing`` (low) when the product declares none, with the assigned leaf as a
    mechanical fix when the assignment is confident, else the candidates to choose from."""
    node = assignment.node
    if assignment.disagrees and node is not None and assignment.declared is not None:
        declared = assignment.declared
        return [
            Finding(
                product_id=product.id,
                check="category_disagrees",
                severity="medium",
                message="the declared Google product category does not match what the "
                "product's text describes",
                evidence=f"declared {declared.full_path}; the text reads as {node.full_path} "
                f"(confidence {assignment.confidence:.2f})",
                source=GMC_CATEGORY,
                fix=Fix(
                    f"set google_product_category to {node.id} ({node.full_path})",
                    {"google_product_category": str(node.id)},
                    mechanical=True,
                ),
                field="google_product_category",
            )
        ]
    if product.google_product_category and product.google_product_category.strip():
        return []
    if node is None:
        fix = Fix("choose the product's Google product category", {}, mechanical=False)
        evidence = "no taxonomy leaf matches the title or description"
    elif assignment.confidence >= CONFIDENT:
        fix = Fix(
            f"set google_product_category to {node.id} ({node.full_path})",
            {"google_product_category": str(node.id)},
            mechanical=True,
        )
        evidence = f"the text reads as {node.full_path} (confidence {assignment.confidence:.2f})"
    else:
        choices = "; ".join(f"{n.id} {n.full_path}" for n in (node, *assignment.alternatives))
        fix = Fix(f"choose the category, likely one of: {choices}", {}, mechanical=False)
        evidence = f"unsure (confidence {assignment.confidence:.2f}): {choices}"
    return [
        Finding(
            product_id=product.id,
            check="category_missing",
            severity="low",
            message="no google_product_category: Merchant Center then guesses the category",
            evidence=evidence,
            source=GMC_CATEGORY,
            fix=fix,
            field="google_product_category",
        )
    ]

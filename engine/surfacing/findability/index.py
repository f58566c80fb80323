"""The competitive set's indexes: what is indexed of a product, BM25 and vectors over it, the
hybrid ranking, and a product's rank.

One :class:`CatalogIndex` per competitive set (the whole catalog, or one category) holds the
memory module's BM25 index (``memory.keyword.KeywordIndex``: Snowball stems, Lucene idf) and
vector index (``memory.dense.DenseIndex``: exact below 20,000 products, HNSW above) over the
products' retrieval texts, with int ids = positions in ``products``. The hybrid ranking is the
reciprocal rank fusion of the two (k = 60, equal weights: ``memory.fusion``'s, batched in
:func:`fuse_rankings`).

What is indexed (:func:`retrieval_text`) is the listing's text: the title twice (the field
every engine weights most; repeating it doubles its term frequencies), the brand when the
title does not say it, the product type, the highlights and the description. Structured
attributes are not indexed as "key value": they count only through what the text says.
Semantic retrieval embeds text, and Merchant Center asks for a product's distinguishing
attributes in its title for the same reason; an attribute the text never mentions is the
findability defect the checks report (``attribute_not_in_text``), and adding it is a
measured fix, which indexing the attributes would hide.

:func:`rank_of`: the 1-based rank of a product in a ranking ``DEPTH`` (100) deep, or ``None``
beyond it (a ranking holds only products with a positive score: BM25 above 0, cosine
similarity above 0).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.surfacing.product import Product
from memory.dense import DenseIndex
from memory.embedding import Embedder
from memory.keyword import KeywordIndex, tokenize

RETRIEVERS: tuple[str, ...] = ("bm25", "dense", "hybrid")
DEPTH = 100
# A merge threshold below one write (see CatalogIndex.__init__); KeywordIndex wants it > 0.
_EVERY_WRITE = 1e-12


def retrieval_text(product: Product) -> str:
    parts = [product.title, product.title]
    if product.brand and product.brand.casefold() not in product.title.casefold():
        parts.append(product.brand)
    if product.product_type:
        parts.append(product.product_type.replace(">", " "))
    parts.extend(product.highlights)
    parts.append(product.description)
    return "\n".join(p for p in parts if p)


@dataclass(frozen=True)
class TermStatistics:
    """What the BM25 index weighs terms by: each product's token count (by position) and,
    per term, how many products have it; tokens as the memory module's keyword index makes
    them."""

    lengths: NDArray[np.int64]
    doc_freq: Mapping[str, int]


class CatalogIndex:
    """BM25 and dense indexes over one competitive set; ids are positions in ``products``.

    ``vectors`` are the products' embeddings when already computed (the audit's embedding
    stage); otherwise the embedder encodes them here. ``dense=False`` builds the BM25 index
    alone (nothing is embedded): the dense rankings are then empty and the hybrid ranking is
    BM25's, a baseline that costs no embedding."""

    def __init__(
        self,
        products: Sequence[Product],
        *,
        embedder: Embedder,
        vectors: NDArray[np.float32] | None = None,
        dense: bool = True,
    ) -> None:
        self.products = list(products)
        self.embedder = embedder
        self.position = {p.id: i for i, p in enumerate(self.products)}
        if len(self.position) != len(self.products):
            raise ValueError("product ids must be unique within a competitive set")
        ids = list(range(len(self.products)))
        texts = [retrieval_text(p) for p in self.products]
        # Every write is merged into the main segment by the next search (inside it, so results
        # never depend on timing). A re-indexed product left in the keyword index's recent
        # segment would be length-normalised against itself alone: measured on the generated
        # catalog, that reversed the sign of a fix's measured rank change for 5 of 48 products
        # (BM25), and restoring the product did not restore the rankings. The price is one
        # rebuild of the BM25 matrix per write (~14 us a product on this machine class), which
        # is why measuring a fix does not write (findability.counterfactual).
        self.keyword = KeywordIndex(
            background_merge=False, merge_floor=0, merge_fraction=_EVERY_WRITE
        )
        self.keyword.rebuild(ids, texts)
        self.dense: DenseIndex | None = None
        if dense:
            if vectors is None:
                vectors = embedder.encode(texts)
            if len(vectors) != len(self.products):
                raise ValueError("one vector per product is needed")
            self.dense = DenseIndex(embedder.dimension)
            if ids:
                self.dense.rebuild(np.asarray(ids, dtype=np.int64), vectors)
        self._statistics: TermStatistics | None = None

    def __len__(self) -> int:
        return len(self.products)

    def replace(self, product: Product, *, vector: NDArray[np.float32] | None = None) -> Product:
        """Re-index one product in place (same id); returns the record it replaced. ``vector``
        is its embedding when known (restoring a product re-adds its stored vector, so the
        index holds exactly what it held); otherwise the embedder encodes its text."""
        position = self.position[product.id]
        previous = self.products[position]
        self.products[position] = product
        self._statistics = None
        text = retrieval_text(product)
        self.keyword.add([position], [text])
        if self.dense is not None:
            if vector is None:
                vector = self.embedder.encode([text])
            self.dense.add(np.asarray([position], dtype=np.int64), vector.reshape(1, -1))
        return previous

    def term_statistics(self) -> TermStatistics:
        """Computed on first use (one tokenization of the catalog) and kept until a product
        is replaced."""
        if self._statistics is None:
            tokens = tokenize([retrieval_text(p) for p in self.products], stem=self.keyword.stem)
            counts: Counter[str] = Counter()
            for document in tokens:
                counts.update(set(document))
            lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
            self._statistics = TermStatistics(lengths=lengths, doc_freq=dict(counts))
        return self._statistics

    def vector(self, product_id: str) -> NDArray[np.float32] | None:
        """The product's embedding as the dense index holds it (none without one)."""
        if self.dense is None:
            return None
        return np.asarray(self.dense.vectors([self.position[product_id]])[0], dtype=np.float32)

    def search_many(self, queries: Sequence[str], k: int = DEPTH) -> dict[str, list[list[int]]]:
        """Best-first positions per query for each retriever, ``k`` deep."""
        depth = min(k, max(1, len(self.products)))
        bm25 = [[pid for pid, _ in self.keyword.search(q, depth)] for q in queries]
        dense: list[list[int]] = [[] for _ in queries]
        if queries and self.dense is not None:
            # The memory embedders cache query vectors (encode_queries): a fix's measurement
            # re-runs the same queries twice, and catalogs share most of their queries.
            encode = getattr(self.embedder, "encode_queries", self.embedder.encode)
            matrix = encode(list(queries))
            dense = [_by_score(ids, scores) for ids, scores in self.dense.search(matrix, depth)]
        return {"bm25": bm25, "dense": dense, "hybrid": fuse_rankings(bm25, dense, depth)}


def _by_score(ids: NDArray[np.int64], scores: NDArray[np.float32]) -> list[int]:
    """A dense ranking as the catalog's, not the vector index's: products with a similarity
    above 0 (as BM25 keeps only positive scores), equal similarities in position order. FAISS
    orders ties by its internal labels, which change when a product is re-indexed; without
    this, restoring a product would reorder the products tied with it."""
    keep = scores > 0
    ids, scores = ids[keep], scores[keep]
    return [int(i) for i in ids[np.lexsort((ids, -scores))]]


def fuse_rankings(
    first: Sequence[Sequence[int]], second: Sequence[Sequence[int]], depth: int, k: float = 60.0
) -> list[list[int]]:
    """Per query, the reciprocal rank fusion of two best-first rankings, ``depth`` deep: the
    batched form of ``memory.fusion.reciprocal_rank_fusion`` with equal weights, in its exact
    order (score, then the best single rank, then the smaller id; scores summed in the same
    order, so ties fall the same way; a test holds the two equal). Each ranking holds distinct
    ids, as both indexes return. One vectorised pass over all queries: calling that function
    once per query took ~60 % of an audit's search time."""
    n = len(first)
    parts = []
    for source, rankings in enumerate((first, second)):
        lengths = np.fromiter(map(len, rankings), dtype=np.int64, count=n)
        flat = np.fromiter(itertools.chain.from_iterable(rankings), dtype=np.int64)
        row = np.repeat(np.arange(n, dtype=np.int64), lengths)
        rank = np.arange(1, flat.size + 1) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        parts.append((row, flat, rank, np.full(flat.size, source, dtype=np.int64)))
    row, ids, rank, which = (np.concatenate(columns) for columns in zip(*parts, strict=True))
    if ids.size == 0:
        return [[] for _ in range(n)]
    # One integer key per (query, id, ranking): equal ids of a query become neighbours, the
    # first ranking's entry before the second's.
    width = int(ids.max()) + 1
    key = (row * width + ids) * 2 + which
    order = np.argsort(key, kind="stable")
    pair, rank = key[order] >> 1, rank[order]
    starts = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
    score = np.add.reduceat(1.0 / (k + rank.astype(np.float64)), starts)
    best = np.minimum.reduceat(rank, starts)
    query, fused = pair[starts] // width, pair[starts] % width
    ranked = np.lexsort((fused, best, -score, query))
    counts = np.bincount(query, minlength=n).tolist()
    flat_ids = fused[ranked].tolist()
    begins = itertools.accumulate(counts, initial=0)
    return [flat_ids[b : b + min(c, depth)] for b, c in zip(begins, counts, strict=False)]


def rank_of(ranking: Sequence[int], position: int) -> int | None:
    try:
        return ranking.index(position) + 1
    except ValueError:
        return None

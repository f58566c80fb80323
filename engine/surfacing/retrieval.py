"""Findability: each product's rank for its own queries among its competitive set.

One :class:`CatalogIndex` per competitive set (the whole catalog by default) holds the memory
module's BM25 index (``memory.keyword.KeywordIndex``) and vector index
(``memory.dense.DenseIndex``) over the products' retrieval texts; the hybrid ranking is their
reciprocal rank fusion (``memory.fusion``, k = 60). Ranks are 1-based positions in the full
ranking down to ``depth`` (100); a product beyond it has no rank.

What is indexed (:func:`retrieval_text`) is the listing's text: the title (twice, the field
every engine weights most), brand, product type, highlights and description. Structured
attributes count only through what the text says: semantic retrieval embeds text, and
Merchant Center asks for a product's distinguishing attributes in its title for the same
reason. An attribute the text never mentions is the findability defect the checklist's
``attribute_missing_from_text`` finding reports, and adding it is a measured fix.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engine.surfacing.product import Product
from engine.surfacing.queries import IntentQuery, MerchantQuery
from memory.dense import DenseIndex
from memory.embedding import Embedder
from memory.keyword import KeywordIndex, tokenize

RETRIEVERS: tuple[str, ...] = ("bm25", "dense", "hybrid")
DEPTH = 100
CUTOFF = 10
_DISCOUNT = 1.0 / np.log2(np.arange(2, CUTOFF + 2))  # nDCG's gain at ranks 1..10
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
    stage); otherwise the embedder encodes them here."""

    def __init__(
        self,
        products: Sequence[Product],
        *,
        embedder: Embedder,
        vectors: NDArray[np.float32] | None = None,
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
        # is why measuring a fix does not write (engine.surfacing.counterfactual).
        self.keyword = KeywordIndex(
            background_merge=False, merge_floor=0, merge_fraction=_EVERY_WRITE
        )
        self.keyword.rebuild(ids, texts)
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

    def vector(self, product_id: str) -> NDArray[np.float32]:
        """The product's embedding as the dense index holds it."""
        return np.asarray(self.dense.vectors([self.position[product_id]])[0], dtype=np.float32)

    def search_many(self, queries: Sequence[str], k: int = DEPTH) -> dict[str, list[list[int]]]:
        """Best-first positions per query for each retriever, ``k`` deep."""
        depth = min(k, max(1, len(self.products)))
        bm25 = [[pid for pid, _ in self.keyword.search(q, depth)] for q in queries]
        if queries:
            # The memory embedders cache query vectors (encode_queries): a fix's measurement
            # re-runs the same queries twice, and catalogs share most of their queries.
            encode = getattr(self.embedder, "encode_queries", self.embedder.encode)
            matrix = encode(list(queries))
            dense = [_by_score(ids, scores) for ids, scores in self.dense.search(matrix, depth)]
        else:
            dense = []
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


@dataclass(frozen=True)
class QueryResult:
    text: str
    kind: str
    ranks: Mapping[str, int | None]


@dataclass(frozen=True)
class RetrieverStats:
    retriever: str
    recall_at_10: float
    mrr: float
    best_rank: int | None
    invisible: bool


@dataclass(frozen=True)
class ProductFindability:
    product_id: str
    queries: tuple[QueryResult, ...]
    retrievers: tuple[RetrieverStats, ...]
    outranked_by: tuple[str, ...]
    invisible: bool


@dataclass(frozen=True)
class FindabilityReport:
    """Per product and per catalog. ``retrievability[r][i]`` is r(d) of the product at
    position i: on how many of the catalog's distinct queries (every product's intents and
    the merchant's queries) it ranks in the top 10 under retriever r. The merchant figures are
    means over the labelled queries, each against its labelled relevant set: recall@10 (the
    share of the relevant products in the top 10), MRR (1 / the rank of the first relevant
    product, 0 beyond the depth) and nDCG@10 (binary gains, log2 discount, ideal = every
    relevant product first)."""

    products: Mapping[str, ProductFindability]
    gini: Mapping[str, float]  # retrievability Gini per retriever
    merchant_recall_at_10: Mapping[str, float] = field(default_factory=dict)
    merchant_mrr: Mapping[str, float] = field(default_factory=dict)
    merchant_ndcg_at_10: Mapping[str, float] = field(default_factory=dict)
    retrievability: Mapping[str, NDArray[np.float64]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def product(self, product_id: str) -> ProductFindability:
        return self.products[product_id]

    def invisible_share(self, retriever: str = "hybrid") -> float:
        """The share of products in the top 10 for none of their own intents."""
        if not self.products:
            return 0.0
        flags = [
            next(s.invisible for s in p.retrievers if s.retriever == retriever)
            for p in self.products.values()
        ]
        return sum(flags) / len(flags)


def rank_of(ranking: Sequence[int], position: int) -> int | None:
    try:
        return ranking.index(position) + 1
    except ValueError:
        return None


def gini(values: Sequence[float] | NDArray[np.float64]) -> float:
    """Gini coefficient of non-negative values: 0 when all are equal, (n - 1) / n when one
    holds everything. ``G = Σ_i (2i - n - 1) x_(i) / (n Σ x)``, x sorted ascending, i from 1."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = x.size, float(x.sum())
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def _stats(retriever: str, ranks: Sequence[int | None]) -> RetrieverStats:
    found = [r for r in ranks if r is not None]
    hits = sum(1 for r in found if r <= CUTOFF)
    return RetrieverStats(
        retriever=retriever,
        recall_at_10=hits / len(ranks) if ranks else 0.0,
        mrr=sum(1.0 / r for r in found) / len(ranks) if ranks else 0.0,
        best_rank=min(found) if found else None,
        invisible=hits == 0,
    )


def audit_findability(
    index: CatalogIndex,
    queries_by_product: Mapping[str, Sequence[IntentQuery]],
    *,
    merchant_queries: Sequence[MerchantQuery] = (),
    depth: int = DEPTH,
) -> FindabilityReport:
    """Run every product's intents (and the merchant's queries) over the index in one batch."""
    texts: list[str] = []
    owners: list[int] = []
    kinds: list[str] = []
    for product_id, intents in queries_by_product.items():
        for intent in intents:
            texts.append(intent.text)
            owners.append(index.position[product_id])
            kinds.append(intent.kind)
    merchant_start = len(texts)
    texts.extend(q.text for q in merchant_queries)
    # Products of one type share their broad query ("table lamp") and many attribute ones:
    # each distinct text is searched once.
    distinct = list(dict.fromkeys(texts))
    slot = {text: i for i, text in enumerate(distinct)}
    found = index.search_many(distinct, depth)
    rankings = {r: [found[r][slot[t]] for t in texts] for r in RETRIEVERS}

    # Retrievability over the catalog's queries, each distinct query once.
    retrievability = {r: np.zeros(len(index), dtype=np.float64) for r in RETRIEVERS}
    for retriever in RETRIEVERS:
        for ranking in found[retriever]:
            retrievability[retriever][ranking[:CUTOFF]] += 1.0

    per_product: dict[int, list[QueryResult]] = {}
    above: dict[int, Counter[int]] = {}
    for row in range(merchant_start):
        owner = owners[row]
        ranks = {r: rank_of(rankings[r][row], owner) for r in RETRIEVERS}
        per_product.setdefault(owner, []).append(
            QueryResult(text=texts[row], kind=kinds[row], ranks=ranks)
        )
        hybrid = rankings["hybrid"][row]
        cut = (ranks["hybrid"] or len(hybrid) + 1) - 1
        above.setdefault(owner, Counter()).update(hybrid[: min(cut, CUTOFF)])
    # Labelled merchant queries count for the products they are labelled relevant to.
    merchant_recall: dict[str, list[float]] = {r: [] for r in RETRIEVERS}
    merchant_rr: dict[str, list[float]] = {r: [] for r in RETRIEVERS}
    merchant_ndcg: dict[str, list[float]] = {r: [] for r in RETRIEVERS}
    for offset, query in enumerate(merchant_queries):
        row = merchant_start + offset
        relevant = [index.position[p] for p in query.relevant or () if p in index.position]
        for position in relevant:
            ranks = {r: rank_of(rankings[r][row], position) for r in RETRIEVERS}
            per_product.setdefault(position, []).append(
                QueryResult(text=query.text, kind="merchant", ranks=ranks)
            )
        if relevant:
            wanted = set(relevant)
            ideal = _DISCOUNT[: min(len(wanted), CUTOFF)].sum()
            for retriever in RETRIEVERS:
                ranking = rankings[retriever][row]
                hits = [i for i, pid in enumerate(ranking) if pid in wanted]
                top = [i for i in hits if i < CUTOFF]
                merchant_recall[retriever].append(len(top) / len(wanted))
                merchant_rr[retriever].append(1.0 / (hits[0] + 1) if hits else 0.0)
                merchant_ndcg[retriever].append(float(_DISCOUNT[top].sum() / ideal))

    products: dict[str, ProductFindability] = {}
    for position, product in enumerate(index.products):
        results = tuple(per_product.get(position, ()))
        own = [q for q in results if q.kind != "merchant"]
        stats = tuple(_stats(r, [q.ranks[r] for q in own]) for r in RETRIEVERS)
        rivals = above.get(position, Counter())
        products[product.id] = ProductFindability(
            product_id=product.id,
            queries=results,
            retrievers=stats,
            outranked_by=tuple(index.products[p].id for p, _ in rivals.most_common(5)),
            invisible=next(s.invisible for s in stats if s.retriever == "hybrid"),
        )
    return FindabilityReport(
        products=products,
        gini={r: gini(retrievability[r]) for r in RETRIEVERS},
        merchant_recall_at_10={r: float(np.mean(v)) for r, v in merchant_recall.items() if v},
        merchant_mrr={r: float(np.mean(v)) for r, v in merchant_rr.items() if v},
        merchant_ndcg_at_10={r: float(np.mean(v)) for r, v in merchant_ndcg.items() if v},
        retrievability=retrievability,
    )

"""The rankings a catalog would give its queries were one product listed differently, computed
without changing the index.

Re-indexing the changed listing (``CatalogIndex.replace``) gives the same answer, since the
index merges every write before the next search, but each write rebuilds the BM25 matrix of
the whole competitive set: about 2.4 s at 100,000 products, twice per measured fix (apply,
restore). Here only what the change touches is recomputed:

- BM25: the products each query finds now (one more than the depth), and the changed
  listing, are scored as the rebuilt index would score them. The change moves the document
  frequencies of the terms it adds or drops and the average length, and with them every
  score: for a rare term, enough to reorder products (measured: a fix adding "nylon" to one of
  six nylon backpacks ranked it 6th against the index's statistics, 1st against the rebuilt
  ones). The arithmetic is bm25s's (Lucene idf, Robertson's term-frequency part, each term's
  score rounded to float32 as in its score matrix, summed in float32 in query order); a test
  holds it equal, bit for bit, to ``KeywordIndex.search`` for every product of a catalog.
  Ties go to the smaller position, as ``KeywordIndex`` orders them.
- dense: the changed listing's similarity to each query vector, scored by FAISS as the index
  scores the others, placed among them (exact for a flat index; above 20,000 products the
  others come from HNSW, as in every search).
- hybrid: the reciprocal rank fusion of those two rankings (``fuse_rankings``).

What it cannot see: a product beyond the depth now that the rescoring would lift into it.
The tests compare the result with a rebuilt index.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import faiss
import numpy as np
from numpy.typing import NDArray

from engine.surfacing.findability.index import (
    DEPTH,
    CatalogIndex,
    TermStatistics,
    fuse_rankings,
    retrieval_text,
)
from engine.surfacing.product import Product
from memory.keyword import tokenize


@dataclass(frozen=True)
class Statistics:
    """What BM25 weighs terms by in one state of an index."""

    documents: int
    average_length: float
    doc_freq: Callable[[str], int]


def current(statistics: TermStatistics) -> Statistics:
    """The index as it is."""
    frequencies = statistics.doc_freq
    return Statistics(
        documents=int(statistics.lengths.size),
        average_length=statistics.lengths.mean(),
        doc_freq=lambda term: frequencies.get(term, 0),
    )


def rebuilt(
    statistics: TermStatistics, position: int, old: Sequence[str], new: Sequence[str]
) -> Statistics:
    """The index rebuilt with the document at ``position`` tokenised as ``new``, not ``old``."""
    lengths = statistics.lengths.copy()
    lengths[position] = len(new)
    frequencies, removed, added = statistics.doc_freq, set(old), set(new)
    return Statistics(
        documents=int(lengths.size),
        # As bm25s computes it: the mean of an integer array.
        average_length=lengths.mean(),
        doc_freq=lambda term: frequencies.get(term, 0) - (term in removed) + (term in added),
    )


def bm25_score(
    query_tokens: Sequence[str],
    document_tokens: Sequence[str],
    statistics: Statistics,
    *,
    k1: float,
    b: float,
) -> float:
    """The BM25 score of a document of an index with these statistics, for a query."""
    counts = Counter(document_tokens)
    terms = [t for t in dict.fromkeys(query_tokens) if t in counts]
    if not terms:
        return 0.0
    # As bm25s builds its matrix: term frequencies and idfs as float32 arrays, the length
    # normalisation in float64, each term's score stored as float32, a query's summed in
    # float32 in query order.
    frequencies = np.array([counts[t] for t in terms], dtype=np.float32)
    idf = np.zeros(len(terms), dtype=np.float32)
    n = statistics.documents
    for i, term in enumerate(terms):
        df = statistics.doc_freq(term)
        idf[i] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    length = len(document_tokens)
    normalised = frequencies / (
        k1 * ((1 - b) + b * length / statistics.average_length) + frequencies
    )
    stored = np.zeros(len(terms), dtype=np.float32)
    stored[:] = idf * normalised
    by_term = dict(zip(terms, stored, strict=True))
    total = np.zeros(1, dtype=np.float32)
    for token in query_tokens:
        if token in by_term:
            total += by_term[token]
    return float(total[0])


def counterfactual_rankings(
    index: CatalogIndex, product: Product, queries: Sequence[str], k: int = DEPTH
) -> dict[str, list[list[int]]]:
    """Best-first positions per query for each retriever, ``k`` deep, with ``product`` (a
    new version of a listed product, same id) in place of the listed one; the index is not
    changed."""
    position = index.position[product.id]
    depth = min(k, max(1, len(index)))
    text = retrieval_text(product)
    stem = index.keyword.stem
    new_tokens = tokenize([text], stem=stem)[0]
    old_tokens = tokenize([retrieval_text(index.products[position])], stem=stem)[0]
    statistics = rebuilt(index.term_statistics(), position, old_tokens, new_tokens)
    # The products each query finds now, one more than the depth (the product's old entry
    # may be among them), rescored as the rebuilt index would score them: the changed
    # listing moves the document frequencies of its terms and the average length.
    found = [[i for i, _ in index.keyword.search(query, depth + 1)] for query in queries]
    others = sorted({i for ids in found for i in ids} - {position})
    tokens = dict(
        zip(
            others,
            tokenize([retrieval_text(index.products[i]) for i in others], stem=stem),
            strict=True,
        )
    )
    tokens[position] = new_tokens
    bm25: list[list[int]] = []
    for query, ids in zip(queries, found, strict=True):
        query_tokens = [t for t in tokenize([query], stem=stem)[0] if t]
        scored = [
            (
                i,
                bm25_score(
                    query_tokens, tokens[i], statistics, k1=index.keyword.k1, b=index.keyword.b
                ),
            )
            for i in {*ids, position}
        ]
        bm25.append([i for i, score in sorted(scored, key=_best) if score > 0][:depth])
    dense: list[list[int]] = [[] for _ in queries]
    if queries and index.dense is not None:
        dense = []
        encode = getattr(index.embedder, "encode_queries", index.embedder.encode)
        matrix: NDArray[np.float32] = np.asarray(encode(list(queries)), dtype=np.float32)
        # Scored by FAISS itself, as the index scores the others: numpy's dot product can
        # differ in the last bit and break a tie the other way (a one-vector flat index gives
        # the big one's scores bit for bit; a test holds it).
        alone = faiss.IndexFlatIP(index.dense.dimension)
        alone.add(np.asarray(index.embedder.encode([text]), dtype=np.float32).reshape(1, -1))
        similarities = alone.search(matrix, 1)[0][:, 0]
        for (near, scores), similarity in zip(
            index.dense.search(matrix, depth + 1), similarities, strict=True
        ):
            scored = [
                (int(i), float(s))
                for i, s in zip(near.tolist(), scores.tolist(), strict=True)
                if i != position
            ]
            scored.append((position, float(similarity)))
            dense.append([i for i, score in sorted(scored, key=_best) if score > 0][:depth])
    return {"bm25": bm25, "dense": dense, "hybrid": fuse_rankings(bm25, dense, depth)}


def _best(entry: tuple[int, float]) -> tuple[float, int]:
    return (-entry[1], entry[0])

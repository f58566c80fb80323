"""A changed listing's rankings, computed without changing the index, are a rebuilt index's."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from engine.surfacing.findability import RETRIEVERS, CatalogIndex, rank_of, retrieval_text
from engine.surfacing.findability.counterfactual import (
    bm25_score,
    counterfactual_rankings,
    current,
    rebuilt,
)
from engine.surfacing.findings import Fix
from memory.keyword import tokenize
from tests.unit.engine.surfacing.catalog_generator import GeneratedCatalog, generated_catalog
from tests.unit.engine.surfacing.generated import HashingEmbedder


@pytest.fixture(scope="module")
def catalog() -> GeneratedCatalog:
    return generated_catalog()


def _queries(catalog: GeneratedCatalog) -> list[str]:
    return sorted({q.text for qs in catalog.intents_by_product().values() for q in qs})


def test_the_bm25_arithmetic_is_the_keyword_indexs_bit_for_bit(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    statistics = current(index.term_statistics())
    documents = tokenize([retrieval_text(p) for p in index.products], stem=True)
    compared = 0
    for query in _queries(catalog)[::3]:
        query_tokens = [t for t in tokenize([query], stem=True)[0] if t]
        for position, score in index.keyword.search(query, len(index)):
            mine = bm25_score(query_tokens, documents[position], statistics, k1=1.5, b=0.75)
            assert mine == score, (query, position)
            compared += 1
    assert compared > 5000


def test_a_one_vector_faiss_index_scores_as_the_catalogs(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    assert index.dense is not None
    for count in (5, 40):  # FAISS's own loop below 20 queries, BLAS from 20
        matrix = embedder.encode(_queries(catalog)[:count])
        results = index.dense.search(matrix, len(index))
        for position in range(0, len(index), 29):
            alone = faiss.IndexFlatIP(embedder.dimension)
            vector = index.vector(index.products[position].id)
            assert vector is not None
            alone.add(vector.reshape(1, -1))
            scores = alone.search(matrix, 1)[0][:, 0]
            for row, (ids, found) in enumerate(results):
                hit = np.flatnonzero(ids == position)
                if hit.size:
                    assert float(found[hit[0]]) == float(scores[row])


def test_the_rankings_are_a_rebuilt_indexs_and_the_index_is_untouched(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    queries = _queries(catalog)
    before = index.search_many(queries)
    changed = catalog.planted("omits_attributes")[:4] + catalog.planted("invisible")[:3]
    changed += catalog.planted("stuffed")[:1] + catalog.clean()[::90]
    for product_id in changed:
        truth = catalog.truth[product_id]
        listed = index.products[index.position[product_id]]
        fixes = [
            Fix("attributes", {"title": f"{listed.brand} {truth.color} {truth.material} "
                               f"{truth.kind.name}"}, mechanical=True),
            Fix("rare word", {"title": f"{listed.title} zebrawood"}, mechanical=True),
            Fix("emptied", {"title": "", "description": ""}, mechanical=True),
        ]  # fmt: skip
        own = [q.text for q in catalog.true_intents(product_id)] + ["zebrawood table"]
        for fix in fixes:
            fixed = fix.apply(listed)
            found = counterfactual_rankings(index, fixed, own)
            products = list(index.products)
            products[index.position[product_id]] = fixed
            expected = CatalogIndex(products, embedder=embedder).search_many(own)
            position = index.position[product_id]
            for retriever in RETRIEVERS:
                ranks = [rank_of(r, position) for r in found[retriever]]
                assert ranks == [rank_of(r, position) for r in expected[retriever]]
            # BM25's whole ranking too. Dense rankings can differ in their last places: FAISS
            # keeps which of several products tied at the cut-off it likes (by its labels).
            assert found["bm25"] == expected["bm25"], (product_id, fix.summary)
    assert index.search_many(queries) == before
    assert index.keyword.recent_count == 0


def test_the_rebuilt_statistics_move_with_the_listing(
    catalog: GeneratedCatalog, embedder: HashingEmbedder
) -> None:
    index = CatalogIndex(catalog.products, embedder=embedder)
    statistics = index.term_statistics()
    old = ["oak", "tabl", "oak"]
    new = ["walnut", "tabl", "tabl", "tabl", "zebrawood"]
    moved = rebuilt(statistics, 0, old, new)
    assert moved.documents == statistics.lengths.size
    assert moved.doc_freq("oak") == statistics.doc_freq.get("oak", 0) - 1
    assert moved.doc_freq("walnut") == statistics.doc_freq["walnut"] + 1
    assert moved.doc_freq("tabl") == statistics.doc_freq["tabl"]
    assert moved.doc_freq("zebrawood") == 1
    lengths = statistics.lengths.copy()
    lengths[0] = 5
    assert moved.average_length == lengths.mean()
    assert index.term_statistics() is statistics  # kept until a product is replaced
    index.replace(index.products[3])
    assert index.term_statistics() is not statistics

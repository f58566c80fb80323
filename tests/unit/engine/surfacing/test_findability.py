"""Findability measured on a catalog whose truth is known (``catalog_generator``): the planted
invisible products are exactly the ones flagged, clean products are visible, the metrics are
the formulas they claim to be, and the batched search is the per-query search."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from engine.surfacing.findability import (
    DEPTH,
    RETRIEVERS,
    CatalogIndex,
    FindabilityReport,
    audit_findability,
    fuse_rankings,
    gini,
    rank_of,
    retrieval_text,
)
from engine.surfacing.findings import Fix
from engine.surfacing.impact import measure_fix
from engine.surfacing.intents import IntentQuery, MerchantQuery
from engine.surfacing.product import Product
from memory.embedding import MiniLMEmbedder
from memory.fusion import reciprocal_rank_fusion
from tests.unit.engine.surfacing.catalog_generator import GeneratedCatalog, generated_catalog
from tests.unit.engine.surfacing.generated import HashingEmbedder


@dataclasses.dataclass(frozen=True)
class Audited:
    catalog: GeneratedCatalog
    index: CatalogIndex
    report: FindabilityReport


@pytest.fixture(scope="module")
def audited(embedder: HashingEmbedder) -> Audited:
    catalog = generated_catalog()
    index = CatalogIndex(catalog.products, embedder=embedder)
    report = audit_findability(
        index, catalog.intents_by_product(), merchant_queries=catalog.merchant_queries()
    )
    return Audited(catalog, index, report)


def _stats(report: FindabilityReport, product_id: str, retriever: str) -> tuple[float, bool]:
    found = next(s for s in report.product(product_id).retrievers if s.retriever == retriever)
    return found.recall_at_10, found.invisible


# -- truth on the generated catalog ----------------------------------------------------------


def test_exactly_the_planted_invisible_products_are_flagged(audited: Audited) -> None:
    report, catalog = audited.report, audited.catalog
    planted = set(catalog.planted("invisible"))
    assert len(planted) == 10
    assert {pid for pid, p in report.products.items() if p.invisible} == planted
    for retriever in RETRIEVERS:
        assert all(_stats(report, pid, retriever)[1] for pid in planted), retriever
    assert report.invisible_share() == pytest.approx(10 / 300)


def test_clean_products_are_visible(audited: Audited) -> None:
    report, clean = audited.report, audited.catalog.clean()
    for retriever in RETRIEVERS:
        visible = np.mean([not _stats(report, pid, retriever)[1] for pid in clean])
        recall = np.mean([_stats(report, pid, retriever)[0] for pid in clean])
        print(f"{retriever}: {visible:.3f} of {len(clean)} clean visible, recall@10 {recall:.3f}")
        # Measured: every clean product is in the top 10 for at least one of its intents under
        # each retriever; mean recall@10 0.873 (BM25), 0.846 (dense), 0.865 (hybrid).
        assert visible == 1.0
        assert recall > 0.8


def test_a_listing_without_its_attributes_ranks_below_clean_ones_for_them(
    audited: Audited,
) -> None:
    report, catalog = audited.report, audited.catalog

    def attribute_rank(pid: str) -> float:
        ranks = [
            q.ranks["hybrid"] or DEPTH + 1
            for q in report.product(pid).queries
            if q.kind in ("attribute", "long_tail")
        ]
        return float(np.mean(ranks))

    clean = float(np.median([attribute_rank(pid) for pid in catalog.clean()]))
    omitted = [attribute_rank(pid) for pid in catalog.planted("omits_attributes")]
    print(f"mean attribute-query rank: clean median {clean:.2f}, omitted {sorted(omitted)}")
    assert min(omitted) > clean  # measured: 4.83 at best against a clean median of 2.50
    # Still found by what it says (its type and brand): not invisible.
    assert not any(report.product(pid).invisible for pid in catalog.planted("omits_attributes"))


def test_a_stuffed_title_takes_the_broad_query_and_outranks_its_peers(audited: Audited) -> None:
    report, catalog, index = audited.report, audited.catalog, audited.index
    for pid in catalog.planted("stuffed"):
        kind = catalog.truth[pid].kind
        rankings = index.search_many([kind.name], 10)
        for retriever in RETRIEVERS:
            assert rankings[retriever][0][0] == index.position[pid], retriever
        peers = [p.id for p in catalog.products if catalog.truth[p.id].kind == kind]
        assert all(pid in report.product(peer).outranked_by for peer in peers if peer != pid)


def test_a_wrong_category_hides_a_product_from_its_own_broad_query(audited: Audited) -> None:
    report = audited.report
    for pid in audited.catalog.planted("wrong_category"):
        broad = next(q for q in report.product(pid).queries if q.kind == "broad")
        assert broad.ranks["hybrid"] is not None
        assert broad.ranks["hybrid"] > 10


def test_retrievability_counts_top_10_places_over_the_distinct_queries(audited: Audited) -> None:
    report, catalog, index = audited.report, audited.catalog, audited.index
    texts = list(
        dict.fromkeys(
            [q.text for qs in catalog.intents_by_product().values() for q in qs]
            + [q.text for q in catalog.merchant_queries()]
        )
    )
    rankings = index.search_many(texts, DEPTH)
    for retriever in RETRIEVERS:
        r = report.retrievability[retriever]
        assert r.shape == (len(index),)
        expected = np.zeros(len(index))
        for ranking in rankings[retriever]:
            expected[ranking[:10]] += 1
        np.testing.assert_array_equal(r, expected)
        assert report.gini[retriever] == pytest.approx(gini(r))
        # Invisible products take no top-10 place of their own intents; the stuffed ones take
        # many more than the median product.
        stuffed = [r[index.position[pid]] for pid in catalog.planted("stuffed")]
        assert min(stuffed) > np.median(r)
    print({r: round(g, 3) for r, g in report.gini.items()})


def test_merchant_queries_are_scored_against_their_labelled_relevant_set(
    audited: Audited,
) -> None:
    report = audited.report
    for metrics in (report.merchant_recall_at_10, report.merchant_mrr, report.merchant_ndcg_at_10):
        assert set(metrics) == set(RETRIEVERS)
    print(
        "merchant recall@10, MRR, nDCG@10 (hybrid):",
        round(report.merchant_recall_at_10["hybrid"], 3),
        round(report.merchant_mrr["hybrid"], 3),
        round(report.merchant_ndcg_at_10["hybrid"], 3),
    )
    # The planted invisible products are relevant to their "color type" query and missed.
    assert report.merchant_recall_at_10["hybrid"] < 1.0


def test_merchant_metrics_by_hand(embedder: HashingEmbedder) -> None:
    products = [
        Product(id="a", title="red oak table oak oak"),
        Product(id="b", title="red oak table"),
        Product(id="c", title="red pine chair"),
        Product(id="d", title="blue pine chair"),
    ]
    index = CatalogIndex(products, embedder=embedder)
    query = MerchantQuery("oak", frozenset({"b", "d", "zzz"}))  # an unknown id is ignored
    bm25 = index.search_many(["oak"], DEPTH)["bm25"][0]
    assert [products[i].id for i in bm25] == ["a", "b"]  # "d" has no "oak": not ranked
    report = audit_findability(index, {}, merchant_queries=[query])
    assert report.merchant_recall_at_10["bm25"] == 0.5  # b of {b, d}
    assert report.merchant_mrr["bm25"] == 0.5  # first relevant at rank 2
    ideal = 1 + 1 / np.log2(3)
    assert report.merchant_ndcg_at_10["bm25"] == pytest.approx((1 / np.log2(3)) / ideal)
    unlabelled = audit_findability(index, {}, merchant_queries=[MerchantQuery("oak")])
    assert unlabelled.merchant_mrr == {}


# -- the formulas ------------------------------------------------------------------------------


def test_gini_is_zero_when_equal_and_near_one_when_one_product_takes_everything() -> None:
    assert gini(np.full(1000, 7.0)) == 0.0
    dominant = np.zeros(1000)
    dominant[17] = 500.0
    assert gini(dominant) == pytest.approx(0.999)  # (n - 1) / n
    assert gini([]) == 0.0
    assert gini([0, 0, 0]) == 0.0


def test_gini_is_the_mean_absolute_difference_over_twice_the_mean() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.poisson(rng.uniform(0.5, 20), size=int(rng.integers(2, 300))).astype(float)
        if x.sum() == 0:
            continue
        mad = np.abs(x[:, None] - x[None, :]).mean()
        assert gini(x) == pytest.approx(mad / (2 * x.mean()))
        assert gini(rng.permutation(x) * 3.0) == pytest.approx(gini(x))


def test_rank_of_is_one_based_and_none_beyond_the_ranking() -> None:
    assert rank_of([5, 2, 9], 5) == 1
    assert rank_of([5, 2, 9], 9) == 3
    assert rank_of([5, 2, 9], 4) is None
    assert rank_of([], 0) is None


# -- the index -------------------------------------------------------------------------------


def test_retrieval_text_is_the_listing_with_the_title_twice_and_no_bare_attributes() -> None:
    product = Product(
        id="x",
        title="Lumen lamp",
        description="A bedside lamp.",
        brand="Acme",
        product_type="Home > Table Lamps",
        highlights=("Dimmable",),
        attributes={"material": "brass"},
    )
    text = retrieval_text(product)
    assert text.split("\n") == [
        "Lumen lamp",
        "Lumen lamp",
        "Acme",
        "Home   Table Lamps",
        "Dimmable",
        "A bedside lamp.",
    ]
    assert "brass" not in text  # counted only where the listing's text says it
    assert retrieval_text(dataclasses.replace(product, brand="lumen")).count("lumen") == 0


def test_fused_rankings_are_memory_fusions_exactly() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        queries = int(rng.integers(0, 6))
        first = [rng.permutation(40)[: rng.integers(0, 15)].tolist() for _ in range(queries)]
        second = [rng.permutation(40)[: rng.integers(0, 15)].tolist() for _ in range(queries)]
        depth = int(rng.integers(1, 20))
        expected = [
            [hit.id for hit in reciprocal_rank_fusion({"bm25": a, "dense": b}, limit=depth)]
            for a, b in zip(first, second, strict=True)
        ]
        assert fuse_rankings(first, second, depth) == expected
    # Equal scores: the better single rank first, then the smaller id.
    assert fuse_rankings([[3, 1]], [[1, 3]], 5) == [[1, 3]]
    assert fuse_rankings([[7]], [[4]], 5) == [[4, 7]]


def test_batched_search_is_the_per_query_search(audited: Audited) -> None:
    index = audited.index
    queries = ["oak dining table", "navy backpack", "lumen table lamp", "???", "kiln coffee mug"]
    batch = index.search_many(queries, 20)
    for row, query in enumerate(queries):
        alone = index.search_many([query], 20)
        for retriever in RETRIEVERS:
            assert batch[retriever][row] == alone[retriever][0]
        assert batch["bm25"][row] == [i for i, _ in index.keyword.search(query, 20)]
    assert batch["bm25"][3] == batch["dense"][3] == batch["hybrid"][3] == []  # no word at all
    assert all(len(r) <= 20 for rankings in batch.values() for r in rankings)
    assert index.search_many([], 10) == {"bm25": [], "dense": [], "hybrid": []}


def test_dense_rankings_keep_positive_similarities_in_position_order_on_ties(
    embedder: HashingEmbedder,
) -> None:
    twins = [Product(id=f"t{i}", title="walnut bookcase") for i in range(4)]
    other = Product(id="o", title="glass water bottle")
    index = CatalogIndex([other, *twins], embedder=embedder)
    dense = index.search_many(["walnut bookcase"], 10)["dense"][0]
    assert dense == [1, 2, 3, 4]  # identical vectors: by position; the bottle shares no word
    for position in (3, 1):  # re-indexing moves a twin's FAISS label, not its rank
        index.replace(index.products[position], vector=index.vector(index.products[position].id))
    assert index.search_many(["walnut bookcase"], 10)["dense"][0] == [1, 2, 3, 4]


def test_replace_reindexes_one_product(audited: Audited, embedder: HashingEmbedder) -> None:
    catalog = generated_catalog(per_type=16)
    index = CatalogIndex(catalog.products, embedder=embedder)
    target = catalog.planted("invisible")[0]
    query = "halo rattan yellow table lamp zebrawood"
    assert index.position[target] not in index.search_many([query], 5)["bm25"][0]
    renamed = dataclasses.replace(index.products[index.position[target]], title=query)
    previous = index.replace(renamed)
    assert previous.id == target
    assert index.products[index.position[target]] == renamed
    for retriever in RETRIEVERS:
        assert index.search_many([query], 5)[retriever][0][0] == index.position[target]
    assert index.dense is not None
    assert len(index.keyword) == len(index.dense) == len(catalog.products)
    with pytest.raises(ValueError, match="unique"):
        CatalogIndex([renamed, renamed], embedder=embedder)


def test_the_real_minilm_finds_what_no_word_of_the_query_names(audited: Audited) -> None:
    """One test with the real model: semantic retrieval finds products by meaning, where BM25
    finds nothing; hybrid keeps what dense found."""
    catalog = generated_catalog(per_type=16)
    index = CatalogIndex(catalog.products, embedder=MiniLMEmbedder(batch_size=64, cache_size=64))
    questions = {
        "bedside light": "table lamp",
        "somewhere to keep my books": "bookcase",
        "rucksack for a weekend hike": "backpack",
    }
    found = index.search_many(list(questions), 3)
    for row, kind in enumerate(questions.values()):
        assert found["bm25"][row] == []
        for retriever in ("dense", "hybrid"):
            top = [catalog.truth[index.products[i].id].kind.name for i in found[retriever][row]]
            assert top == [kind] * 3, (retriever, top)
    # The planted invisible lamp (named only "Lumen LU-0003") is still missed by its intents.
    lamp = catalog.planted("invisible")[0]
    intents = [q for q in catalog.true_intents(lamp) if q.kind in ("attribute", "long_tail")]
    report = audit_findability(index, {lamp: intents})
    assert report.product(lamp).invisible


def test_an_empty_catalog_and_products_without_queries(embedder: HashingEmbedder) -> None:
    empty = CatalogIndex([], embedder=embedder)
    assert empty.search_many(["oak"], 10) == {"bm25": [[]], "dense": [[]], "hybrid": [[]]}
    report = audit_findability(empty, {})
    assert report.products == {}
    assert report.invisible_share() == 0.0
    one = CatalogIndex([Product(id="a", title="oak table")], embedder=embedder)
    report = audit_findability(one, {"a": (IntentQuery("oak table", "broad", "a"),)})
    assert report.product("a").queries[0].ranks == {"bm25": 1, "dense": 1, "hybrid": 1}
    silent = audit_findability(one, {})
    assert silent.product("a").invisible  # no intent at all: in no top 10


class _Refusing(HashingEmbedder):
    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        raise AssertionError("a BM25-only index embeds nothing")


def test_a_bm25_only_index_embeds_nothing_and_its_hybrid_is_bm25(audited: Audited) -> None:
    catalog = audited.catalog
    index = CatalogIndex(catalog.products, embedder=_Refusing(), dense=False)
    queries = ["oak dining table", "navy backpack", "lumen table lamp"]
    found = index.search_many(queries, 20)
    assert found["dense"] == [[], [], []]
    assert found["hybrid"] == found["bm25"] == audited.index.search_many(queries, 20)["bm25"]
    assert index.vector(catalog.products[0].id) is None
    lamp = catalog.planted("omits_attributes")[0]
    truth = catalog.truth[lamp]
    listed = index.products[index.position[lamp]]
    fix = Fix("title", {"title": f"{listed.title} {truth.material}"}, mechanical=True)
    impact = measure_fix(index, listed, fix, catalog.true_intents(lamp), retriever="bm25")
    assert impact.rank_change is not None
    assert impact.rank_change < 0

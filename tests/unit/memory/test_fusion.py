import pytest

from memory.fusion import reciprocal_rank_fusion


def test_item_ranked_by_two_retrievers_beats_one_ranked_by_one() -> None:
    hits = reciprocal_rank_fusion({"dense": [1, 2], "keyword": [3, 2]})

    assert hits[0].id == 2
    assert hits[0].score == pytest.approx(1 / 62 + 1 / 62)


def test_weights_change_the_order() -> None:
    rankings = {"dense": [10, 20], "keyword": [20, 10]}

    dense_heavy = reciprocal_rank_fusion(rankings, weights={"dense": 2.0, "keyword": 1.0})
    keyword_heavy = reciprocal_rank_fusion(rankings, weights={"dense": 1.0, "keyword": 2.0})

    assert [hit.id for hit in dense_heavy] == [10, 20]
    assert [hit.id for hit in keyword_heavy] == [20, 10]


def test_k_matters() -> None:
    # 7 is first for one retriever; 8 is second for both. A small k rewards the single top rank,
    # a large k flattens rank differences so agreement wins.
    rankings = {"dense": [7, 8], "keyword": [9, 8], "graph": [10]}

    small_k = reciprocal_rank_fusion(rankings, k=0.0)
    large_k = reciprocal_rank_fusion(rankings, k=60.0)

    assert small_k[0].id != 8
    assert large_k[0].id == 8


def test_retrievers_and_ranks_are_recorded() -> None:
    hits = reciprocal_rank_fusion({"keyword": [5, 6], "dense": [6]})

    by_id = {hit.id: hit for hit in hits}
    assert by_id[6].retrievers == ("dense", "keyword")
    assert dict(by_id[6].ranks) == {"dense": 1, "keyword": 2}
    assert by_id[5].retrievers == ("keyword",)
    assert dict(by_id[5].ranks) == {"keyword": 1}


def test_ties_are_deterministic_and_limit_applies() -> None:
    first = reciprocal_rank_fusion({"dense": [3, 1], "keyword": [1, 3]}, limit=1)
    swapped = reciprocal_rank_fusion({"keyword": [1, 3], "dense": [3, 1]}, limit=1)

    assert [hit.id for hit in first] == [1]
    assert first == swapped


def test_duplicate_id_in_one_ranking_counts_once() -> None:
    hits = reciprocal_rank_fusion({"dense": [4, 4, 5]})

    assert hits[0].id == 4
    assert hits[0].score == pytest.approx(1 / 61)
    assert dict(hits[0].ranks) == {"dense": 1}
    assert dict(hits[1].ranks) == {"dense": 3}


def test_hits_are_frozen() -> None:
    hit = reciprocal_rank_fusion({"dense": [1]})[0]

    with pytest.raises(AttributeError):
        hit.score = 2.0  # type: ignore[misc]


def test_empty_rankings_give_nothing() -> None:
    assert reciprocal_rank_fusion({}) == []
    assert reciprocal_rank_fusion({"dense": []}) == []

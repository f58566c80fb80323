import threading

import numpy as np
import pytest
from numpy.typing import NDArray

from memory.dense import DenseIndex

DIMENSION = 32


def _unit_rows(count: int, seed: int) -> NDArray[np.float32]:
    rows = np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)
    normalised: NDArray[np.float32] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normalised


def _brute_force(
    ids: NDArray[np.int64], vectors: NDArray[np.float32], query: NDArray[np.float32], k: int
) -> NDArray[np.int64]:
    return ids[np.argsort(-(vectors @ query), kind="stable")[:k]]


def test_exact_mode_equals_brute_force() -> None:
    ids = np.arange(1000, 1200, dtype=np.int64)
    vectors = _unit_rows(200, seed=1)
    index = DenseIndex(DIMENSION, exact_limit=1000)
    index.add(ids, vectors)
    queries = _unit_rows(5, seed=2)

    results = index.search(queries, k=10)

    assert index.kind == "flat"
    for query, (found_ids, scores) in zip(queries, results, strict=True):
        np.testing.assert_array_equal(found_ids, _brute_force(ids, vectors, query, 10))
        lookup = dict(zip(ids.tolist(), vectors, strict=True))
        expected = [float(lookup[i] @ query) for i in found_ids.tolist()]
        np.testing.assert_allclose(scores, expected, rtol=1e-5)


def test_crossing_exact_limit_switches_to_hnsw_with_high_recall() -> None:
    ids = np.arange(3000, dtype=np.int64) * 7
    vectors = _unit_rows(3000, seed=3)
    index = DenseIndex(DIMENSION, exact_limit=1000, hnsw_m=16, ef_search=128)
    index.add(ids[:800], vectors[:800])
    kinds = [index.kind]

    index.add(ids[800:], vectors[800:])
    kinds.append(index.kind)

    assert kinds == ["flat", "hnsw"]
    assert len(index) == 3000
    queries = _unit_rows(50, seed=4)
    k = 10
    found = 0
    for query, (found_ids, _) in zip(queries, index.search(queries, k=k), strict=True):
        found += len(set(found_ids.tolist()) & set(_brute_force(ids, vectors, query, k).tolist()))
    assert found / (k * len(queries)) >= 0.95


@pytest.mark.parametrize("exact_limit", [10_000, 100])
def test_deleted_ids_are_never_returned(exact_limit: int) -> None:
    ids = np.arange(500, dtype=np.int64)
    vectors = _unit_rows(500, seed=5)
    index = DenseIndex(DIMENSION, exact_limit=exact_limit, max_tombstone_fraction=0.9)
    index.add(ids, vectors)
    deleted = set(range(0, 500, 3))

    assert index.delete(deleted | {10_000}) == len(deleted)

    assert len(index) == 500 - len(deleted)
    # Querying with the deleted vectors themselves is the hardest case for leaking them.
    for found_ids, _ in index.search(vectors[sorted(deleted)], k=20):
        assert len(found_ids) == 20
        assert not set(found_ids.tolist()) & deleted
    assert 0 not in index


def test_tombstones_trigger_compaction_in_hnsw_mode() -> None:
    ids = np.arange(400, dtype=np.int64)
    index = DenseIndex(DIMENSION, exact_limit=100, max_tombstone_fraction=0.25)
    index.add(ids, _unit_rows(400, seed=6))
    index.delete(range(50))
    assert index.kind == "hnsw"
    assert index.tombstone_count == 50

    index.delete(range(50, 120))

    assert index.tombstone_count == 0
    assert index.ids().tolist() == list(range(120, 400))


@pytest.mark.parametrize("exact_limit", [10_000, 100])
def test_update_replaces_the_vector(exact_limit: int) -> None:
    vectors = _unit_rows(300, seed=7)
    index = DenseIndex(DIMENSION, exact_limit=exact_limit)
    index.add(np.arange(300), vectors)
    target = vectors[0]

    index.add([299], target.reshape(1, -1))

    found_ids, scores = index.search(target, k=2)[0]
    assert set(found_ids.tolist()) == {0, 299}
    np.testing.assert_allclose(scores, [1.0, 1.0], rtol=1e-5)
    assert len(index) == 300
    np.testing.assert_allclose(index.vectors([299])[0], target)


def test_last_row_wins_for_an_id_repeated_in_one_batch() -> None:
    vectors = _unit_rows(2, seed=8)
    index = DenseIndex(DIMENSION)

    index.add([5, 5], vectors)

    assert len(index) == 1
    np.testing.assert_allclose(index.vectors([5])[0], vectors[1])


@pytest.mark.parametrize("exact_limit", [10_000, 100])
def test_rebuild_keeps_the_same_results(exact_limit: int) -> None:
    ids = np.arange(600, dtype=np.int64) + 50
    vectors = _unit_rows(600, seed=9)
    queries = _unit_rows(10, seed=10)
    index = DenseIndex(DIMENSION, exact_limit=exact_limit)
    index.add(ids, vectors)
    before = index.search(queries, k=5)

    index.rebuild(ids, vectors)
    after = index.search(queries, k=5)

    assert index.kind == ("flat" if exact_limit > 600 else "hnsw")
    for (ids_before, scores_before), (ids_after, scores_after) in zip(before, after, strict=True):
        np.testing.assert_array_equal(ids_before, ids_after)
        np.testing.assert_allclose(scores_before, scores_after, rtol=1e-5)


@pytest.mark.parametrize("exact_limit", [10_000, 100])
def test_allowed_ids_filter(exact_limit: int) -> None:
    ids = np.arange(400, dtype=np.int64)
    vectors = _unit_rows(400, seed=11)
    index = DenseIndex(DIMENSION, exact_limit=exact_limit)
    index.add(ids, vectors)
    allowed = set(range(100, 400, 5))
    query = _unit_rows(1, seed=12)[0]

    found_ids, _ = index.search(query, k=5, allowed_ids=allowed | {9999})[0]

    allowed_array = np.array(sorted(allowed), dtype=np.int64)
    expected = _brute_force(allowed_array, vectors[allowed_array], query, 5)
    np.testing.assert_array_equal(found_ids, expected)
    assert index.search(query, k=5, allowed_ids={9999})[0][0].size == 0


def test_empty_index_and_memory_report() -> None:
    index = DenseIndex(DIMENSION, exact_limit=50)
    assert index.search(_unit_rows(1, seed=13), k=3)[0][0].size == 0
    empty_bytes = index.memory_bytes()

    index.add(np.arange(100), _unit_rows(100, seed=14))

    assert index.memory_bytes() >= empty_bytes + 100 * DIMENSION * 4
    assert index.ids().tolist() == list(range(100))


def test_rejects_wrong_shapes() -> None:
    index = DenseIndex(DIMENSION)

    with pytest.raises(ValueError, match="dimension"):
        index.add([1, 2], _unit_rows(3, seed=15))
    with pytest.raises(ValueError, match="shape"):
        index.search(np.zeros((1, DIMENSION + 1), dtype=np.float32), k=1)


@pytest.mark.parametrize("exact_limit", [10_000, 100])
def test_stored_vectors_and_filtered_search_follow_updates_and_deletes(exact_limit: int) -> None:
    # Deletes shift FAISS's flat storage rows and updates add new labels in HNSW mode: the
    # vectors handed back, and the exact scan over an allowed set, must still be each id's own.
    ids = np.arange(300, dtype=np.int64) * 3
    vectors = _unit_rows(300, seed=21)
    index = DenseIndex(DIMENSION, exact_limit=exact_limit)
    index.add(ids, vectors)
    query = _unit_rows(1, seed=22)[0]
    replacement = _unit_rows(20, seed=23)
    index.add(ids[100:120], replacement)
    vectors[100:120] = replacement
    index.vectors(ids[:5].tolist())  # caches the row layout that the delete below changes
    index.delete(ids[10:40].tolist())
    live = np.concatenate([ids[:10], ids[40:]])
    expected_vectors = np.concatenate([vectors[:10], vectors[40:]])

    np.testing.assert_array_equal(index.vectors(live[::-1].tolist()), expected_vectors[::-1])
    allowed = set(live[::4].tolist()) | set(ids[10:40].tolist())
    found_ids, scores = index.search(query, k=8, allowed_ids=allowed)[0]
    np.testing.assert_array_equal(
        found_ids, _brute_force(live[::4], expected_vectors[::4], query, 8)
    )
    np.testing.assert_allclose(
        scores, expected_vectors[::4][np.searchsorted(live[::4], found_ids)] @ query, rtol=1e-5
    )
    with pytest.raises(KeyError):
        index.vectors([ids[20]])


@pytest.mark.parametrize("exact_limit", [10_000, 500])
def test_searches_during_writes_see_consistent_vectors(exact_limit: int) -> None:
    # A FAISS insert can reallocate the storage that a concurrent search reads; unguarded, this
    # crashed the process within a few batches. Each id keeps one vector (updates rewrite it),
    # so a hit's score must always equal its stored vector times the query.
    table = _unit_rows(9000, seed=20)
    index = DenseIndex(DIMENSION, exact_limit=exact_limit, hnsw_m=8, max_tombstone_fraction=0.05)
    index.add(np.arange(1000), table[:1000])
    stop = threading.Event()
    failures: list[str] = []
    searched = [0, 0]

    def search_repeatedly(slot: int) -> None:
        queries = _unit_rows(8, seed=30 + slot)
        while not stop.is_set():
            for query, (ids, scores) in zip(queries, index.search(queries, k=20), strict=True):
                if not np.allclose(table[ids] @ query, scores, atol=1e-5):
                    failures.append(f"scores of {ids.tolist()} do not match their vectors")
                try:
                    stored = index.vectors(ids.tolist())
                except KeyError:
                    continue  # deleted since the search
                if not np.array_equal(stored, table[ids]):
                    failures.append(f"stored vectors of {ids.tolist()} are not theirs")
            searched[slot] += 1

    readers = [threading.Thread(target=search_repeatedly, args=(slot,)) for slot in (0, 1)]
    for reader in readers:
        reader.start()
    try:
        for batch in range(40):
            new = np.arange(1000 + 200 * batch, 1200 + 200 * batch)
            index.add(new, table[new])
            updated = new[:50] - 100
            index.add(updated, table[updated])
            index.delete(range(int(new[0]) - 400, int(new[0]) - 380))
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []
    assert min(searched) > 0
    assert len(index) == 9000 - 40 * 20

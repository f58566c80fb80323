import importlib
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from memory import keyword
from memory.keyword import KeywordIndex, tokenize

DOCS = {
    1: "Quarterly revenue grew after the television campaign launched",
    2: "The paid search budget was cut in March",
    3: "Customers churned when the loyalty program ended",
    4: "Television advertising lifted brand awareness in the north region",
}


def _index() -> KeywordIndex:
    index = KeywordIndex()
    index.add(list(DOCS), list(DOCS.values()))
    return index


def test_tokenize_lowercases_and_drops_stopwords() -> None:
    assert tokenize(["The Budget was CUT"]) == [["budget", "cut"]]


def test_tokenize_keeps_surface_words_unless_asked_to_stem() -> None:
    assert tokenize(["The campaigns painted"]) == [["campaigns", "painted"]]
    assert tokenize(["The campaigns painted"], stem=True) == [["campaign", "paint"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("campaigns", 1), ("campaigning", 1), ("painted", 5), ("painting", 5), ("painter", 6)],
)
def test_stemming_matches_inflections_in_documents_and_queries(query: str, expected: int) -> None:
    index = _index()
    index.add([5, 6], ["She likes to paint landscapes", "Two painters at the fence"])

    assert [memory_id for memory_id, _ in index.search(query, k=10)] == [expected]


def test_without_stemming_only_surface_forms_match() -> None:
    index = KeywordIndex(stem=False)
    index.add([1, 2], ["the television campaign", "campaigns on radio"])

    assert [memory_id for memory_id, _ in index.search("campaigns", k=5)] == [2]
    assert index.search("painted", k=5) == []


def test_deleted_inflected_documents_are_never_returned() -> None:
    index = KeywordIndex()
    index.add([1, 2, 3], ["painted a mural", "paints portraits", "budget review"])
    assert {memory_id for memory_id, _ in index.search("painting", k=10)} == {1, 2}

    assert index.delete([1]) == 1

    assert [memory_id for memory_id, _ in index.search("painting", k=10)] == [2]


def test_update_drops_the_old_stems() -> None:
    index = KeywordIndex()
    index.add([1, 2], ["campaigns launched", "budget review"])
    index.add([1], ["painted a mural"])

    assert index.search("campaign", k=5) == []
    assert [memory_id for memory_id, _ in index.search("paints", k=5)] == [1]


def test_exact_term_match_ranks_first() -> None:
    hits = _index().search("loyalty program", k=3)

    assert hits[0][0] == 3
    assert all(score > 0 for _, score in hits)
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)


def test_only_documents_with_a_query_term_are_returned() -> None:
    hits = _index().search("television", k=10)

    assert {memory_id for memory_id, _ in hits} == {1, 4}


def test_deleted_documents_are_never_returned() -> None:
    index = _index()
    assert index.search("television", k=10)

    assert index.delete([1, 4, 99]) == 2

    assert index.search("television", k=10) == []
    assert 1 not in index
    assert len(index) == 2


def test_update_replaces_the_text() -> None:
    index = _index()
    index.add([2], ["Radio spots replaced paid search"])

    assert [memory_id for memory_id, _ in index.search("radio", k=5)] == [2]
    assert index.search("march", k=5) == []


def test_empty_index_returns_nothing() -> None:
    index = KeywordIndex()

    assert index.search("anything", k=5) == []
    index.add([1], ["something"])
    index.delete([1])
    assert index.search("something", k=5) == []


def test_query_of_stopwords_or_unknown_terms_returns_nothing() -> None:
    index = _index()

    assert index.search("the was in", k=5) == []
    assert index.search("zeppelin", k=5) == []


def test_allowed_ids_filter() -> None:
    hits = _index().search("television", k=10, allowed_ids={4, 2})

    assert [memory_id for memory_id, _ in hits] == [4]


def test_rebuild_replaces_contents_and_k_limits() -> None:
    index = _index()
    index.rebuild([10, 11, 12], ["budget cut", "budget grew", "budget flat"])

    hits = index.search("budget", k=2)

    assert len(hits) == 2
    assert {memory_id for memory_id, _ in hits} <= {10, 11, 12}
    assert index.ids().tolist() == [10, 11, 12]
    assert index.memory_bytes() > 0


def test_ties_beyond_k_go_to_the_smaller_ids() -> None:
    index = KeywordIndex()
    ids = [41, 7, 99, 3, 56, 12, 80, 25]
    index.add(ids, ["budget review"] * len(ids))
    index.add([500], ["budget budget budget"])

    hits = index.search("budget", k=4)

    assert [memory_id for memory_id, _ in hits] == [500, 3, 7, 12]
    assert hits[0][1] > hits[1][1] == hits[3][1]


def test_top_k_uses_numpy_not_jax(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(scores: np.ndarray, k: int) -> None:
        raise AssertionError("JAX top-k reached from the keyword search")

    monkeypatch.setattr(importlib.import_module("bm25s.selection"), "_topk_jax", refuse)
    monkeypatch.setattr(importlib.import_module("bm25s.selection"), "JAX_IS_AVAILABLE", True)
    index = KeywordIndex()
    index.add(list(range(20)), [f"budget review {'budget ' * (i % 5)}" for i in range(20)])

    hits = index.search("budget", k=3)

    assert [memory_id for memory_id, _ in hits] == [4, 9, 14]


def test_document_of_only_stopwords_is_indexable() -> None:
    index = KeywordIndex()
    index.add([1, 2], ["the and of", "budget"])

    assert [memory_id for memory_id, _ in index.search("budget", k=5)] == [2]


def test_index_whose_documents_have_no_terms_returns_nothing() -> None:
    index = KeywordIndex()
    index.add([1], ["the and of"])

    assert index.search("the budget", k=5) == []


# -- segments: recent writes, merges -------------------------------------------------------------


def _fresh_ranking(texts: dict[int, str], query: str) -> list[tuple[int, float]]:
    index = KeywordIndex()
    index.add(list(texts), list(texts.values()))
    return index.search(query, k=20)


def _built_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    build = keyword._Segment.build

    def recording(documents: Mapping[int, list[str]], *, k1: float, b: float) -> Any:
        sizes.append(len(documents))
        return build(documents, k1=k1, b=b)

    monkeypatch.setattr(keyword._Segment, "build", staticmethod(recording))
    return sizes


def test_writes_after_the_first_search_rebuild_only_the_recent_segment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes = _built_sizes(monkeypatch)
    index = KeywordIndex(merge_floor=100)
    index.add(list(range(1, 41)), [f"weekly report number {i}" for i in range(1, 41)])
    index.search("report", k=5)
    index.add([41], ["television budget note"])
    index.add([3], ["radio budget note"])  # an update of a main-segment document
    index.delete([4, 41])

    hits = dict(index.search("budget", k=10))

    assert sizes == [40, 1]  # the main segment once, then the one live recent document
    assert list(hits) == [3]
    assert index.search("number 3", k=1)[0][0] != 3  # its old text is masked in the main
    assert 4 not in dict(index.search("report", k=50))
    assert index.recent_count == 3


def test_merge_in_the_search_path_folds_recent_writes_into_exact_scores() -> None:
    index = KeywordIndex(merge_floor=2, merge_fraction=0.01, background_merge=False)
    texts = {i: f"budget review {'budget ' * (i % 4)} week {i}" for i in range(1, 31)}
    index.add(list(texts), list(texts.values()))
    index.search("budget", k=3)
    for memory_id in (31, 32, 33):
        texts[memory_id] = f"budget budget budget budget budget note {memory_id}"
        index.add([memory_id], [texts[memory_id]])
    del texts[5]
    index.delete([5])

    merged = index.search("budget", k=20)

    assert index.recent_count == 0
    assert merged == _fresh_ranking(texts, "budget")


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Holds every background merge before it builds, until the test sets the event."""
    gate = threading.Event()
    build = keyword._Segment.build

    def slow_in_the_merge_thread(documents: Mapping[int, list[str]], *, k1: float, b: float) -> Any:
        if threading.current_thread().name == "bm25-merge":
            assert gate.wait(timeout=30)
        return build(documents, k1=k1, b=b)

    monkeypatch.setattr(keyword._Segment, "build", staticmethod(slow_in_the_merge_thread))
    return gate


def test_background_merge_keeps_writes_made_while_it_ran(release: threading.Event) -> None:
    index = KeywordIndex(merge_floor=3, merge_fraction=0.01)
    texts = {i: f"campaign summary {i}" for i in range(1, 21)}
    index.add(list(texts), list(texts.values()))
    index.search("campaign", k=1)
    for memory_id in (21, 22, 23, 24):
        texts[memory_id] = f"campaign launch {memory_id}"
        index.add([memory_id], [texts[memory_id]])
    index.search("campaign", k=1)  # past the threshold: the merge starts and blocks
    texts[25] = "campaign launch late"
    index.add([25], [texts[25]])
    del texts[2]
    index.delete([2])
    during = {memory_id for memory_id, _ in index.search("campaign", k=50)}

    release.set()
    index.wait_for_merge()

    assert during == set(texts)
    assert index.recent_count == 2  # 25 and 2, written after the merge's snapshot
    assert {memory_id for memory_id, _ in index.search("campaign", k=50)} == set(texts)
    assert index.search("late", k=5)[0][0] == 25


def test_a_merge_of_contents_replaced_by_rebuild_is_dropped(release: threading.Event) -> None:
    index = KeywordIndex(merge_floor=1, merge_fraction=0.01)
    index.add([1, 2], ["old budget", "old budget plan"])
    index.search("budget", k=1)
    index.add([3, 4], ["old budget memo", "old budget list"])
    index.search("budget", k=1)  # starts a merge of the old contents
    index.rebuild([10], ["new budget"])
    assert [memory_id for memory_id, _ in index.search("budget", k=5)] == [10]

    release.set()
    index.wait_for_merge()

    assert [memory_id for memory_id, _ in index.search("budget", k=5)] == [10]


def test_rejects_bad_merge_settings() -> None:
    with pytest.raises(ValueError, match="merge_fraction"):
        KeywordIndex(merge_fraction=0)
    with pytest.raises(ValueError, match="merge_floor"):
        KeywordIndex(merge_floor=-1)


@pytest.mark.parametrize("query", ["x", "a", "!!", "the"])
def test_query_without_an_indexable_word_returns_nothing(query: str) -> None:
    index = KeywordIndex()
    index.add([1, 2], ["weekly budget review", "x"])

    assert index.search(query, k=5) == []

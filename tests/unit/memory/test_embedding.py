import numpy as np
import pytest

from memory.embedding import Embedder, MiniLMEmbedder


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=2, cache_size=2)


def test_is_an_embedder_with_minilm_dimension(embedder: MiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dimension == 384
    assert embedder.name == "all-MiniLM-L6-v2"


def test_rows_are_unit_norm_float32_in_input_order(embedder: MiniLMEmbedder) -> None:
    texts = ["TV spend rose in May", "Churn fell after the loyalty launch", "Hello", "x"]

    rows = embedder.encode(texts)

    assert rows.shape == (4, 384)
    assert rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(embedder.encode(texts[2:3])[0], rows[2], atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_paraphrase_scores_higher_than_unrelated(embedder: MiniLMEmbedder) -> None:
    anchor, paraphrase, unrelated = embedder.encode(
        [
            "The advertising budget was reduced last quarter.",
            "Last quarter we cut our marketing spend.",
            "My cat likes to sleep on the warm windowsill.",
        ]
    )

    assert float(anchor @ paraphrase) > float(anchor @ unrelated) + 0.2


def test_query_cache_returns_identical_vectors_and_counts_hits() -> None:
    embedder = MiniLMEmbedder(cache_size=2)

    first = embedder.encode_query("weekly revenue by channel")
    second = embedder.encode_query("weekly revenue by channel")

    np.testing.assert_array_equal(first, second)
    assert embedder.cache_info() == (1, 1, 1)
    np.testing.assert_allclose(first, embedder.encode(["weekly revenue by channel"])[0], atol=1e-5)
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 0.0


def test_query_cache_evicts_least_recently_used(embedder: MiniLMEmbedder) -> None:
    hits, misses, _ = embedder.cache_info()
    batch = embedder.encode_queries(["a query", "b query", "a query"])
    np.testing.assert_array_equal(batch[0], batch[2])
    embedder.encode_query("a query")  # refreshes "a", so "b" is the eviction victim
    embedder.encode_query("c query")
    embedder.encode_query("a query")
    embedder.encode_query("b query")

    new_hits, new_misses, size = embedder.cache_info()
    assert size == 2
    assert (new_hits - hits, new_misses - misses) == (2, 4)


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        MiniLMEmbedder(batch_size=0)

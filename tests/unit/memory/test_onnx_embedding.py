from pathlib import Path

import numpy as np
import pytest

from memory import onnx_embedding
from memory.embedding import Embedder, MiniLMEmbedder
from memory.onnx_embedding import (
    OnnxMiniLMEmbedder,
    OnnxModelFiles,
    OnnxPrecision,
    ensure_onnx_minilm,
)

# Lengths differ on purpose so every batch is padded; the last text changes topic after ~150
# tokens and runs past 256, so truncating at 128 (tokenizer.json's setting) or not at all shows.
SENTENCES = [
    "Hi",
    "TV spend rose in May.",
    "Churn fell sharply after the loyalty programme launched in the northern stores.",
    "Caroline said she went to the LGBTQ support group yesterday and it was really powerful, "
    "especially hearing the stories of people who had moved away from home to start again.",
    "The advertising budget was reduced last quarter.",
    "The quarterly marketing report covers TV, radio and paid search spend. " * 12
    + "My cat sleeps on the warm windowsill every afternoon. " * 20,
]


@pytest.fixture(scope="module")
def cache_dir(onnx_cache_dir: Path) -> Path:
    return onnx_cache_dir


@pytest.fixture(scope="module")
def exported(cache_dir: Path) -> OnnxModelFiles:
    return ensure_onnx_minilm(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def reference(minilm: MiniLMEmbedder) -> np.ndarray:
    return minilm.encode(SENTENCES)


@pytest.fixture(scope="module")
def fp32(exported: OnnxModelFiles, cache_dir: Path) -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(precision="fp32", cache_dir=cache_dir, workers=1)


@pytest.fixture(scope="module")
def int8(exported: OnnxModelFiles, cache_dir: Path) -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(cache_dir=cache_dir, cache_size=2, workers=1)


def test_export_writes_both_graphs_into_the_cache_dir(
    exported: OnnxModelFiles, cache_dir: Path
) -> None:
    assert exported.directory.parent == cache_dir
    assert exported.directory.name.startswith("all-MiniLM-L6-v2-")
    assert exported.is_complete()
    # int8 weights are a quarter of fp32; a much smaller ratio would mean nothing was quantised.
    assert exported.int8.stat().st_size < 0.35 * exported.fp32.stat().st_size
    assert [p.name for p in cache_dir.iterdir()] == [exported.directory.name]


def test_cached_export_is_reused_without_exporting_again(
    exported: OnnxModelFiles, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object) -> None:
        raise AssertionError("re-exported although the cache was warm")

    monkeypatch.setattr(onnx_embedding, "_export_fp32", fail)
    monkeypatch.setattr(onnx_embedding, "_quantise_int8", fail)

    assert ensure_onnx_minilm(cache_dir=cache_dir) == exported


@pytest.mark.parametrize(
    ("precision", "min_cosine"), [(OnnxPrecision.FP32, 0.98), (OnnxPrecision.INT8, 0.95)]
)
def test_rows_are_unit_norm_and_match_sentence_transformers(
    exported: OnnxModelFiles,
    cache_dir: Path,
    reference: np.ndarray,
    precision: OnnxPrecision,
    min_cosine: float,
) -> None:
    embedder = OnnxMiniLMEmbedder(precision=precision, cache_dir=cache_dir, workers=2)

    rows = embedder.encode(SENTENCES)

    assert isinstance(embedder, Embedder)
    assert embedder.dimension == 384
    assert embedder.name == f"all-MiniLM-L6-v2-onnx-{precision.value}"
    assert rows.shape == (len(SENTENCES), 384)
    assert rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    cosines = np.sum(rows * reference, axis=1)
    assert cosines.min() > min_cosine, cosines


def test_fp32_is_exact_to_the_reference_including_truncated_text(
    fp32: OnnxMiniLMEmbedder, reference: np.ndarray
) -> None:
    rows = fp32.encode(SENTENCES)

    # Catches padding leaking into the mean or truncating at the tokenizer file's 128 tokens.
    np.testing.assert_allclose(rows, reference, atol=1e-4)


def test_batching_by_length_keeps_input_order(fp32: OnnxMiniLMEmbedder) -> None:
    fp32.batch_size = 2
    rows = fp32.encode(SENTENCES)

    for position in (0, 3, 5):
        alone = fp32.encode([SENTENCES[position]])[0]
        np.testing.assert_allclose(alone, rows[position], atol=1e-5)
    assert fp32.encode([]).shape == (0, 384)


def test_int8_vector_depends_on_its_text_alone(int8: OnnxMiniLMEmbedder) -> None:
    # int8 scales activations per call; one text per call keeps a rebuilt index bit-identical to
    # the live one whatever texts were stored alongside.
    rows = int8.encode(SENTENCES)

    alone = np.vstack([int8.encode([sentence])[0] for sentence in SENTENCES])
    np.testing.assert_array_equal(rows, alone)
    np.testing.assert_array_equal(int8.encode(SENTENCES[::-1])[::-1], rows)


def test_workers_share_one_session_and_keep_input_order(
    exported: OnnxModelFiles, cache_dir: Path, fp32: OnnxMiniLMEmbedder
) -> None:
    texts = [f"{sentence} (variant {number})" for number in range(5) for sentence in SENTENCES]
    parallel = OnnxMiniLMEmbedder(precision="fp32", cache_dir=cache_dir, batch_size=3, workers=3)
    try:
        rows = parallel.encode(texts)
    finally:
        parallel.close()

    np.testing.assert_allclose(rows, fp32.encode(texts), atol=1e-5)


def test_query_cache_evicts_least_recently_used(int8: OnnxMiniLMEmbedder) -> None:
    hits, misses, _ = int8.cache_info()
    batch = int8.encode_queries(["a query", "b query", "a query"])
    np.testing.assert_array_equal(batch[0], batch[2])
    assert float(batch[1] @ int8.encode(["b query"])[0]) > 0.97
    int8.encode_query("a query")  # refreshes "a", so "b" is the eviction victim
    int8.encode_query("c query")
    int8.encode_query("a query")
    int8.encode_query("b query")

    new_hits, new_misses, size = int8.cache_info()
    assert size == 2
    assert (new_hits - hits, new_misses - misses) == (2, 4)
    with pytest.raises(ValueError, match="read-only"):
        int8.encode_query("a query")[0] = 0.0


def test_rejects_bad_settings(cache_dir: Path, exported: OnnxModelFiles) -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        OnnxMiniLMEmbedder(precision="fp32", cache_dir=cache_dir, batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be 1 for int8"):
        OnnxMiniLMEmbedder(cache_dir=cache_dir, batch_size=8)
    with pytest.raises(ValueError, match="workers"):
        OnnxMiniLMEmbedder(cache_dir=cache_dir, workers=0)
    with pytest.raises(ValueError, match="intra_op_threads"):
        OnnxMiniLMEmbedder(cache_dir=cache_dir, intra_op_threads=0)
    with pytest.raises(ValueError, match="int4"):
        OnnxMiniLMEmbedder(cache_dir=cache_dir, precision="int4")

from pathlib import Path
from typing import Any

import pytest

from memory.embedders import EMBEDDER_NAMES, build_embedder
from memory.onnx_embedding import OnnxMiniLMEmbedder, OnnxPrecision


@pytest.mark.parametrize(
    ("name", "precision", "batch_size"),
    [("onnx-int8", OnnxPrecision.INT8, 1), ("onnx-fp32", OnnxPrecision.FP32, 16)],
)
def test_onnx_names_build_the_matching_precision(
    onnx_cache_dir: Path, name: Any, precision: OnnxPrecision, batch_size: int
) -> None:
    embedder = build_embedder(name, cache_dir=onnx_cache_dir, cache_size=3)

    assert isinstance(embedder, OnnxMiniLMEmbedder)
    assert embedder.precision is precision
    assert embedder.batch_size == batch_size
    assert embedder.files.directory.parent == onnx_cache_dir
    assert embedder.cache_info() == (0, 0, 0)


def test_unknown_name_is_refused_with_the_choices() -> None:
    assert EMBEDDER_NAMES == ("onnx-int8", "onnx-fp32", "minilm")
    with pytest.raises(ValueError, match=r"unknown embedder 'bert'.*onnx-int8, onnx-fp32, minilm"):
        build_embedder("bert")  # type: ignore[arg-type]

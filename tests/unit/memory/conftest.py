"""One MiniLM for every memory test: loading it is the slow part."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.embedding import MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=32, cache_size=256)


@pytest.fixture(scope="session")
def onnx_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export for every test that needs one: exporting takes seconds."""
    return tmp_path_factory.mktemp("onnx-cache")

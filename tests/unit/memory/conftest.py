"""One MiniLM for every memory test: loading it is the slow part."""

from __future__ import annotations

import pytest

from memory.embedding import MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=32, cache_size=256)

"""Fixtures of the surfacing tests (the doubles themselves are in ``generated``)."""

from __future__ import annotations

import pytest

from tests.unit.engine.surfacing.generated import HashingEmbedder


@pytest.fixture(scope="session")
def embedder() -> HashingEmbedder:
    return HashingEmbedder()

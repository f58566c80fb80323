"""The stored form: the canonical frame as Parquet, re-read."""

from __future__ import annotations

import pytest

from engine.causal.canonical import canonicalise
from engine.causal.data import DataError
from engine.causal.storage import from_parquet, to_parquet
from tests.unit.engine.causal.uploads import table


def test_parquet_round_trip() -> None:
    dataset = canonicalise(table(geos=("a", "b")))
    again = from_parquet(to_parquet(dataset))
    assert again.frame.equals(dataset.frame)
    assert again.summary() == dataset.summary()
    with pytest.raises(DataError) as info:
        from_parquet(b"PAR1 then garbage")
    assert info.value.field == "file"

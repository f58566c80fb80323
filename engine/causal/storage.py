"""The stored form of a dataset: its canonical frame as Parquet."""

from __future__ import annotations

import io

from engine.causal.canonical import CanonicalDataset, canonicalise
from engine.causal.tables import read_table


def to_parquet(dataset: CanonicalDataset) -> bytes:
    """The stored form: the canonical frame (frequency and roles are re-derived on reading)."""
    buffer = io.BytesIO()
    dataset.frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def from_parquet(content: bytes) -> CanonicalDataset:
    """Read a stored dataset; re-validation is cheap because the columns are already typed."""
    return canonicalise(read_table(content, filename="dataset.parquet"))

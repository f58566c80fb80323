"""Moved to :mod:`engine.surfacing.impact`; re-exported here so that existing imports keep
working until they move."""

from engine.surfacing.impact import (
    FixImpact,
    RankedFix,
    expected_gain,
    measure_fix,
    rank_fixes,
)

__all__ = [
    "FixImpact",
    "RankedFix",
    "expected_gain",
    "measure_fix",
    "rank_fixes",
]

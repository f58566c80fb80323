"""Moved to :mod:`engine.surfacing.ctr`; re-exported here so that existing imports keep
working until they move."""

from engine.surfacing.ctr import (
    CLICK_SHARE,
    SOURCE,
    click_share,
)

__all__ = [
    "CLICK_SHARE",
    "SOURCE",
    "click_share",
]

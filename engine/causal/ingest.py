"""Transitional, the lead removes it: re-exports for deployments/causal/pipeline.py only.

The upload path now lives in tables (reading), canonical (validation), storage (Parquet),
periods (date ranges, lift tests) and selection (model input). pipeline.py still imports
these seven names from here until it is switched to those modules; nothing else may.
"""

from engine.causal.canonical import CanonicalDataset
from engine.causal.periods import LiftTestInput, parse_date_range
from engine.causal.selection import ModelInput, to_geo_panel, to_model_input
from engine.causal.storage import from_parquet

# Transitional, the lead removes it: the names deployments/causal/pipeline.py imports.
__all__ = [
    "CanonicalDataset",
    "LiftTestInput",
    "ModelInput",
    "from_parquet",
    "parse_date_range",
    "to_geo_panel",
    "to_model_input",
]

"""Everything a finished analysis answers, as one typed value: what is stored with a model and
what the API returns of it.

``incremental_roas`` is the headline answer: the ROAS of each channel over the window the
question was about (``window``) when one was asked, else over the whole fit window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.causal.analysis import Analysis, Interval
from engine.causal.inference import Diagnostics, GeoChannelRoas
from engine.causal.window import WindowAnswer


@dataclass(frozen=True)
class FittedData:
    """What the model was fitted on: the KPI, the periods (holdout included) and the inputs."""

    kpi: str
    frequency: str
    start: date
    end: date
    periods: int
    geos: tuple[str, ...]
    fit_periods: int  # periods in the likelihood; the rest were held out
    channels: tuple[str, ...]
    controls: tuple[str, ...]
    lift_tests: int


@dataclass(frozen=True)
class VariantRow:
    """One candidate of a variant search and how well it predicted the held-out periods."""

    variant: str
    holdout_mape: float | None
    max_rhat: float | None
    converged: bool
    chosen: bool


@dataclass(frozen=True)
class ModelResult:
    incremental_roas: dict[str, Interval]
    diagnostics: Diagnostics
    data: FittedData
    geo_roas: tuple[GeoChannelRoas, ...]
    analysis: Analysis
    variant_search: tuple[VariantRow, ...] | None
    window: WindowAnswer | None = None

    @property
    def converged(self) -> bool:
        return self.diagnostics.converged

"""Request and response bodies of the causal API (storage rows live in cluster.repositories)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from engine.calendar.dimension import CalendarField
from engine.causal.analysis import Interval
from engine.causal.canonical import DatasetSummary
from engine.causal.inference import Diagnostics
from engine.causal.optimize import BudgetPlan, ChannelPlan
from engine.causal.results import ModelResult
from engine.causal.spec import ModelSpec, RoasPrior
from engine.causal.window import WindowAnswer

ChannelName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$", min_length=1, max_length=40)
]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- datasets -------------------------------------------------------------------------------


SourceColumn = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class DatasetRowsRequest(_Request):
    """A dataset sent as JSON rows (see docs/causal-data.md): in the canonical shape, or with the
    roles of its columns named below (engine.causal.roles.ColumnRoles; each role left out
    follows the naming convention)."""

    name: str = Field(min_length=1, max_length=200)
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=200_000)
    date_column: SourceColumn | None = Field(default=None, description="default: `date`")
    geo_column: SourceColumn | None = Field(default=None, description="default: `geo` if present")
    kpi_column: SourceColumn | None = Field(
        default=None, description="the KPI column, stored as `kpi`; default: revenue, conversions"
    )
    kpi: Literal["revenue", "conversions"] | None = Field(
        default=None, description="what `kpi_column` holds: revenue (default) or conversions"
    )
    # Channel names are checked by the engine (ColumnRoles), whose 422 names the field alone.
    spend_columns: (
        Annotated[list[SourceColumn], Field(max_length=200)]
        | Annotated[dict[SourceColumn, SourceColumn], Field(max_length=200)]
        | None
    ) = Field(
        default=None,
        description="the media spend columns: a list (channels named after the columns) or "
        "{channel: column}; default: the spend_<channel> columns",
    )
    attributed_columns: (
        Annotated[dict[SourceColumn, SourceColumn], Field(max_length=200)] | None
    ) = Field(
        default=None,
        description="{channel: column} of platform-claimed value; default: attributed_<channel>",
    )
    control_columns: Annotated[list[SourceColumn], Field(max_length=200)] | None = Field(
        default=None,
        description="exactly the controls (other columns are left out); default: every column "
        "without another role",
    )


class DatasetOut(_Response):
    id: uuid.UUID
    name: str
    source: str
    frequency: Literal["daily", "weekly"]
    summary: DatasetSummary
    content_sha256: str
    created_at: datetime


class DatasetList(_Response):
    items: list[DatasetOut]


# --- analysis -------------------------------------------------------------------------------


class DateRangeIn(_Request):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateRangeIn:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class RoasPriorIn(_Request):
    median: float = Field(gt=0, le=1e6, description="prior median ROAS (KPI per unit spent)")
    spread: float = Field(
        default=2.5, gt=1, le=100, description="multiplicative spread: ~2/3 of mass in m/s..m*s"
    )


class ModelSpecIn(_Request):
    """The model's choices; defaults suit weekly data. See engine.causal.spec.ModelSpec."""

    adstock: Literal["geometric", "weibull"] = "geometric"
    max_lag: int | None = Field(
        default=None,
        ge=1,
        le=52,
        description="carry-over length in periods; default 8 for weekly data, 21 for daily",
    )
    saturation: Literal["hill", "logistic"] = "hill"
    roas_prior: RoasPriorIn = RoasPriorIn(median=1.0)
    channel_roas_priors: dict[ChannelName, RoasPriorIn] = Field(default_factory=dict)
    trend: bool = True
    seasonality_order: int = Field(default=2, ge=0, le=10)
    holdout_periods: int = Field(
        default=0,
        ge=0,
        le=520,
        description="the last periods left out of the fit and scored out of sample "
        "(`diagnostics.holdout_mape`); default 0: every period is fitted, so answers about "
        "the latest periods come from their data rather than from extrapolation",
    )


class FitIn(_Request):
    chains: int = Field(default=4, ge=1, le=8)
    warmup: int = Field(default=1000, ge=20, le=10_000)
    samples: int = Field(default=1000, ge=20, le=10_000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    target_accept: float = Field(default=0.95, ge=0.5, le=0.99)


class LiftTestIn(_Request):
    """An experiment: the channel's measured incremental KPI over ``start..end`` (inclusive)."""

    channel: ChannelName
    start: date
    end: date
    incremental_kpi: float = Field(ge=-1e12, le=1e12)
    standard_error: float = Field(gt=0, le=1e12)

    @model_validator(mode="after")
    def _ordered(self) -> LiftTestIn:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class VariantSearchIn(_Request):
    """Compare model variants with Ray Tune by out-of-sample error and keep the best."""

    adstocks: list[Literal["geometric", "weibull"]] = Field(
        default=["geometric", "weibull"], min_length=1, max_length=2
    )
    saturations: list[Literal["hill", "logistic"]] = Field(
        default=["hill", "logistic"], min_length=1, max_length=2
    )
    roas_prior_medians: list[float] = Field(
        default=[1.0], min_length=1, max_length=5, description="ROAS prior sets to compare"
    )
    holdout_periods: int = Field(default=13, ge=4, le=104)
    warmup: int = Field(default=300, ge=20, le=5000)
    samples: int = Field(default=300, ge=20, le=5000)
    chains: int = Field(default=2, ge=1, le=8)


PeriodIn = Annotated[
    str | DateRangeIn,
    Field(
        description='"2024", "2024-Q1", "2024-H2", "2024-03", "2024-W05", "2024-03-05", '
        '"2024-01-01..2024-03-31" or {"start", "end"}'
    ),
]


class AnalyzeRequest(_Request):
    dataset_id: uuid.UUID | None = Field(
        default=None,
        description="default: the organisation's most recent dataset that has every channel in "
        "`channels` (its most recent dataset when `channels` is not given)",
    )
    channels: list[ChannelName] | None = Field(
        default=None, min_length=1, max_length=50, description="default: every spend channel"
    )
    date_range: PeriodIn | None = Field(
        default=None,
        description="the periods the answers are about (`incremental_roas` and `window`); the "
        "model is fitted on the whole history, or on `fit_range`. Default: the fit window",
    )
    fit_range: PeriodIn | None = Field(
        default=None, description="the periods the model is fitted on; default: all of them"
    )
    wait_seconds: float = Field(
        default=60,
        ge=0,
        le=300,
        description="wait this long for the fit: if it finishes in time the answer is 200 with "
        "the model (`incremental_roas` at the top level), otherwise 202 with the job to poll; "
        "0 returns the job at once",
    )
    model_type: Literal["bayesian_structural"] = "bayesian_structural"
    kpi: Literal["revenue", "conversions"] = "revenue"
    controls: list[ColumnName] | None = Field(
        default=None,
        max_length=50,
        description="default: every numeric column that is neither a channel nor the KPI",
    )
    calendar_controls: bool = Field(
        default=True, description="add holiday and retail-event controls from the calendar"
    )
    country: str = Field(default="US", pattern=r"^[A-Z]{2,3}$")
    subdivision: str | None = Field(default=None, min_length=1, max_length=10)
    lift_tests: list[LiftTestIn] = Field(default_factory=list, max_length=100)
    lift_test_spend_slack: bool = Field(
        default=True,
        description="for each channel with a lift test, add its spend as a linear control so "
        "the experiment can correct a confounded estimate (engine/causal/calibration.py)",
    )
    geo_hierarchy: bool = Field(
        default=False,
        description="fit each geo of a geo dataset with partial pooling of channel effects "
        "(national answers are sums over geos; per-geo ROAS in result.geo_roas)",
    )
    spec: ModelSpecIn = ModelSpecIn()
    fit: FitIn = FitIn()
    search: VariantSearchIn | None = Field(
        default=None, description="compare variants first (Ray Tune) and fit the best one"
    )

    @model_validator(mode="after")
    def _short_periods(self) -> AnalyzeRequest:
        for name in ("date_range", "fit_range"):
            value = getattr(self, name)
            if isinstance(value, str) and len(value) > 30:
                raise ValueError(f"{name}: expected a period such as 2024-Q1")
        return self


class JobOut(_Response):
    id: uuid.UUID
    kind: str
    dataset_id: uuid.UUID | None
    status: Literal["queued", "running", "succeeded", "failed"]
    stage: str
    progress: float
    attempts: int
    error: str | None
    model_id: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobAccepted(_Response):
    job_id: uuid.UUID
    dataset_id: uuid.UUID = Field(description="the dataset being fitted (chosen if not given)")
    status: str
    status_url: str
    message: str


class JobList(_Response):
    items: list[JobOut]


class RoasPriorOut(_Response):
    median: float
    spread: float


class ModelSpecOut(_Response):
    """The model that was fitted (engine.causal.spec.ModelSpec documents every field)."""

    adstock: str
    max_lag: int
    saturation: str
    roas_prior: RoasPriorOut
    channel_roas_priors: dict[str, RoasPriorOut]
    trend: bool
    trend_knots: int
    seasonality_order: int
    seasonality_period: float
    holdout_periods: int
    unseen_history: bool
    roas_pooling: float
    geo_roas_spread: float

    @classmethod
    def of(cls, spec: ModelSpec) -> ModelSpecOut:
        def prior(p: RoasPrior) -> RoasPriorOut:
            return RoasPriorOut(median=p.median, spread=p.spread)

        return cls(
            **{
                f.name: getattr(spec, f.name)
                for f in dataclasses.fields(spec)
                if f.name not in ("roas_prior", "channel_roas_priors")
            },
            roas_prior=prior(spec.roas_prior),
            channel_roas_priors={k: prior(v) for k, v in spec.channel_roas_priors.items()},
        )


class ModelOut(_Response):
    id: uuid.UUID
    dataset_id: uuid.UUID | None
    job_id: uuid.UUID | None
    created_at: datetime
    converged: bool
    request: AnalyzeRequest
    spec: ModelSpecOut
    incremental_roas: dict[str, Interval] = Field(
        description="each channel's ROAS over `date_range` when one was asked, else over the "
        "fit window: mean, median and 90 % credible interval"
    )
    diagnostics: Diagnostics
    window: WindowAnswer | None = Field(
        description="the answers about `date_range`: spend, incremental KPI and ROAS per channel"
    )
    result: ModelResult = Field(description="every answer of the fit (see docs/causal.md)")
    charts: list[str]
    report_url: str


class ModelSummary(_Response):
    id: uuid.UUID
    dataset_id: uuid.UUID | None
    created_at: datetime
    converged: bool
    incremental_roas: dict[str, Interval]


class ModelList(_Response):
    items: list[ModelSummary]


# --- budget -----------------------------------------------------------------------------------


class Bounds(_Request):
    min: float = Field(default=0.0, ge=0)
    max: float | None = Field(default=None, ge=0)


class OptimizeRequest(_Request):
    model_id: uuid.UUID
    total_budget: float = Field(gt=0, le=1e13, description="spend over the horizon, all channels")
    horizon_periods: int = Field(default=13, ge=1, le=520)
    bounds: dict[ChannelName, Bounds] = Field(default_factory=dict)
    locked: dict[ChannelName, float] = Field(
        default_factory=dict, description="channels held at this spend over the horizon"
    )
    current: dict[ChannelName, float] | None = Field(
        default=None, description="current plan over the horizon; default: recent average spend"
    )
    risk_quantile: float | None = Field(
        default=None, gt=0, lt=0.5, description="maximise this posterior quantile instead"
    )


class BudgetPlanOut(_Response):
    """engine.causal.optimize.BudgetPlan for one stored model."""

    model_id: uuid.UUID
    converged: bool = Field(description="whether the model's fit converged")
    total_budget: float
    horizon_periods: int
    objective: str
    credible_mass: float
    channels: list[ChannelPlan]
    current_total: float
    current_kpi: Interval
    current_unscaled_kpi: Interval
    optimal_kpi: Interval
    lift: Interval
    lift_percent: Interval
    optimizer_converged: bool
    optimizer_message: str

    @classmethod
    def of(cls, plan: BudgetPlan, *, model_id: uuid.UUID, converged: bool) -> BudgetPlanOut:
        values = {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)}
        return cls(model_id=model_id, converged=converged, **values)


# --- temporal EDA ---------------------------------------------------------------------------


class SeriesPoint(_Request):
    date: date
    value: float = Field(allow_inf_nan=False)


class TemporalEdaRequest(_Request):
    """A KPI series, given inline or as a stored dataset's KPI column (summed over geos)."""

    series: list[SeriesPoint] | None = Field(default=None, min_length=1, max_length=20_000)
    dataset_id: uuid.UUID | None = None
    kpi: Literal["revenue", "conversions"] = "revenue"
    frequency: Literal["daily", "weekly"] | None = Field(
        default=None, description="inferred from the dates when omitted"
    )
    country: str = Field(default="US", min_length=2, max_length=3)
    subdivision: str | None = Field(default=None, min_length=1, max_length=10)
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="false-discovery rate")
    confidence: float = Field(default=0.95, gt=0.5, lt=1, description="interval level")

    @model_validator(mode="after")
    def _one_source(self) -> TemporalEdaRequest:
        if (self.series is None) == (self.dataset_id is None):
            raise ValueError("give exactly one of series or dataset_id")
        return self


CalendarCell = str | int | float | bool | None


class CalendarSchema(_Response):
    fields: list[CalendarField]


class CalendarTable(_Response):
    """The calendar dimension as JSON: one object per day, and what each column means."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    data: list[dict[str, CalendarCell]]
    table_schema: CalendarSchema = Field(alias="schema")

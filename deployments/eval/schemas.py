"""Request and response bodies of the eval API (storage rows live in cluster.repositories.eval).

Statistics cross the API as the engine computes them (``engine.eval.results`` and
``engine.eval.scoring``): every estimate with its n and interval, never a bare rate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from engine.eval.assertions import AssertionResult
from engine.eval.grading import DEFAULT_METRICS, METRICS
from engine.eval.results import EvalSummary
from engine.eval.scoring import GateCheck, SandboxSummary
from engine.eval.stats import Interval, McNemar, PairedDifference, SequentialResult

ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,99}$")]
SuiteName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
AgentName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Metric = Literal[
    "accuracy", "safety", "pass_rate", "score", "latency", "cost", "bleu", "chrf", "rouge"
]
VarValue = (
    Annotated[str, StringConstraints(max_length=20_000)]
    | bool
    | int
    | float
    | list[Annotated[str, StringConstraints(max_length=2000)]]
)
BUILTIN_AGENTS = ("equal_split", "repeat", "optimizer", "thompson")
RESERVED_AGENT = "reference"

assert set(METRICS) == set(Metric.__args__)  # type: ignore[attr-defined]  # one list of metrics


def _default_metrics() -> list[Metric]:
    return list(DEFAULT_METRICS)  # type: ignore[arg-type]  # the same names, checked above


def _default_agents() -> list[AgentName | AgentIn]:
    return list(BUILTIN_AGENTS)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- evaluations ------------------------------------------------------------------------------


class AssertionIn(_Request):
    type: str = Field(max_length=50, description="equals, contains, regex, is-json, similar, …")
    value: Any = None
    threshold: float | None = None
    weight: float = Field(default=1.0, ge=0, le=1000)


class TestCaseIn(_Request):
    input: str | None = Field(
        default=None,
        max_length=20_000,
        validation_alias=AliasChoices("input", "prompt", "question"),
        description="the prompt's {{ input }} (also accepted as prompt or question)",
    )
    vars: dict[str, VarValue] = Field(default_factory=dict, max_length=50)
    expected: str | None = Field(
        default=None,
        max_length=20_000,
        validation_alias=AliasChoices("expected", "expected_output", "answer"),
        description="what a correct output contains (also accepted as expected_output or answer)",
    )
    match: Literal["contains", "icontains", "equals", "regex", "similar"] = Field(
        default="icontains", description="how the output is held against expected"
    )
    references: list[Annotated[str, StringConstraints(max_length=20_000)]] = Field(
        default_factory=list, max_length=10, description="for bleu, chrf and rouge"
    )
    context: str | None = Field(
        default=None, max_length=200, description="cases sharing a context are clustered"
    )
    description: str = Field(default="", max_length=500)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    assert_: list[AssertionIn] = Field(default_factory=list, alias="assert", max_length=30)

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    @model_validator(mode="after")
    def _has_input(self) -> TestCaseIn:
        if self.input is None and not self.vars:
            raise ValueError("give input or vars")
        return self


class GenerationOptions(_Request):
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1, le=8192)
    seed: int | None = Field(default=0, ge=0, le=2**31 - 1, description="passed to the model")
    judge_model: ModelName | None = Field(
        default=None, description="the configured model that grades llm-rubric assertions"
    )


class EvaluateRequest(GenerationOptions):
    """The seed's ``POST /api/v1/evaluate``: cases through one model (or several)."""

    model_type: ModelName = Field(description="the org's configured model to evaluate")
    models: list[ModelName] = Field(
        default_factory=list, max_length=9, description="more models, compared with model_type"
    )
    test_cases: list[
        TestCaseIn | Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    ] = Field(
        min_length=1,
        max_length=2000,
        description="cases as objects, or plain strings (each one the case's input)",
    )
    metrics: list[Metric] = Field(default_factory=_default_metrics, min_length=1)
    prompt: str = Field(
        default="{{ input }}",
        min_length=1,
        max_length=20_000,
        description="Jinja text each case fills ({{ input }} and its vars)",
    )
    platform: str | None = Field(default=None, max_length=50)
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")


class BenchmarkRequest(GenerationOptions):
    """The seed's ``POST /api/v1/benchmark``: a suite through several models."""

    models: list[ModelName] = Field(
        default_factory=list, max_length=10, description="default: the suite's models"
    )
    evaluation_suite: SuiteName = Field(description="the org's suite or a built-in one")
    suite_version: int | None = Field(default=None, ge=1, description="default: the latest")


class PlannedRun(_Request):
    """What a queued evaluation runs, fixed when it is accepted (stored with the run)."""

    kind: Literal["evaluate", "benchmark"]
    models: list[ModelName]
    suite: dict[str, Any]  # the suite document (engine.eval.suites), snapshotted
    metrics: list[Metric] | None  # None: the suite as written
    options: GenerationOptions
    principal_kind: Literal["user", "api_key"]
    principal_id: uuid.UUID
    role: str
    plan: str


class RunAccepted(_Response):
    run_id: uuid.UUID
    kind: str
    status: str
    cases_total: int
    status_url: str
    message: str


class CaseResultOut(_Response):
    model: str
    case_index: int
    description: str
    cluster: str
    prompt_template: str
    prompt_version: int | None
    seed: int | None
    variables: dict[str, Any]
    output: str
    error: str | None
    checks: dict[str, bool]
    scores: dict[str, float]
    assertions: list[AssertionResult]
    generation_id: uuid.UUID | None
    provider_model: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latency_ms: float | None


class RunOut(_Response):
    id: uuid.UUID
    kind: str
    suite_name: str | None
    suite_version: int | None
    status: str
    stage: str
    progress: float
    cases_total: int
    cases_done: int
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: EvalSummary | SandboxSummary | None
    cases: list[CaseResultOut] = Field(description="per-case detail (paged: limit, offset)")
    report_url: str | None


class RunListItem(_Response):
    id: uuid.UUID
    kind: str
    suite_name: str | None
    suite_version: int | None
    status: str
    progress: float
    cases_total: int
    cases_done: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class RunList(_Response):
    items: list[RunListItem]


# --- suites -----------------------------------------------------------------------------------


class SuiteIn(_Request):
    source: str | None = Field(
        default=None, max_length=2_000_000, description="the suite file's text (YAML or JSON)"
    )
    suite: dict[str, Any] | None = Field(default=None, description="the suite as a JSON object")

    @model_validator(mode="after")
    def _one(self) -> SuiteIn:
        if (self.source is None) == (self.suite is None):
            raise ValueError("give exactly one of source or suite")
        return self


class SuiteOut(_Response):
    id: uuid.UUID | None
    name: str
    version: int
    kind: str
    description: str
    builtin: bool
    cases: int
    models: list[str]
    created_at: datetime | None
    suite: dict[str, Any]


class SuiteList(_Response):
    items: list[SuiteOut]


# --- sandbox ----------------------------------------------------------------------------------


class AgentIn(_Request):
    name: AgentName = Field(description="how results name it")
    type: Literal["equal_split", "repeat", "optimizer", "thompson", "llm", "http", "module"]
    model: ModelName | None = Field(default=None, description="llm: the configured model")
    instructions: str | None = Field(
        default=None, max_length=5000, description="llm: the strategy it is told to follow"
    )
    url: str | None = Field(default=None, max_length=2000, description="http: where to POST")
    module: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]{1,48}[a-z0-9]$",
        description="module: the org's registered module that answers",
    )
    path: str = Field(
        default="/act", pattern=r"^/[A-Za-z0-9_./{}-]{0,200}$", description="module: its endpoint"
    )
    timeout_s: float = Field(default=30.0, gt=0, le=120)

    @model_validator(mode="after")
    def _needs(self) -> AgentIn:
        if self.name == RESERVED_AGENT:
            raise ValueError(f"'{RESERVED_AGENT}' is the name of the per-draw reference")
        if self.type == "llm" and self.model is None:
            raise ValueError("an llm agent needs model")
        if self.type == "http" and self.url is None:
            raise ValueError("an http agent needs url")
        if self.type == "module" and self.module is None:
            raise ValueError("a module agent needs module (a registered module's name)")
        return self


class ConstraintsIn(_Request):
    total_budget: float | None = Field(
        default=None, gt=0, le=1e13, description="over the episode; default: the fit's pace"
    )
    channel_caps: dict[str, Annotated[float, Field(ge=0, le=1e12)]] = Field(
        default_factory=dict, max_length=200, description="per period"
    )
    max_change: float | None = Field(default=None, ge=0, le=100)
    blackout: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=200
    )


class AuctionIn(_Request):
    """Paid-search channels bought through a second-price auction (engine.eval.auction)."""

    channels: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        min_length=1, max_length=50
    )
    auctions: int = Field(default=200, ge=1, le=2000, description="queries per period")
    competitors: int = Field(default=3, ge=1, le=50)
    spread: float = Field(default=0.5, ge=0, le=5, description="sd of a competitor's log bid")
    pressure: list[Annotated[float, Field(gt=0, le=100)]] = Field(
        default_factory=list,
        max_length=520,
        description="competitors' bid multiplier per period, cycled (e.g. a surge: [1, 1, 2])",
    )
    share_at_history: float = Field(default=0.5, gt=0, lt=1)


class SandboxRunRequest(_Request):
    model_id: uuid.UUID = Field(description="a fitted causal model of this org")
    agents: list[AgentName | AgentIn] = Field(
        default_factory=_default_agents,
        min_length=1,
        max_length=8,
        description="built-in names, or agents described in full",
    )
    episodes: int = Field(default=200, ge=1, le=20_000)
    periods: int = Field(default=52, ge=1, le=520)
    constraints: ConstraintsIn = Field(default_factory=ConstraintsIn)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    season: int = Field(default=52, ge=1, le=520)
    kpi_value: float = Field(default=1.0, gt=0, le=1e9, description="money per KPI unit")
    pass_regret: float = Field(default=0.02, ge=0, le=1)
    k: int = Field(default=4, ge=1, le=100)
    platform_claims: bool = Field(
        default=True, description="inflate reported conversions by the fit's claims ratio"
    )
    auction: AuctionIn | None = Field(
        default=None, description="buy these channels through a second-price auction"
    )


class StoredSandboxRun(_Request):
    """A sandbox run as stored: the request with its agents spelled out."""

    request: SandboxRunRequest
    agents: list[AgentIn]
    total_budget: float
    principal_kind: Literal["user", "api_key"]
    principal_id: uuid.UUID
    role: str
    plan: str


class SandboxCompareRequest(_Request):
    run_id: uuid.UUID
    a: AgentName
    b: AgentName
    sequential: bool = Field(default=False, description="O'Brien-Fleming alpha spending over looks")
    looks: int = Field(default=5, ge=2, le=20)
    alpha: float = Field(
        default=0.05, gt=0, lt=0.5, description="of the fixed test (the sequential one spends 0.05)"
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class ComparisonOut(_Response):
    run_id: uuid.UUID
    a: str
    b: str
    episodes: int
    profit: PairedDifference | None
    sequential: SequentialResult | None
    passes: McNemar
    winner: str | None
    statistically_tied: bool
    conclusion: str


class Thresholds(_Request):
    max_regret: float | None = Field(default=0.05, ge=0, le=100)
    max_violation_rate: float | None = Field(default=0.0, ge=0, le=1)
    min_pass_hat_k: float | None = Field(default=None, ge=0, le=1)


class GateRequest(_Request):
    agent: AgentName
    thresholds: Thresholds = Field(default_factory=Thresholds)
    run_id: uuid.UUID | None = Field(
        default=None, description="default: the newest sandbox run that played the agent"
    )


class GateOut(_Response):
    agent: str
    run_id: uuid.UUID
    passed: bool
    checks: list[GateCheck]
    episodes: int
    regret: Interval | None
    pass_hat_k: float

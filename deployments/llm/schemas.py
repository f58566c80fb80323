"""Request and response bodies of the LLM API (storage rows live in cluster.repositories.llm).

Money crosses the API as decimal strings ("0.000412500"), never floats: a cost a client adds
up must equal the cost stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from engine.llm.leaderboard import Metric

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,99}$")]
TemplateName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Price = Annotated[Decimal, Field(ge=0, le=100_000, max_digits=20, decimal_places=9)]
ShortText = Annotated[str, StringConstraints(max_length=500)]
VariableValue = (
    Annotated[str, StringConstraints(max_length=5000)]
    | bool
    | int
    | float
    | list[Annotated[str, StringConstraints(max_length=2000)]]
)
ProviderKindName = Literal["openai", "anthropic", "cohere", "huggingface", "local"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- providers ------------------------------------------------------------------------------


class ModelConfigIn(_Request):
    name: Name = Field(description='the name requests use: "gpt-4", "claude-3", "my-model"')
    provider_model: str = Field(min_length=1, max_length=200, description="the provider's id")
    input_usd_per_mtok: Price | None = Field(
        default=None, description="USD per million input tokens; default: the price table's"
    )
    output_usd_per_mtok: Price | None = None
    cached_input_usd_per_mtok: Price | None = None
    cache_write_usd_per_mtok: Price | None = None
    usd_per_second: Price | None = Field(default=None, description="self-hosted: per second")
    fallbacks: list[Name] = Field(
        default_factory=list, max_length=5, description="models tried in order when this fails"
    )


class ProviderIn(_Request):
    name: Name
    kind: ProviderKindName
    base_url: str | None = Field(
        default=None,
        max_length=500,
        description="the provider's API root; for OpenAI-compatible servers e.g. "
        "http://vllm:8000/v1",
    )
    api_key: SecretStr | None = Field(default=None, max_length=1000)
    models: list[ModelConfigIn] = Field(min_length=1, max_length=50)


class ModelOut(_Response):
    name: str
    provider_model: str
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    cached_input_usd_per_mtok: Decimal | None
    cache_write_usd_per_mtok: Decimal | None
    usd_per_second: Decimal | None
    price_source: str = Field(description='"org" or "table:<version>"')
    fallbacks: list[str]


class ProviderOut(_Response):
    id: uuid.UUID
    name: str
    kind: ProviderKindName
    base_url: str | None
    api_key_configured: bool
    api_key_hint: str | None = Field(description="the key's last four characters, never more")
    simulated: bool = Field(description="true for the deterministic local provider")
    models: list[ModelOut]
    created_at: datetime


class ProviderList(_Response):
    providers: list[ProviderOut]


# --- templates ------------------------------------------------------------------------------


class VariableIn(_Request):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,63}$")]
    type: Literal["string", "integer", "number", "boolean", "list"] = "string"
    required: bool = True
    description: str = Field(default="", max_length=500)
    max_length: int = Field(default=2000, ge=1, le=5000)
    default: VariableValue | None = None


class TemplateIn(_Request):
    name: TemplateName
    purpose: Literal[
        "ad_copy", "email", "seo_meta", "product_description", "chatbot_reply", "social_post"
    ]
    language: Language = "en"
    system: str = Field(default="", max_length=10_000)
    user: str = Field(min_length=1, max_length=20_000)
    variables: list[VariableIn] = Field(default_factory=list, max_length=50)
    default_platform: str | None = Field(default=None, max_length=50)
    label: Literal["production", "staging"] | None = None


class VariableOut(_Response):
    name: str
    type: str
    required: bool
    description: str
    max_length: int
    default: VariableValue | None


class TemplateOut(_Response):
    name: str
    language: str
    version: int
    purpose: str
    system: str
    user: str
    variables: list[VariableOut]
    default_platform: str | None
    label: str | None
    source: Literal["org", "builtin"]
    created_at: datetime | None


class TemplateList(_Response):
    templates: list[TemplateOut]


# --- generation -----------------------------------------------------------------------------


class GenerateIn(_Request):
    """The seed's body (``template``, ``product``, ``target_audience``, ``platform``, ``model``)
    and what a real campaign needs on top."""

    template: TemplateName = "ad_copy"
    product: str | None = Field(default=None, min_length=1, max_length=5000)
    target_audience: str | None = Field(default=None, max_length=500)
    platform: str | None = Field(
        default=None,
        max_length=50,
        description="google_ads, meta (facebook_ads, instagram), tiktok, email, seo or generic; "
        "default: the template's",
    )
    model: Name | None = Field(default=None, description="default: the org's first model")
    language: Language = "en"
    variants: int = Field(default=1, ge=1, le=5)
    stream: bool = False
    variables: dict[Annotated[str, StringConstraints(max_length=64)], VariableValue] = Field(
        default_factory=dict, max_length=30
    )
    template_version: int | None = Field(default=None, ge=1)
    template_label: Literal["production", "staging"] | None = None
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=16, le=8192)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    remember: bool = Field(default=False, description="also store a content_generation memory")


class UsageOut(_Response):
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int


class ViolationOut(_Response):
    field: str
    index: int | None
    rule: str
    limit: int | None
    actual: int | None
    hard: bool
    message: str


class AttemptOut(_Response):
    model: str
    provider_model: str
    error: str | None
    message: str | None
    waited_s: float


class TemplateRef(_Response):
    name: str
    language: str
    version: int
    source: Literal["org", "builtin"]


class GenerationOut(_Response):
    id: uuid.UUID
    variant: int
    model: str
    provider_kind: str
    provider_model: str
    simulated: bool = Field(description="true when the deterministic local provider wrote it")
    cached: bool
    template: TemplateRef
    task: str
    platform: str
    output: str
    content: dict[str, list[str]] | None
    violations: list[ViolationOut]
    repaired: bool
    usage: UsageOut
    cost_usd: Decimal
    price_source: str
    latency_ms: float
    ttft_ms: float | None
    finish_reason: str
    attempts: list[AttemptOut]
    created_at: datetime | None


class GenerateOut(_Response):
    generations: list[GenerationOut]
    total_cost_usd: Decimal
    request_id: str


class GenerationList(_Response):
    generations: list[GenerationOut]


# --- outcomes and leaderboard -----------------------------------------------------------------


class OutcomeIn(_Request):
    impressions: int = Field(default=0, ge=0, le=10**12)
    clicks: int = Field(default=0, ge=0, le=10**12)
    conversions: int = Field(default=0, ge=0, le=10**12)
    revenue_usd: Price = Decimal(0)
    source: str = Field(default="api", min_length=1, max_length=50)
    external_id: str | None = Field(
        default=None, max_length=200, description="the report's id: a replay is stored once"
    )
    quality: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="a rating of the generation in [0, 1] (a reviewer's score, a judge "
        "model's grade); the leaderboard's quality metric ranks on it",
    )


class OutcomeOut(_Response):
    id: uuid.UUID
    generation_id: uuid.UUID
    impressions: int
    clicks: int
    conversions: int
    revenue_usd: Decimal
    source: str
    external_id: str | None
    quality: float | None
    created_at: datetime
    replayed: bool


class IntervalOut(_Response):
    low: float
    high: float
    level: float


class LeaderboardEntry(_Response):
    model: str
    template: str | None
    estimate: float | None
    interval: IntervalOut | None
    n: int
    successes: int | None
    rank: int | None
    tied_with: list[str]
    generations: int
    impressions: int
    clicks: int
    conversions: int
    cost_usd: Decimal


class LeaderboardOut(_Response):
    task: str
    metric: Metric
    level: float
    prior: str
    definition: str
    entries: list[LeaderboardEntry]


# --- compare --------------------------------------------------------------------------------


class CaseIn(_Request):
    product: str = Field(min_length=1, max_length=5000)
    target_audience: str | None = Field(default=None, max_length=500)
    platform: str | None = Field(default=None, max_length=50)
    language: Language = "en"
    variables: dict[Annotated[str, StringConstraints(max_length=64)], VariableValue] = Field(
        default_factory=dict, max_length=30
    )
    references: list[Annotated[str, StringConstraints(max_length=5000)]] = Field(
        default_factory=list, max_length=10
    )


class CompareIn(_Request):
    models: list[Name] = Field(min_length=1, max_length=6)
    task: str = Field(default="ad_copy", min_length=1, max_length=50)
    metrics: list[Annotated[str, StringConstraints(max_length=50)]] = Field(
        default_factory=list, max_length=20
    )
    cases: list[CaseIn] | None = Field(
        default=None, max_length=20, description="default: the task's built-in briefs"
    )
    max_tokens: int = Field(default=512, ge=16, le=8192)


class MeasuredRate(_Response):
    estimate: float | None
    interval: IntervalOut | None
    n: int
    note: str | None


class QualityOut(_Response):
    bleu: float | None
    chrf: float | None
    rouge_l: float | None
    cases_with_references: int


class ModelComparison(_Response):
    model: str
    outputs: list[GenerationOut]
    errors: list[str]
    constraint_pass_rate: float | None
    cost_usd: Decimal
    cost_per_output_usd: Decimal | None
    cost_per_token_usd: Decimal | None
    latency_ms_p50: float | None
    similarity_to_brief: float | None
    quality: QualityOut | None
    conversion_rate: MeasuredRate
    engagement: MeasuredRate
    bertscore: float | None
    bertscore_note: str


class PairedOut(_Response):
    metric: str
    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    difference: float
    interval: list[float]
    level: float
    p_value: float


class CompareOut(_Response):
    task: str
    metrics: list[str]
    cases: int
    models: list[ModelComparison]
    comparisons: list[PairedOut]
    notes: list[str]


# --- budgets --------------------------------------------------------------------------------


class BudgetIn(_Request):
    scope: Literal["org", "api_key", "model"]
    target: str | None = Field(default=None, max_length=200)
    period: Literal["day", "month"]
    limit_usd: Price


class BudgetOut(_Response):
    scope: str
    target: str | None
    period: str
    limit_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal
    resets_at: datetime
    updated_at: datetime


class BudgetList(_Response):
    budgets: list[BudgetOut]


class UsageDayOut(_Response):
    day: str
    api_key_id: uuid.UUID | None
    model: str
    template: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


class UsageOutList(_Response):
    usage: list[UsageDayOut]

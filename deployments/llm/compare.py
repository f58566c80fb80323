"""``POST /models/compare``: the same briefs through each model, side by side.

Every output is a real generation (stored and priced like any other, inside the org's
budgets). Per model: the outputs, the share passing the platform's limits, cost per output and
per token, median latency, similarity of each output to its brief (the memory module's
embedder), reference-based quality where the cases bring references (sacrebleu BLEU and chrF,
ROUGE-L with a Unicode-aware tokenizer, BERTScore with the locally installed MiniLM), and the
conversion rate and engagement (CTR) measured from outcomes reported for that model's earlier
generations of the task. Models are compared pairwise on the same cases with a paired
bootstrap.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from itertools import combinations
from typing import Any

from cluster.repositories import llm as repo
from deployments.common.errors import ApiError
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.llm import service
from deployments.llm.providers import AdapterPool
from engine.llm.bertscore import BertScore, packaged_model
from engine.llm.leaderboard import ArmStats, Metric, rank_arms
from engine.llm.quality import corpus_scores, paired_bootstrap

KNOWN_METRICS = (
    "constraint_pass_rate",
    "cost_per_token",
    "cost_per_output",
    "latency",
    "similarity",
    "quality",
    "bleu",
    "chrf",
    "rouge_l",
    "conversion_rate",
    "engagement",
    "ctr",
    "bertscore",
)
NO_BERTSCORE_MODEL = (
    "not computed: no BERTScore model is installed here, and LiftOS never downloads one at run time"
)
NO_REFERENCES = "not computed: BERTScore needs cases with references"


@dataclass(frozen=True)
class Case:
    product: str
    target_audience: str | None
    platform: str | None
    language: str
    variables: dict[str, object]
    references: tuple[str, ...]


@lru_cache(maxsize=1)
def default_cases() -> tuple[Case, ...]:
    text = resources.files("engine").joinpath("llm/data/briefs.json").read_text("utf-8")
    return tuple(
        Case(b["product"], b.get("target_audience"), None, "en", {}, ())
        for b in json.loads(text)["briefs"]
    )


def _embedder() -> Any:
    from memory.embedders import shared_embedder

    return shared_embedder("onnx-int8")


def _similarities(pairs: Sequence[tuple[str, str]]) -> list[float]:
    if not pairs:
        return []
    embedder = _embedder()
    outputs = embedder.encode([p[0] for p in pairs])
    briefs = embedder.encode([p[1] for p in pairs])
    return [float(x) for x in (outputs * briefs).sum(axis=1)]


@lru_cache(maxsize=1)
def _bertscore() -> BertScore | None:
    model = packaged_model()
    return BertScore(model) if model else None


def bertscore_note(scored: bool) -> str:
    scorer = _bertscore()
    if scorer is None:
        return NO_BERTSCORE_MODEL
    return scorer.model.description if scored else NO_REFERENCES


def _bertscores(
    runs: Sequence[ModelRun], cases: Sequence[Case]
) -> dict[str, list[float | None]] | None:
    """Per model, each case's BERTScore F1 (None where the case has no reference or failed)."""
    scorer = _bertscore()
    jobs = [
        (run.model, index, row.output, case.references)
        for run in runs
        for index, (row, case) in enumerate(zip(run.rows, cases, strict=True))
        if row is not None and case.references
    ]
    if scorer is None or not jobs:
        return None
    f1 = scorer.f1([j[2] for j in jobs], [j[3] for j in jobs])
    scores: dict[str, list[float | None]] = {run.model: [None] * len(cases) for run in runs}
    for (model, index, _, _), value in zip(jobs, f1, strict=True):
        scores[model][index] = value
    return scores


@dataclass
class ModelRun:
    model: str
    rows: list[repo.GenerationRow | None]
    errors: list[str]


async def _run_model(
    runtime: Runtime,
    pool: AdapterPool,
    *,
    org_id: uuid.UUID,
    principal: Principal,
    model: str,
    task: str,
    cases: Sequence[Case],
    max_tokens: int,
    request_id: str,
) -> ModelRun:
    semaphore = asyncio.Semaphore(4)

    async def one(case: Case) -> repo.GenerationRow:
        values: dict[str, object] = {**case.variables, "product": case.product}
        if case.target_audience:
            values["target_audience"] = case.target_audience
        command = service.GenerateCommand(
            template=task,
            language=case.language,
            values=values,
            platform=case.platform,
            model=model,
            variants=1,
            template_version=None,
            template_label=None,
            temperature=0.7,
            max_tokens=max_tokens,
            seed=None,
            remember=False,
            request_id=request_id,
        )
        async with semaphore:
            prepared = await service.prepare(
                runtime, pool, org_id=org_id, principal=principal, command=command
            )
            return await service.Generator(runtime, prepared).run(0)

    results = await asyncio.gather(*(one(c) for c in cases), return_exceptions=True)
    rows: list[repo.GenerationRow | None] = []
    errors: list[str] = []
    for index, result in enumerate(results):
        if isinstance(result, repo.GenerationRow):
            rows.append(result)
        elif isinstance(result, ApiError):
            if result.status_code in (402, 409, 422) and result.code != "context_too_long":
                raise result
            rows.append(None)
            errors.append(f"case {index}: {result.code}: {result.message}")
        elif isinstance(result, BaseException):
            raise result
    stored = await service.store_generations(
        runtime, org_id=org_id, rows=[r for r in rows if r is not None]
    )
    by_id = {r.id: r for r in stored}
    return ModelRun(model, [by_id.get(r.id) if r else None for r in rows], errors)


def _rate(
    totals: Sequence[repo.ArmTotals], model: str, metric: Metric
) -> tuple[float | None, tuple[float, float, float] | None, int, str | None]:
    mine = [t for t in totals if t.model == model]
    if not mine:
        return None, None, 0, "no outcomes reported for this model's generations of the task yet"
    arm = ArmStats(
        model=model,
        template=None,
        generations=sum(t.generations for t in mine),
        impressions=sum(t.impressions for t in mine),
        clicks=sum(t.clicks for t in mine),
        conversions=min(sum(t.conversions for t in mine), sum(t.clicks for t in mine))
        if metric is Metric.CONVERSION_RATE
        else sum(t.conversions for t in mine),
        cost_usd=float(sum((t.cost_usd for t in mine), Decimal(0))),
    )
    (ranked,) = rank_arms([arm], metric)
    interval = (
        (ranked.interval.low, ranked.interval.high, ranked.interval.level)
        if ranked.interval
        else None
    )
    note = None if ranked.estimate is not None else "no clicks or impressions reported yet"
    return ranked.estimate, interval, ranked.n, note


@dataclass(frozen=True)
class ComparisonResult:
    task: str
    metrics: tuple[str, ...]
    cases: int
    runs: list[ModelRun]
    similarity: dict[str, list[float | None]]
    quality: dict[str, tuple[float | None, float | None, float | None, int] | None]
    rates: dict[
        str, dict[str, tuple[float | None, tuple[float, float, float] | None, int, str | None]]
    ]
    bertscore: dict[str, list[float | None]] | None
    paired: list[Any]
    notes: list[str]

    def mean_bertscore(self, model: str) -> float | None:
        values = [v for v in (self.bertscore or {}).get(model, []) if v is not None]
        return sum(values) / len(values) if values else None


async def compare(
    runtime: Runtime,
    pool: AdapterPool,
    *,
    org_id: uuid.UUID,
    principal: Principal,
    models: Sequence[str],
    task: str,
    metrics: Sequence[str],
    cases: Sequence[Case] | None,
    max_tokens: int,
    request_id: str,
) -> ComparisonResult:
    unknown = [m for m in metrics if m not in KNOWN_METRICS]
    if unknown:
        raise ApiError(
            422,
            "validation_error",
            f"metrics: unknown metric '{unknown[0]}'; known: {', '.join(KNOWN_METRICS)}",
            field="metrics",
        )
    purpose = service.task_filter(task) or "product_description"
    chosen = list(cases) if cases else list(default_cases())
    runs = [
        await _run_model(
            runtime,
            pool,
            org_id=org_id,
            principal=principal,
            model=m,
            task=purpose,
            cases=chosen,
            max_tokens=max_tokens,
            request_id=request_id,
        )
        for m in dict.fromkeys(models)
    ]
    pairs = [
        (row.output, f"{c.product}. {c.target_audience or ''}".strip())
        for run in runs
        for row, c in zip(run.rows, chosen, strict=True)
        if row is not None
    ]
    flat = iter(await asyncio.to_thread(_similarities, pairs))
    similarity = {
        run.model: [next(flat) if row is not None else None for row in run.rows] for run in runs
    }
    quality: dict[str, tuple[float | None, float | None, float | None, int] | None] = {}
    for run in runs:
        scored = [
            (row.output, c.references, c.language)
            for row, c in zip(run.rows, chosen, strict=True)
            if row is not None and c.references
        ]
        if not scored:
            quality[run.model] = None
            continue
        scores = corpus_scores(
            [s[0] for s in scored], [list(s[1]) for s in scored], language=scored[0][2]
        )
        quality[run.model] = (scores.bleu, scores.chrf, scores.rouge_l, len(scored))
    totals = await repo.arm_totals(runtime.db, org_id=org_id, task=purpose)
    rates = {
        run.model: {
            "conversion_rate": _rate(totals, run.model, Metric.CONVERSION_RATE),
            "engagement": _rate(totals, run.model, Metric.CTR),
        }
        for run in runs
    }
    bertscore = await asyncio.to_thread(_bertscores, runs, chosen)
    paired = []
    for a, b in combinations(runs, 2):
        both = [i for i in range(len(chosen)) if a.rows[i] is not None and b.rows[i] is not None]
        if len(both) < 2:
            continue
        passes_a = [0.0 if a.rows[i].violations else 1.0 for i in both]  # type: ignore[union-attr]
        passes_b = [0.0 if b.rows[i].violations else 1.0 for i in both]  # type: ignore[union-attr]
        paired.append(
            paired_bootstrap(passes_a, passes_b, metric="constraint_pass", a=a.model, b=b.model)
        )
        sims_a = [similarity[a.model][i] or 0.0 for i in both]
        sims_b = [similarity[b.model][i] or 0.0 for i in both]
        paired.append(
            paired_bootstrap(sims_a, sims_b, metric="similarity_to_brief", a=a.model, b=b.model)
        )
        if bertscore is not None:
            both_scored = [
                i
                for i in both
                if bertscore[a.model][i] is not None and bertscore[b.model][i] is not None
            ]
            if len(both_scored) >= 2:
                paired.append(
                    paired_bootstrap(
                        [bertscore[a.model][i] or 0.0 for i in both_scored],
                        [bertscore[b.model][i] or 0.0 for i in both_scored],
                        metric="bertscore",
                        a=a.model,
                        b=b.model,
                    )
                )
    notes = []
    if not cases:
        notes.append(
            f"{len(chosen)} built-in briefs (engine/llm/data/briefs.json); they have "
            "no references, so BLEU/chrF/ROUGE need cases with references"
        )
    notes.append("similarity_to_brief: cosine of all-MiniLM-L6-v2 embeddings (memory module)")
    notes.append(f"bertscore: {bertscore_note(bertscore is not None)}")
    return ComparisonResult(
        task,
        tuple(metrics),
        len(chosen),
        runs,
        similarity,
        quality,
        rates,
        bertscore,
        paired,
        notes,
    )


def p50(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None

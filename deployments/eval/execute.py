"""Running an evaluation's cases: each model x case called through the LLM module, graded,
and stored as it finishes.

A run's work is split by provider (every model of one provider in one group) so a provider's
concurrency limit holds across its models; ``deployments.eval.tasks`` runs each group on the
Ray actor that serves that provider. A case that fails (budget exhausted, provider down after
the router's retries) is stored with its error, and a retried run re-runs only the cases
without a good result.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from cluster.repositories import eval as repo
from cluster.repositories import llm as llm_repo
from deployments.common.errors import ApiError
from deployments.eval.calls import Caller
from deployments.eval.schemas import PlannedRun
from engine.eval import suites
from engine.eval.assertions import Observed, Tools
from engine.eval.grading import grade, planned_checks
from memory.embedders import shared_embedder

log = logging.getLogger(__name__)

# Results are written in batches: one transaction per few cases, not per case.
_FLUSH_EVERY = 8
_FLUSH_SECONDS = 1.0
_JUDGE_PROMPT = (
    "You grade marketing content against a rubric. Rubric: {{ rubric }}\n\n"
    "Content:\n{{ output }}\n\n"
    'Answer with JSON only: {"score": <a number from 0 to 1>, "reason": "<one sentence>"}'
)


def embed(texts: Sequence[str]) -> np.ndarray:
    """The memory module's embedder (unit vectors), for ``similar``."""
    return np.asarray(shared_embedder("onnx-int8").encode(list(texts)), dtype=np.float64)


@dataclass(frozen=True)
class Work:
    model: str
    case: suites.Case


def plan_cases(plan: PlannedRun) -> list[suites.Case]:
    return suites.cases(suites.parse_suite(plan.suite))


def provider_groups(
    plan: PlannedRun, deployments: Sequence[llm_repo.DeploymentRow]
) -> dict[str, list[str]]:
    """The run's models by the provider that serves them (their first choice)."""
    provider = {d.model.name: str(d.model.provider_id) for d in deployments}
    groups: dict[str, list[str]] = {}
    for model in plan.models:
        groups.setdefault(provider.get(model, f"unknown:{model}"), []).append(model)
    return groups


def _parse_grade(text: str) -> tuple[float, str]:
    found = re.search(r"\{.*\}", text, flags=re.DOTALL)
    try:
        data = json.loads(found.group(0) if found else text)
        score = float(data["score"])
        reason = str(data.get("reason", ""))[:500]
    except (ValueError, KeyError, TypeError):
        number = re.search(r"(?<![\d.])(0(?:\.\d+)?|1(?:\.0+)?)(?![\d.])", text)
        if number is None:
            return 0.0, f"the judge's answer had no grade: {text[:200]!r}"
        score, reason = float(number.group(1)), text[:200]
    return min(max(score, 0.0), 1.0), reason


class CaseRunner:
    def __init__(self, caller: Caller, plan: PlannedRun, *, run_id: uuid.UUID) -> None:
        self._caller = caller
        self._plan = plan
        self._run_id = run_id
        self._pending: list[repo.ResultRow] = []
        self._last_flush = time.monotonic()
        self._lock = asyncio.Lock()

    async def _judge(self, rubric: str, output: str) -> tuple[float, str]:
        judge = self._plan.options.judge_model
        assert judge is not None
        row = await self._caller.generate(
            model=judge,
            inline=suites.text_template(
                suites.PromptSpec(text=_JUDGE_PROMPT), {"rubric": rubric, "output": output}
            ),
            values={"rubric": rubric, "output": output},
            temperature=0.0,
            max_tokens=200,
            seed=0,
        )
        return _parse_grade(row.output)

    async def _tools(self, case: suites.Case, output: str) -> Tools:
        rubrics = [a for a in case.assertions if a.base == "llm-rubric"]
        judge = None
        if rubrics and self._plan.options.judge_model is not None:
            grades = {}
            for a in rubrics:
                grades[str(a.value)] = await self._judge(str(a.value), output)

            def judge(rubric: str, _output: str) -> tuple[float, str]:
                return grades[rubric]

        needs_embedding = any(a.base == "similar" for a in case.assertions)
        return Tools(embed=embed if needs_embedding else None, judge=judge)

    def _generation_args(self, case: suites.Case) -> dict[str, Any]:
        prompt = case.prompt
        values: dict[str, object] = dict(case.test.vars)
        if prompt.text is not None:
            return {
                "inline": suites.text_template(prompt, case.test.vars),
                "values": values,
                "language": case.language,
                "platform": prompt.platform,
            }
        return {
            "template": prompt.template,
            "values": values,
            "language": case.language,
            "platform": prompt.platform,
        }

    async def run_one(self, work: Work) -> repo.ResultRow:
        case, options = work.case, self._plan.options
        args = self._generation_args(case)
        template_name = args["inline"].name if "inline" in args else str(args["template"])
        checks = planned_checks(case.assertions, self._plan.metrics)
        base: dict[str, Any] = {
            "model": work.model,
            "case_index": case.index,
            "description": case.test.description,
            "cluster": case.test.context or f"case-{case.index % len(self._plan.suite['tests'])}",
            "prompt_template": template_name,
            "seed": options.seed,
            "variables": dict(case.test.vars),
        }
        try:
            row = await self._caller.generate(
                model=work.model,
                temperature=options.temperature,
                max_tokens=options.max_tokens,
                seed=options.seed,
                **args,
            )
        except ApiError as error:
            return repo.ResultRow(
                **base,
                prompt_version=None,
                output="",
                error=f"{error.code}: {error.message}",
                checks=dict.fromkeys(checks, False),
                scores={},
                assertions=(),
                generation_id=None,
                provider_model=None,
                input_tokens=0,
                output_tokens=0,
                cost_usd=Decimal(0),
                latency_ms=None,
            )
        seen = Observed(
            output=row.output,
            cost_usd=float(row.cost_usd),
            latency_ms=row.latency_ms,
            references=tuple(case.test.references),
            language=case.language,
        )
        tools = await self._tools(case, row.output)
        graded = await asyncio.to_thread(grade, case.assertions, seen, self._plan.metrics, tools)
        return repo.ResultRow(
            **base,
            prompt_version=row.template_version,
            output=row.output,
            error=None,
            checks=graded.checks,
            scores=graded.scores,
            assertions=graded.results,
            generation_id=row.id,
            provider_model=row.provider_model,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cost_usd=row.cost_usd,
            latency_ms=row.latency_ms,
        )

    async def _flush(self, *, force: bool = False) -> None:
        async with self._lock:
            due = len(self._pending) >= _FLUSH_EVERY or (
                time.monotonic() - self._last_flush >= _FLUSH_SECONDS
            )
            if not self._pending or not (force or due):
                return
            batch, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            await repo.add_results(
                self._caller.runtime.db,
                org_id=self._caller.org_id,
                run_id=self._run_id,
                results=batch,
            )

    async def run(self, work: Sequence[Work], *, limit: asyncio.Semaphore) -> int:
        """Every piece of work, each call holding ``limit`` (the provider's calls in flight);
        returns how many ended with an error (they are stored with it)."""
        errors = 0

        async def one(item: Work) -> None:
            nonlocal errors
            async with limit:
                try:
                    result = await self.run_one(item)
                except Exception as exc:  # a bug in one case must not lose the others
                    log.exception("eval case %s of %s failed", item.case.index, item.model)
                    raise RuntimeError(f"case {item.case.index} of {item.model}: {exc}") from exc
            errors += result.error is not None
            self._pending.append(result)
            await self._flush()

        try:
            await asyncio.gather(*(one(w) for w in work))
        finally:
            await self._flush(force=True)
        return errors

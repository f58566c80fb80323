"""The eval use cases: evaluate cases, benchmark a suite, store suites, run the sandbox,
compare two agents, check a deployment gate.

Everything a run needs is checked and fixed when it is accepted (the suite parses, its prompts
render with every case's variables, the models are configured, the causal model exists and the
constraints name its channels): a bad request is a 422 now, never a failed run later. Every
function takes the tenant explicitly; another org's object is not found.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

import numpy as np

from cluster.repositories import causal as causal_repo
from cluster.repositories import eval as repo
from cluster.repositories import llm as llm_repo
from cluster.repositories import modules as modules_repo
from deployments.causal.schemas import AnalyzeRequest
from deployments.common.errors import ApiError
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.eval.schemas import (
    BUILTIN_AGENTS,
    AgentIn,
    BenchmarkRequest,
    EvaluateRequest,
    GateRequest,
    GenerationOptions,
    PlannedRun,
    SandboxCompareRequest,
    SandboxRunRequest,
    StoredSandboxRun,
    SuiteIn,
    TestCaseIn,
)
from deployments.llm.providers import check_base_url
from deployments.modules.forward import manifest_of
from engine.auth.rbac import has_permission
from engine.eval import suites
from engine.eval.agents import EpisodeScores
from engine.eval.results import EvalSummary
from engine.eval.sandbox import VIOLATIONS
from engine.eval.scoring import (
    AgentComparison,
    Gate,
    GateResult,
    SandboxSummary,
    check_gate,
)
from engine.eval.scoring import compare as compare_agents
from engine.llm import templates

MAX_MODELS = 10


class RunRunner(Protocol):
    """Starts a stored, queued run off the request path; the awaitable ends with the run."""

    def submit(
        self, runtime: Runtime, *, org_id: uuid.UUID, run_id: uuid.UUID, kind: str
    ) -> Awaitable[None]: ...


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", f"{field}: {message}", field=field)


# --- suites -----------------------------------------------------------------------------------


def parse(document_or_text: dict[str, Any] | str, *, where: str = "") -> suites.SuiteSpec:
    try:
        if isinstance(document_or_text, str):
            return suites.load_suite(document_or_text)
        return suites.parse_suite(document_or_text)
    except suites.SuiteError as error:
        raise invalid(f"{where}{error.field}", error.message) from None


def suite_document(spec: suites.SuiteSpec) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(spec.model_dump_json(by_alias=True, exclude_none=True))
    return document


def check_renders(spec: suites.SuiteSpec, *, where: str = "") -> None:
    """Every raw-text prompt renders with every case's variables (the LLM module's Jinja
    sandbox), so a missing variable is a 422 naming the case, not a run of failures."""
    for p, prompt in enumerate(spec.prompts):
        if prompt.text is None:
            continue
        for t, test in enumerate(spec.tests):
            try:
                template = suites.text_template(prompt, test.vars)
                templates.compile_template(template)
                templates.render(template, dict(test.vars))
            except templates.TemplateError as error:
                # A variable the case lacks is the case's fault; bad Jinja is the prompt's.
                field = (
                    f"{where}tests[{t}].vars"
                    if error.field.startswith("variables") or "undeclared" in error.message
                    else f"{where}prompts[{p}].text"
                )
                raise invalid(field, f"prompts[{p}] with tests[{t}]: {error.message}") from None


async def store_suite(
    runtime: Runtime, command: SuiteIn, *, org_id: uuid.UUID, user_id: uuid.UUID
) -> repo.SuiteRow:
    spec = parse(command.source if command.source is not None else command.suite or {})
    check_renders(spec)
    if spec.name in suites.BUILTIN:
        raise invalid("name", f"'{spec.name}' is a built-in suite; store yours under another name")
    return await repo.create_suite(
        runtime.db,
        org_id=org_id,
        name=spec.name,
        kind=spec.kind,
        description=spec.description,
        spec=suite_document(spec),
        source=command.source if command.source is not None else json.dumps(command.suite),
        created_by=user_id,
    )


async def find_suite(
    runtime: Runtime, *, org_id: uuid.UUID, name: str, version: int | None
) -> tuple[suites.SuiteSpec, int | None, bool]:
    """The org's suite (a given version or the latest), else the built-in one of that name:
    (spec, stored version or None, built-in)."""
    row = await repo.get_suite(runtime.db, org_id=org_id, name=name, version=version)
    if row is not None:
        return suites.parse_suite(row.spec), row.version, False
    if version is None and name in suites.BUILTIN:
        return suites.builtin_suite(name), None, True
    what = f"suite '{name}'" + (f" version {version}" if version else "")
    raise ApiError(404, "not_found", f"{what} not found", field="evaluation_suite")


# --- evaluations ------------------------------------------------------------------------------


async def _configured_models(runtime: Runtime, *, org_id: uuid.UUID) -> list[str]:
    setup = await llm_repo.generation_setup(
        runtime.db, org_id=org_id, template="", language="en", version=None, label=None
    )
    return [d.model.name for d in setup.deployments]


async def _check_models(
    runtime: Runtime, models: Sequence[str], *, org_id: uuid.UUID, field: str
) -> None:
    configured = await _configured_models(runtime, org_id=org_id)
    if not configured:
        raise ApiError(
            409,
            "no_provider",
            "no model is configured for this org: add a provider and its models with "
            "POST /api/v1/llm/providers",
        )
    for index, model in enumerate(models):
        if model not in configured:
            raise invalid(
                field if field == "model_type" else f"{field}[{index}]",
                f"'{model}' is not configured for this org; configured: {', '.join(configured)}",
            )


def evaluate_suite(command: EvaluateRequest) -> suites.SuiteSpec:
    """The seed's test cases as a suite: one prompt, one test per case."""
    tests = []
    for given in command.test_cases:
        case = TestCaseIn(input=given) if isinstance(given, str) else given
        assertions = [a.model_dump(by_alias=True, exclude_none=True) for a in case.assert_]
        if case.expected is not None:
            kind = case.match
            assertions.insert(
                0,
                {"type": kind, "value": case.expected}
                if kind != "similar"
                else {"type": "similar", "value": case.expected, "threshold": 0.75},
            )
        variables: dict[str, Any] = dict(case.vars)
        if case.input is not None:
            variables["input"] = case.input
        tests.append(
            {
                "description": case.description,
                "vars": variables,
                "context": case.context,
                "references": case.references,
                "language": case.language,
                "assert": assertions,
            }
        )
    document = {
        "name": "evaluate",
        "prompts": [
            {"text": command.prompt, "platform": command.platform, "language": command.language}
        ],
        "tests": tests,
    }
    return parse(document)


def _rename_case_fields(error: ApiError) -> ApiError:
    """The suite's ``tests[i]...`` as the request's ``test_cases[i]...``."""
    field = error.field or ""
    if field.startswith("tests"):
        renamed = "test_cases" + field.removeprefix("tests")
        return invalid(renamed, error.message.split(": ", 1)[-1])
    return error


async def _queue(
    runtime: Runtime,
    runner: RunRunner,
    *,
    org_id: uuid.UUID,
    principal: Principal,
    kind: str,
    request: Any,
    cases_total: int,
    suite_name: str | None,
    suite_version: int | None,
    summary_type: type[Any],
) -> repo.RunRow[Any, Any]:
    run = await repo.create_run(
        runtime.db,
        org_id=org_id,
        kind=kind,
        request=request,
        cases_total=cases_total,
        created_by=principal.id,
        summary_type=summary_type,
        suite_name=suite_name,
        suite_version=suite_version,
    )
    runner.submit(runtime, org_id=org_id, run_id=run.id, kind=kind)
    return run


def _planned(
    kind: str,
    spec: suites.SuiteSpec,
    models: list[str],
    metrics: list[Any] | None,
    options: GenerationOptions,
    principal: Principal,
) -> PlannedRun:
    return PlannedRun(
        kind=kind,  # type: ignore[arg-type]
        models=models,
        suite=suite_document(spec),
        metrics=metrics,
        options=GenerationOptions.model_validate(
            options.model_dump(include=set(GenerationOptions.model_fields))
        ),
        principal_kind=principal.kind,
        principal_id=principal.id,
        role=str(principal.role),
        plan=principal.plan,
    )


async def evaluate(
    runtime: Runtime,
    runner: RunRunner,
    command: EvaluateRequest,
    *,
    org_id: uuid.UUID,
    principal: Principal,
) -> repo.RunRow[Any, Any]:
    try:
        spec = evaluate_suite(command)
        check_renders(spec)
    except ApiError as error:
        raise _rename_case_fields(error) from None
    models = list(dict.fromkeys([command.model_type, *command.models]))
    await _check_models(runtime, [command.model_type], org_id=org_id, field="model_type")
    await _check_models(runtime, command.models, org_id=org_id, field="models")
    if command.judge_model:
        await _check_models(runtime, [command.judge_model], org_id=org_id, field="judge_model")
    plan = _planned("evaluate", spec, models, list(command.metrics), command, principal)
    return await _queue(
        runtime,
        runner,
        org_id=org_id,
        principal=principal,
        kind="evaluate",
        request=plan,
        cases_total=len(models) * len(suites.cases(spec)),
        suite_name=None,
        suite_version=None,
        summary_type=EvalSummary,
    )


async def benchmark(
    runtime: Runtime,
    runner: RunRunner,
    command: BenchmarkRequest,
    *,
    org_id: uuid.UUID,
    principal: Principal,
) -> repo.RunRow[Any, Any]:
    spec, version, _ = await find_suite(
        runtime, org_id=org_id, name=command.evaluation_suite, version=command.suite_version
    )
    if spec.kind != "prompts":
        raise invalid(
            "evaluation_suite",
            f"'{spec.name}' is a budget-agent suite: run it in the sandbox "
            "(POST /api/v1/eval/sandbox/runs)",
        )
    models = list(dict.fromkeys(command.models or spec.models))
    if not models:
        models = (await _configured_models(runtime, org_id=org_id))[:MAX_MODELS]
    await _check_models(runtime, models, org_id=org_id, field="models")
    if command.judge_model:
        await _check_models(runtime, [command.judge_model], org_id=org_id, field="judge_model")
    plan = _planned("benchmark", spec, models, None, command, principal)
    return await _queue(
        runtime,
        runner,
        org_id=org_id,
        principal=principal,
        kind="benchmark",
        request=plan,
        cases_total=len(models) * len(suites.cases(spec)),
        suite_name=spec.name,
        suite_version=version,
        summary_type=EvalSummary,
    )


async def get_run(
    runtime: Runtime, *, org_id: uuid.UUID, run_id: uuid.UUID
) -> repo.RunRow[Any, Any] | None:
    kind = await repo.run_kind(runtime.db, org_id=org_id, run_id=run_id)
    if kind is None:
        return None
    if kind == "sandbox":
        return await repo.get_run(
            runtime.db,
            org_id=org_id,
            run_id=run_id,
            request_type=StoredSandboxRun,
            summary_type=SandboxSummary,
        )
    return await repo.get_run(
        runtime.db, org_id=org_id, run_id=run_id, request_type=PlannedRun, summary_type=EvalSummary
    )


# --- sandbox ----------------------------------------------------------------------------------


def _agents(command: SandboxRunRequest) -> list[AgentIn]:
    out: list[AgentIn] = []
    for index, agent in enumerate(command.agents):
        if isinstance(agent, str):
            if agent not in BUILTIN_AGENTS:
                raise invalid(
                    f"agents[{index}]",
                    f"unknown agent '{agent}'; built-in: {', '.join(BUILTIN_AGENTS)} (or "
                    'describe one: {"name", "type": "llm" | "http", ...})',
                )
            agent = AgentIn(name=agent, type=agent)  # type: ignore[arg-type]
        out.append(agent)
    names = [a.name for a in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise invalid("agents", f"agent names must differ: {', '.join(duplicated)}")
    return out


async def start_sandbox(
    runtime: Runtime,
    runner: RunRunner,
    command: SandboxRunRequest,
    *,
    org_id: uuid.UUID,
    principal: Principal,
) -> repo.RunRow[Any, Any]:
    agents = _agents(command)
    model = await causal_repo.get_model(
        runtime.db, org_id=org_id, model_id=command.model_id, request_type=AnalyzeRequest
    )
    if model is None:
        raise ApiError(404, "not_found", "model not found", field="model_id")
    if model.result.data.geos:
        raise invalid("model_id", "the sandbox plays national fits; this model is by geo")
    channels = [c.channel for c in model.result.analysis.channels]
    limits = command.constraints
    for name in [*limits.channel_caps, *limits.blackout]:
        if name not in channels:
            where = "channel_caps" if name in limits.channel_caps else "blackout"
            raise invalid(
                f"constraints.{where}",
                f"unknown channel '{name}'; the model's channels: {', '.join(channels)}",
            )
    if command.auction is not None:
        for name in command.auction.channels:
            if name not in channels:
                raise invalid(
                    "auction.channels",
                    f"unknown channel '{name}'; the model's channels: {', '.join(channels)}",
                )
    if set(limits.blackout) >= set(channels):
        raise invalid("constraints.blackout", "every channel is blacked out: nothing to play")
    remote = [a for a in agents if a.type in ("llm", "http", "module")]
    calls = command.episodes * command.periods
    if remote and calls > runtime.settings.eval_agent_max_calls:
        raise invalid(
            "episodes",
            f"{remote[0].type} agents are asked once per episode and period: "
            f"{command.episodes} x {command.periods} = {calls} calls is above this "
            f"deployment's limit of {runtime.settings.eval_agent_max_calls} "
            "(LIFTOS_EVAL_AGENT_MAX_CALLS)",
        )
    for index, agent in enumerate(agents):
        if agent.type == "llm":
            assert agent.model is not None
            await _check_models(
                runtime, [agent.model], org_id=org_id, field=f"agents[{index}].model"
            )
        if agent.type == "module":
            await _check_module_agent(
                runtime, agent, org_id=org_id, principal=principal, index=index
            )
        if agent.type == "http":
            assert agent.url is not None
            url = await asyncio.to_thread(
                check_base_url,
                agent.url,
                allow_private=runtime.settings.llm_private_base_urls_allowed,
                field=f"agents[{index}].url",
            )
            agents[index] = agent.model_copy(update={"url": url})
    stored = StoredSandboxRun(
        request=command,
        agents=agents,
        total_budget=limits.total_budget or 0.0,
        principal_kind=principal.kind,
        principal_id=principal.id,
        role=str(principal.role),
        plan=principal.plan,
    )
    return await _queue(
        runtime,
        runner,
        org_id=org_id,
        principal=principal,
        kind="sandbox",
        request=stored,
        cases_total=command.episodes * (len(agents) + 1),
        suite_name=None,
        suite_version=None,
        summary_type=SandboxSummary,
    )


async def _check_module_agent(
    runtime: Runtime, agent: AgentIn, *, org_id: uuid.UUID, principal: Principal, index: int
) -> None:
    """The module exists in this org, has the endpoint, and the caller may call it."""
    assert agent.module is not None
    row = await modules_repo.get(runtime.db, org_id=org_id, name=agent.module)
    if row is None:
        raise ApiError(
            404,
            "not_found",
            f"module '{agent.module}' not found",
            field=f"agents[{index}].module",
        )
    try:
        permission = manifest_of(row).endpoint_permission("POST", agent.path)
    except LookupError:
        raise invalid(
            f"agents[{index}].path",
            f"module '{agent.module}' has no endpoint POST {agent.path}",
        ) from None
    if not has_permission(principal.role, permission):
        raise ApiError(
            403,
            "forbidden",
            f"role '{principal.role.value}' lacks permission '{permission.value}' to call "
            f"module '{agent.module}'",
        )


def _scores(row: repo.EpisodesRow) -> EpisodeScores:
    return EpisodeScores(
        agent=row.agent,
        draws=np.asarray(row.draws, dtype=np.int64),
        profit=np.asarray(row.profit),
        incremental_kpi=np.asarray(row.incremental_kpi),
        spend=np.asarray(row.spend),
        violations={
            k: np.asarray(row.violations.get(k, ()), dtype=np.int64)
            if k in row.violations
            else np.zeros(len(row.draws), dtype=np.int64)
            for k in (*VIOLATIONS, *(k for k in row.violations if k not in VIOLATIONS))
        },
        attempted_over_budget=np.asarray(row.attempted_over_budget),
    )


async def _sandbox_run(
    runtime: Runtime, *, org_id: uuid.UUID, run_id: uuid.UUID, field: str = "run_id"
) -> repo.RunRow[StoredSandboxRun, SandboxSummary]:
    run = (
        await repo.get_run(
            runtime.db,
            org_id=org_id,
            run_id=run_id,
            request_type=StoredSandboxRun,
            summary_type=SandboxSummary,
        )
        if await repo.run_kind(runtime.db, org_id=org_id, run_id=run_id) == "sandbox"
        else None
    )
    if run is None:
        raise ApiError(404, "not_found", "sandbox run not found", field=field)
    if run.status != "succeeded" or run.summary is None:
        raise ApiError(
            409,
            "run_not_finished",
            f"the sandbox run is {run.status}"
            + (f" ({run.error})" if run.error else "")
            + f"; poll /api/v1/eval/runs/{run.id}",
        )
    return run


async def compare(
    runtime: Runtime, command: SandboxCompareRequest, *, org_id: uuid.UUID
) -> tuple[AgentComparison, int, bool]:
    """Two agents of one run on the same seeds and draws: (comparison, episodes, tied)."""
    run = await _sandbox_run(runtime, org_id=org_id, run_id=command.run_id)
    episodes = await repo.get_episodes(runtime.db, org_id=org_id, run_id=run.id)
    for field, name in (("a", command.a), ("b", command.b)):
        if name not in episodes or name == "reference":
            played = ", ".join(a for a in episodes if a != "reference")
            raise invalid(field, f"the run did not play '{name}'; it played: {played}")
    if command.a == command.b:
        raise invalid("b", "compare two different agents")
    assert run.summary is not None
    result = await asyncio.to_thread(
        compare_agents,
        _scores(episodes[command.a]),
        _scores(episodes[command.b]),
        _scores(episodes["reference"]),
        pass_regret=run.summary.pass_regret,
        sequential_looks=command.looks if command.sequential else None,
        seed=command.seed,
    )
    if result.profit is not None:
        is_tied = bool(result.profit.p_value >= command.alpha)
    else:
        assert result.sequential is not None
        is_tied = not result.sequential.rejected
    return result, len(episodes["reference"].draws), is_tied


async def gate(
    runtime: Runtime, command: GateRequest, *, org_id: uuid.UUID
) -> tuple[uuid.UUID, GateResult, SandboxSummary]:
    run_id = command.run_id or await repo.latest_sandbox_run_with(
        runtime.db, org_id=org_id, agent=command.agent
    )
    if run_id is None:
        raise ApiError(
            404,
            "not_found",
            f"no finished sandbox run played '{command.agent}'; run one first "
            "(POST /api/v1/eval/sandbox/runs)",
            field="agent",
        )
    run = await _sandbox_run(runtime, org_id=org_id, run_id=run_id)
    assert run.summary is not None
    summary = run.summary.agent(command.agent)
    if summary is None:
        played = ", ".join(a.agent for a in run.summary.agents)
        raise invalid("agent", f"the run did not play '{command.agent}'; it played: {played}")
    t = command.thresholds
    result = check_gate(
        summary,
        Gate(
            max_regret=t.max_regret,
            max_violation_rate=t.max_violation_rate,
            min_pass_hat_k=t.min_pass_hat_k,
        ),
    )
    return run.id, result, run.summary

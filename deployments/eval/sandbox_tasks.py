"""A sandbox run as one Ray task: the world from the fitted causal model, every agent and the
per-draw reference on the same seeds, then the summary, every agent's episodes and the HTML
report stored with ``succeeded`` at once."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from cluster import telemetry
from cluster.repositories import eval as repo
from cluster.repositories import modules as modules_repo
from cluster.settings import Settings, get_settings
from deployments.causal import service as causal
from deployments.common.runtime import Runtime
from deployments.eval import agents as remote_agents
from deployments.eval.calls import Caller
from deployments.eval.schemas import AgentIn, StoredSandboxRun
from deployments.eval.tasks import error_text, worker_runtime
from engine.eval import agents as builtin
from engine.eval.auction import AuctionError, AuctionSpec
from engine.eval.report import render_report
from engine.eval.sandbox import Constraints, SandboxError, World
from engine.eval.scoring import SandboxSummary
from engine.eval.scoring import summarize as summarize_agent

log = logging.getLogger(__name__)

# Reports chart every episode's path up to this many episodes (the statistics use them all).
_TRACE_EPISODES = 2000


@ray.remote  # type: ignore[untyped-decorator]
def run_sandbox_job(org_id: str, run_id: str, trace: dict[str, str] | None = None) -> None:
    settings = get_settings()
    attributes = {"liftos.org_id": org_id, "liftos.run_id": run_id}
    try:
        with telemetry.continue_trace(
            "eval.sandbox", trace, attributes=attributes, settings=settings
        ):
            asyncio.run(execute_sandbox(settings, uuid.UUID(org_id), uuid.UUID(run_id)))
    finally:
        telemetry.flush()


async def execute_sandbox(settings: Settings, org_id: uuid.UUID, run_id: uuid.UUID) -> None:
    runtime = await worker_runtime(settings)
    try:
        if not await repo.start_run(runtime.db, org_id=org_id, run_id=run_id):
            return
        try:
            await _sandbox(runtime, org_id, run_id)
        except (SandboxError, AuctionError, causal.NotFoundError) as exc:
            await repo.fail_run(runtime.db, org_id=org_id, run_id=run_id, error=str(exc))
        except Exception as exc:
            log.exception("sandbox run %s failed", run_id)
            await repo.fail_run(
                runtime.db, org_id=org_id, run_id=run_id, error=f"internal error: {error_text(exc)}"
            )
    finally:
        await runtime.close()


def _claims_ratio(row: Any) -> dict[str, float] | None:
    claims = row.result.analysis.platform_claims
    if claims is None:
        return None
    out = {}
    for channel in claims.channels:
        ratio = channel.over_attribution
        if ratio is not None and np.isfinite(ratio.median) and ratio.median > 0:
            out[channel.channel] = float(ratio.median)
    return out or None


def _agent(
    spec: AgentIn,
    *,
    fit: Any,
    runtime: Runtime,
    caller: Caller,
    loop: asyncio.AbstractEventLoop,
    seed: int,
    run_id: uuid.UUID,
    modules: dict[str, Any],
) -> Any:
    if spec.type == "equal_split":
        return builtin.EqualSplit(name=spec.name)
    if spec.type == "repeat":
        return builtin.Repeat(name=spec.name)
    if spec.type == "optimizer":
        return builtin.Optimizer(fit, name=spec.name)
    if spec.type == "thompson":
        return builtin.Thompson(seed=seed, name=spec.name)
    if spec.type == "llm":
        assert spec.model is not None
        return remote_agents.llm_agent(
            caller,
            loop,
            name=spec.name,
            model=spec.model,
            instructions=spec.instructions,
            seed=seed,
            timeout_s=spec.timeout_s,
        )
    if spec.type == "module":
        row = modules[spec.name]
        return remote_agents.module_agent(
            runtime,
            loop,
            name=spec.name,
            row=row,
            path=spec.path,
            identity={
                "x-liftos-org": str(caller.org_id),
                "x-liftos-principal": str(caller.principal.id),
                "x-liftos-principal-type": caller.principal.kind,
                "x-liftos-role": caller.principal.role.value,
                "x-request-id": f"sandbox-{run_id}",
            },
            run_id=str(run_id),
            timeout_s=spec.timeout_s,
        )
    assert spec.url is not None
    return remote_agents.http_agent(
        runtime.http,
        loop,
        name=spec.name,
        url=spec.url,
        run_id=str(run_id),
        timeout_s=spec.timeout_s,
    )


async def _sandbox(runtime: Runtime, org_id: uuid.UUID, run_id: uuid.UUID) -> None:
    run = await repo.get_run(
        runtime.db,
        org_id=org_id,
        run_id=run_id,
        request_type=StoredSandboxRun,
        summary_type=SandboxSummary,
    )
    assert run is not None
    stored = run.request
    request = stored.request
    row, fit = await causal.load_fitted(runtime.db, org_id=org_id, model_id=request.model_id)
    world = World.from_fit(
        fit,
        season=request.season,
        claims_ratio=_claims_ratio(row) if request.platform_claims else None,
    )
    limits = request.constraints
    budget = limits.total_budget or float(np.sum(world.channel_scale)) * request.periods
    constraints = Constraints(
        total_budget=budget,
        channel_caps=dict(limits.channel_caps),
        max_change=limits.max_change,
        blackout=frozenset(limits.blackout),
    )
    constraints.check(world.channels)
    loop = asyncio.get_running_loop()
    caller = Caller.of(
        runtime,
        org_id=org_id,
        principal_kind=stored.principal_kind,
        principal_id=stored.principal_id,
        role=stored.role,
        plan=stored.plan,
        request_id=f"sandbox-{run_id}",
    )
    modules = {}
    for spec in stored.agents:
        if spec.type == "module":
            assert spec.module is not None
            module = await modules_repo.get(runtime.db, org_id=org_id, name=spec.module)
            if module is None:
                raise SandboxError("agents", f"module '{spec.module}' is no longer registered")
            modules[spec.name] = module
    players = [
        _agent(
            spec,
            fit=fit,
            runtime=runtime,
            caller=caller,
            loop=loop,
            seed=request.seed,
            run_id=run_id,
            modules=modules,
        )
        for spec in stored.agents
    ]
    traced = request.episodes <= _TRACE_EPISODES
    plays = 2 * (len(players) + 1) if not traced else len(players) + 1

    def progress(done: int) -> None:
        asyncio.run_coroutine_threadsafe(
            repo.report_progress(
                runtime.db,
                org_id=org_id,
                run_id=run_id,
                stage=f"played {done} of {plays} agent runs",
                progress=done / plays,
            ),
            loop,
        )

    runs = await asyncio.to_thread(
        _play_all, world, constraints, fit, players, request, request.episodes, traced, progress
    )
    charted = runs
    if not traced:
        # The statistics use every episode; the charts the first few thousand, replayed.
        charted = await asyncio.to_thread(
            _play_all,
            world,
            constraints,
            fit,
            players,
            request,
            _TRACE_EPISODES,
            True,
            lambda done: progress(len(players) + 1 + done),
        )
    reference = runs.pop("reference")
    summaries = tuple(
        summarize_agent(r, reference, pass_regret=request.pass_regret, k=request.k)
        for r in runs.values()
    )
    notes = [
        f"{p.name} could not always be asked: {'; '.join(p.errors[:3])}"
        for p in players
        if getattr(p, "errors", None)
    ]
    notes += [
        f"{p.name} gave {int(p.invalid.sum())} unreadable answers (counted as invalid_action)"
        for p in players
        if getattr(p, "invalid", None) is not None and int(p.invalid.sum()) > 0
    ]
    if not traced:
        notes.append(f"the charts show the first {_TRACE_EPISODES} episodes, replayed")
    if request.auction is not None:
        notes.append(
            f"{', '.join(request.auction.channels)} bought through a second-price auction "
            f"against {request.auction.competitors} scripted competitors; the reference plans "
            "without knowing the auction's prices, so regret there can be negative"
        )
    summary = SandboxSummary(
        channels=world.channels,
        periods=request.periods,
        episodes=request.episodes,
        seed=request.seed,
        total_budget=budget,
        pass_regret=request.pass_regret,
        k=request.k,
        agents=summaries,
    )
    report = render_report(
        title=f"Budget sandbox run {run_id}",
        summaries=summaries,
        runs=charted if not traced else {"reference": reference, **runs},
        channels=world.channels,
        notes=notes,
    )
    episodes = [
        repo.EpisodesRow(
            agent=name,
            draws=tuple(int(d) for d in r.draws),
            profit=tuple(float(x) for x in r.profit),
            incremental_kpi=tuple(float(x) for x in r.incremental_kpi),
            spend=tuple(float(x) for x in r.spend),
            attempted_over_budget=tuple(float(x) for x in r.attempted_over_budget),
            violations={k: tuple(int(v) for v in vs) for k, vs in r.violations.items()},
        )
        for name, r in {"reference": reference, **runs}.items()
    ]
    await repo.complete_sandbox_run(
        runtime.db,
        org_id=org_id,
        run_id=run_id,
        episodes=episodes,
        summary=summary,
        report=report,
    )


def _auction(request: Any) -> AuctionSpec | None:
    spec = request.auction
    if spec is None:
        return None
    return AuctionSpec(
        channels=frozenset(spec.channels),
        auctions=spec.auctions,
        competitors=spec.competitors,
        spread=spec.spread,
        pressure=tuple(spec.pressure),
        share_at_history=spec.share_at_history,
    )


def _play_all(
    world: World,
    constraints: Constraints,
    fit: Any,
    players: list[Any],
    request: Any,
    episodes: int,
    trace: bool,
    progress: Callable[[int], None],
) -> dict[str, builtin.EpisodeScores]:
    runs: dict[str, builtin.EpisodeScores] = {}
    for index, player in enumerate([builtin.Reference(fit), *players]):
        played = builtin.play(
            world,
            constraints,
            player,
            periods=request.periods,
            episodes=episodes,
            seed=request.seed,
            kpi_value=request.kpi_value,
            trace=trace,
            auction=_auction(request),
        )
        invalid = getattr(player, "invalid", None)
        if invalid is not None:
            played = dataclasses.replace(
                played, violations={**played.violations, "invalid_action": invalid.copy()}
            )
        runs[player.name] = played
        progress(index + 1)
    return runs

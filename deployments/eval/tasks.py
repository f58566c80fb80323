"""Eval runs off the request path, on a small pool of long-lived Ray actors.

``EvalWorker`` actors (``LIFTOS_EVAL_WORKERS`` of them, detached, restarted by Ray when they
die) keep what a run needs warm: their imports, a PostgreSQL and Redis connection pool and the
providers' SDK clients. A Ray task would pay for all of it on every cold worker (about 5 s per
provider on a 2-core host, ``bench/eval_module.py``), and Ray stops idle workers within
seconds. A run is coordinated by the worker its id hashes to: it marks the run ``running``,
splits its models by provider and hands each provider's models x cases to the worker that
provider hashes to, so every call to one provider goes through one worker, whose semaphore
(``LIFTOS_EVAL_PROVIDER_CONCURRENCY``) bounds that provider's calls in flight across every run
at once. Cases are written as they finish; the coordinator then computes the statistics from
what is stored. A worker that dies mid-run is restarted and the call retried
(``LIFTOS_EVAL_RETRIES``); a retried evaluation re-runs only the cases without a good result.
A sandbox run is one Ray task (``deployments.eval.sandbox_tasks``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import traceback
import uuid
import zlib
from collections.abc import Awaitable, Sequence
from typing import Any

import ray

from cluster import telemetry
from cluster.repositories import eval as repo
from cluster.repositories import jobs
from cluster.repositories import llm as llm_repo
from cluster.settings import Settings, get_settings
from deployments.common.app import API_VERSION
from deployments.common.job_tasks import watch
from deployments.common.runtime import Runtime
from deployments.eval.calls import Caller
from deployments.eval.execute import CaseRunner, Work, plan_cases, provider_groups
from deployments.eval.schemas import PlannedRun
from deployments.llm.providers import AdapterPool
from engine.eval.results import EvalSummary, Outcome, summarize

log = logging.getLogger(__name__)

NAMESPACE = "liftos-eval"


async def worker_runtime(settings: Settings) -> Runtime:
    # Workers never migrate: the service that queued the run already did.
    return await Runtime.start(
        settings.model_copy(update={"database_migration_url": None}), service_name="eval-worker"
    )


def error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).strip()


def _slot(key: str, workers: int) -> int:
    return zlib.crc32(key.encode()) % workers


def worker(settings: Settings, key: str) -> Any:
    """The pool's worker for ``key`` (a run or a provider), started if it is not running."""
    return _worker(settings, _slot(key, settings.eval_workers))


def start_workers(settings: Settings) -> None:
    """Start every worker of the pool and have it connect, without waiting: the first run
    then finds them ready instead of paying for their start."""
    for index in range(settings.eval_workers):
        _worker(settings, index).warm.remote()


def _worker(settings: Settings, index: int) -> Any:
    return EvalWorker.options(  # type: ignore[attr-defined]  # added by @ray.remote
        # The version in the name: a new release does not send work to an old worker.
        name=f"eval-worker-{API_VERSION}-{index}",
        namespace=NAMESPACE,
        get_if_exists=True,
        lifetime="detached",
        num_cpus=settings.eval_task_num_cpus,
        max_restarts=-1,
        max_task_retries=settings.eval_retries,
    ).remote()


@ray.remote
class EvalWorker:
    def __init__(self) -> None:
        self._settings = get_settings()
        telemetry.configure_from(self._settings, component="eval-worker")
        self._runtime: Runtime | None = None
        self._starting = asyncio.Lock()
        self._pool = AdapterPool()
        self._limits: dict[str, asyncio.Semaphore] = {}

    async def _ready(self) -> Runtime:
        async with self._starting:
            if self._runtime is None:
                self._runtime = await worker_runtime(self._settings)
        return self._runtime

    async def warm(self) -> None:
        await self._ready()

    async def coordinate(
        self, org_id: str, run_id: str, trace: dict[str, str] | None = None
    ) -> None:
        """Run one queued evaluation to its end."""
        runtime = await self._ready()
        org, run = uuid.UUID(org_id), uuid.UUID(run_id)
        attributes = {"liftos.org_id": org_id, "liftos.run_id": run_id}
        with telemetry.continue_trace("eval.run", trace, attributes=attributes):
            if not await repo.start_run(runtime.db, org_id=org, run_id=run):
                return
            try:
                await _evaluate(runtime, org, run)
            except Exception as exc:
                log.exception("eval run %s failed", run_id)
                await repo.fail_run(runtime.db, org_id=org, run_id=run, error=error_text(exc))
        telemetry.flush()

    async def run_cases(
        self,
        org_id: str,
        run_id: str,
        provider: str,
        models: list[str],
        trace: dict[str, str] | None = None,
    ) -> int:
        """One provider's models x every case of the run; returns how many cases failed."""
        runtime = await self._ready()
        limit = self._limits.setdefault(
            provider, asyncio.Semaphore(self._settings.eval_provider_concurrency)
        )
        attributes = {"liftos.run_id": run_id, "liftos.provider": provider}
        with telemetry.continue_trace("eval.cases", trace, attributes=attributes):
            return await execute_cases(
                runtime, self._pool, limit, uuid.UUID(org_id), uuid.UUID(run_id), models
            )


async def execute_cases(
    runtime: Runtime,
    pool: AdapterPool,
    limit: asyncio.Semaphore,
    org_id: uuid.UUID,
    run_id: uuid.UUID,
    models: list[str],
) -> int:
    run = await repo.get_run(
        runtime.db, org_id=org_id, run_id=run_id, request_type=PlannedRun, summary_type=EvalSummary
    )
    if run is None or run.status != "running":
        return 0
    plan = run.request
    caller = Caller.of(
        runtime,
        org_id=org_id,
        principal_kind=plan.principal_kind,
        principal_id=plan.principal_id,
        role=plan.role,
        plan=plan.plan,
        request_id=f"eval-{run_id}",
        pool=pool,
    )
    done = await repo.done_cases(runtime.db, org_id=org_id, run_id=run_id)
    cases = plan_cases(plan)
    work = [
        Work(model, case) for model in models for case in cases if (model, case.index) not in done
    ]
    return await CaseRunner(caller, plan, run_id=run_id).run(work, limit=limit)


async def _evaluate(runtime: Runtime, org_id: uuid.UUID, run_id: uuid.UUID) -> None:
    run = await repo.get_run(
        runtime.db, org_id=org_id, run_id=run_id, request_type=PlannedRun, summary_type=EvalSummary
    )
    assert run is not None
    plan = run.request
    setup = await llm_repo.generation_setup(
        runtime.db, org_id=org_id, template="", language="en", version=None, label=None
    )
    groups = provider_groups(plan, setup.deployments)
    await repo.report_progress(
        runtime.db,
        org_id=org_id,
        run_id=run_id,
        stage=f"calling {len(groups)} provider(s)",
        progress=0.0,
    )
    started = time.perf_counter()
    refs = [
        worker(runtime.settings, provider).run_cases.remote(
            str(org_id), str(run_id), provider, models, telemetry.trace_carrier()
        )
        for provider, models in groups.items()
    ]
    await asyncio.gather(*refs)
    seconds = time.perf_counter() - started
    results = await repo.list_results(runtime.db, org_id=org_id, run_id=run_id)
    outcomes = [
        Outcome(
            model=r.model,
            case=r.case_index,
            cluster=r.cluster,
            checks=r.checks,
            scores=r.scores,
            error=r.error,
        )
        for r in results
    ]
    summary = await asyncio.to_thread(summarize, outcomes, seed=plan.options.seed or 0)
    summary = dataclasses.replace(
        summary,
        seconds=seconds,
        cases_per_second=len(results) / seconds if seconds > 0 else None,
        notes=unmeasured(plan.metrics, outcomes),
    )
    await repo.complete_run(runtime.db, org_id=org_id, run_id=run_id, summary=summary)


_WHY_UNMEASURED = {
    "accuracy": "no case has an expected answer or assertions of its own (give expected)",
    "bleu": "no case has references",
    "chrf": "no case has references",
    "rouge": "no case has references",
}


def unmeasured(metrics: Sequence[str] | None, outcomes: list[Outcome]) -> tuple[str, ...]:
    """The metrics asked for that no case measured, each with the reason."""
    if not metrics:
        return ()
    seen = {name for o in outcomes for name in (*o.checks, *o.scores)}
    return tuple(
        f"{metric}: not measured: {why}"
        for metric, why in _WHY_UNMEASURED.items()
        if metric in metrics and metric not in seen
    )


# --- runners ----------------------------------------------------------------------------------


class RayRunRunner:
    """An evaluation to the worker its id hashes to, a sandbox run to its own task; a run Ray
    gives up on is failed with the reason."""

    def submit(
        self, runtime: Runtime, *, org_id: uuid.UUID, run_id: uuid.UUID, kind: str
    ) -> Awaitable[None]:
        settings = runtime.settings
        if kind == "sandbox":
            # Imported here: the sandbox needs the causal engine (JAX), case runs do not, and
            # a worker that only calls models should not pay for importing it.
            from deployments.eval.sandbox_tasks import run_sandbox_job

            ref = run_sandbox_job.options(
                num_cpus=settings.eval_sandbox_num_cpus, max_retries=settings.eval_retries
            ).remote(str(org_id), str(run_id), telemetry.trace_carrier())
        else:
            ref = worker(settings, str(run_id)).coordinate.remote(
                str(org_id), str(run_id), telemetry.trace_carrier()
            )
        return watch(
            runtime,
            ref,
            table=jobs.EVAL_RUNS,
            org_id=org_id,
            job_id=run_id,
            what=f"eval run {run_id}",
        )

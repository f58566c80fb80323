"""The causal use cases: fit a dataset, read a model, reallocate a budget.

Typed in and out: requests are the validated API commands, answers are the engine's result
types and the repository's rows. Routes only translate these to HTTP; the errors here say what
went wrong in domain terms (:class:`NotFoundError`, :class:`FitFailedError`, ``DataError``).
Every function takes the tenant explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from cluster.repositories import causal as repo
from cluster.state import Database
from deployments.billing import quotas
from deployments.causal.pipeline import POSTERIOR_ARTIFACT, prepare
from deployments.causal.schemas import AnalyzeRequest, OptimizeRequest
from deployments.causal.tasks import fingerprint
from deployments.common.runtime import Runtime
from engine.causal.analysis import Interval
from engine.causal.data import DataError
from engine.causal.inference import ChannelRoas, FitResult
from engine.causal.optimize import BudgetPlan, optimize_budget
from engine.causal.persist import load_posterior


class NotFoundError(Exception):
    """The org has no such object (another org's object is not found either)."""

    def __init__(self, what: str, *, field: str | None = None, message: str | None = None):
        super().__init__(message or f"{what} not found")
        self.what = what
        self.field = field


class FitFailedError(Exception):
    """The fit ended while the caller waited, without a model."""

    def __init__(self, job: repo.JobRow[AnalyzeRequest]):
        super().__init__(job.error or "the fit failed")
        self.job = job


class JobRunner(Protocol):
    """Starts a stored, queued job somewhere off the request path; the returned awaitable
    completes when the job has ended (succeeded or failed), and never raises."""

    def submit(
        self, runtime: Runtime, *, org_id: uuid.UUID, job_id: uuid.UUID
    ) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Analysis:
    """A submitted fit: its job as it stands, and the model when it finished in time."""

    job: repo.JobRow[AnalyzeRequest]
    model: repo.ModelRow[AnalyzeRequest] | None


async def analyze(
    runtime: Runtime,
    runner: JobRunner,
    command: AnalyzeRequest,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
) -> Analysis:
    """Check the request against its dataset (a problem is a ``DataError`` now, not a failed
    job later), queue the fit and wait up to ``command.wait_seconds`` for it."""
    dataset_id = command.dataset_id or await _default_dataset(
        runtime, org_id=org_id, channels=command.channels
    )
    found = await repo.get_dataset_content(runtime.db, org_id=org_id, dataset_id=dataset_id)
    if found is None:
        raise NotFoundError("dataset", field="dataset_id")
    dataset_row, content = found
    command = command.model_copy(update={"dataset_id": dataset_id})
    await asyncio.to_thread(prepare, content, command)
    # Fit CPU time is counted when a fit ends; a month's quota used up refuses the next one.
    await quotas.check(runtime, org_id=org_id, meter="fit_cpu_seconds", requested=0.0)
    job = await repo.create_job(
        runtime.db,
        org_id=org_id,
        kind="analyze",
        dataset_id=dataset_id,
        request=command,
        fingerprint=fingerprint(dataset_row.content_sha256, command.model_dump(mode="json")),
        created_by=user_id,
        metered=[await quotas.metered(runtime, org_id=org_id, meter="mmm_fits", quantity=1)],
    )
    ended = runner.submit(runtime, org_id=org_id, job_id=job.id)
    if command.wait_seconds > 0:
        # Shielded: the job goes on when the wait is over or the client leaves.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(ended), timeout=command.wait_seconds)
    current = (
        await repo.get_job(runtime.db, org_id=org_id, job_id=job.id, request_type=AnalyzeRequest)
        or job
    )
    if current.status == "failed" and command.wait_seconds > 0:
        raise FitFailedError(current)
    model = None
    if current.status == "succeeded" and current.model_id is not None:
        model = await repo.get_model(
            runtime.db, org_id=org_id, model_id=current.model_id, request_type=AnalyzeRequest
        )
    return Analysis(job=current, model=model)


async def _default_dataset(
    runtime: Runtime, *, org_id: uuid.UUID, channels: list[str] | None
) -> uuid.UUID:
    found = await repo.latest_dataset_with_channels(runtime.db, org_id=org_id, channels=channels)
    if found is None:
        wanted = f" with the channels {', '.join(channels)}" if channels else ""
        raise DataError(
            "dataset_id",
            f"no dataset{wanted} in this organisation; upload one (POST "
            "/api/v1/causal/datasets) or name it with dataset_id",
        )
    return found


async def model(
    runtime: Runtime, *, org_id: uuid.UUID, model_id: uuid.UUID
) -> repo.ModelRow[AnalyzeRequest]:
    row = await repo.get_model(
        runtime.db, org_id=org_id, model_id=model_id, request_type=AnalyzeRequest
    )
    if row is None:
        raise NotFoundError("model")
    return row


async def optimize(
    runtime: Runtime, command: OptimizeRequest, *, org_id: uuid.UUID
) -> tuple[repo.ModelRow[AnalyzeRequest], BudgetPlan]:
    """Reallocate a budget under the model's posterior (expected or risk-averse)."""
    row = await model(runtime, org_id=org_id, model_id=command.model_id)
    archive = await repo.get_artifact(
        runtime.db, org_id=org_id, model_id=row.id, name=POSTERIOR_ARTIFACT
    )
    if archive is None:
        raise NotFoundError("model")
    plan = await asyncio.to_thread(_optimize, row, archive.content, command)
    return row, plan


def fitted(row: repo.ModelRow[AnalyzeRequest], posterior: bytes) -> FitResult:
    """A stored model's posterior as the engine's fit (no per-period draws but the baseline)."""
    nothing = Interval(mean=math.nan, median=math.nan, lower=math.nan, upper=math.nan)
    roas = tuple(
        ChannelRoas(
            channel=c.channel,
            mean=(c.roas or nothing).mean,
            median=(c.roas or nothing).median,
            lower=(c.roas or nothing).lower,
            upper=(c.roas or nothing).upper,
            incremental_kpi=c.incremental_kpi.mean,
        )
        for c in row.result.analysis.channels
    )
    return load_posterior(posterior, spec=row.spec, roas=roas, diagnostics=row.result.diagnostics)


async def load_fitted(
    db: Database, *, org_id: uuid.UUID, model_id: uuid.UUID
) -> tuple[repo.ModelRow[AnalyzeRequest], FitResult]:
    """The org's model and its posterior; :class:`NotFoundError` when either is missing."""
    row = await repo.get_model(db, org_id=org_id, model_id=model_id, request_type=AnalyzeRequest)
    if row is None:
        raise NotFoundError("model", field="model_id")
    archive = await repo.get_artifact(db, org_id=org_id, model_id=row.id, name=POSTERIOR_ARTIFACT)
    if archive is None:
        raise NotFoundError("model", field="model_id")
    return row, await asyncio.to_thread(fitted, row, archive.content)


def _optimize(
    row: repo.ModelRow[AnalyzeRequest], posterior: bytes, command: OptimizeRequest
) -> BudgetPlan:
    if row.result.data.geos:
        raise DataError(
            "model_id",
            "budget optimisation works on a national model; this one was fitted per geo "
            "(fit the dataset without geo_hierarchy to optimise its national budget)",
        )
    fit = fitted(row, posterior)
    return optimize_budget(
        fit,
        total_budget=command.total_budget,
        horizon_periods=command.horizon_periods,
        bounds={
            name: (b.min, b.max if b.max is not None else command.total_budget)
            for name, b in command.bounds.items()
        }
        or None,
        locked=command.locked or None,
        current=command.current,
        risk_quantile=command.risk_quantile,
    )

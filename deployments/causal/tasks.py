"""Fits run off the request path: one Ray task per analysis job.

The replica that accepts a request stores the job (``queued``) and submits
:func:`run_analysis_job`; the task marks it ``running``, reports progress to PostgreSQL while
NUTS samples, and stores the model and its artifacts together with ``succeeded`` in one
transaction. Bad data fails the job with the message the API would have given; a crashed worker
is retried by Ray (``causal_fit_retries``), and the attempt count is visible on the job.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
import traceback
import uuid
from typing import Any

import ray

from cluster import telemetry
from cluster.repositories import causal as repo
from cluster.repositories import jobs
from cluster.settings import Settings, get_settings
from cluster.state import Database
from deployments.causal.pipeline import run_analysis
from deployments.causal.schemas import AnalyzeRequest
from deployments.common.job_tasks import watch
from deployments.common.runtime import Runtime
from engine.causal.data import DataError
from engine.causal.inference import cores_for

log = logging.getLogger(__name__)

# Progress is written at most this often: NUTS reports far more often than anyone polls.
PROGRESS_INTERVAL_SECONDS = 0.5


# Parts of a request that do not change what is fitted.
_NOT_FITTED = frozenset({"dataset_id", "wait_seconds"})


def fingerprint(content_sha256: str, request: dict[str, Any]) -> str:
    """What a fit depends on: the dataset's content and the request, less what does not change
    the fit (which dataset row holds the content, how long the caller waits)."""
    canonical = json.dumps(
        {k: v for k, v in request.items() if k not in _NOT_FITTED}, sort_keys=True, default=str
    )
    return hashlib.sha256(f"{content_sha256}\n{canonical}".encode()).hexdigest()


def task_options(settings: Settings) -> dict[str, Any]:
    return {
        "num_cpus": settings.causal_fit_num_cpus,
        "max_retries": settings.causal_fit_retries,
    }


@ray.remote  # type: ignore[untyped-decorator]  # ray ships no stubs
def run_analysis_job(org_id: str, job_id: str, trace: dict[str, str] | None = None) -> str | None:
    """Run one queued job to its end; returns the model id (``None`` if it failed)."""
    settings = get_settings()
    attributes = {"liftos.org_id": org_id, "liftos.job_id": job_id}
    try:
        with telemetry.continue_trace(
            "causal.fit", trace, attributes=attributes, settings=settings
        ):
            return asyncio.run(execute_job(settings, uuid.UUID(org_id), uuid.UUID(job_id)))
    finally:
        telemetry.flush()


async def execute_job(settings: Settings, org_id: uuid.UUID, job_id: uuid.UUID) -> str | None:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set in the fit worker")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    try:
        return await _execute(db, settings, org_id, job_id)
    finally:
        await db.close()


async def _execute(
    db: Database, settings: Settings, org_id: uuid.UUID, job_id: uuid.UUID
) -> str | None:
    job = await repo.start_job(db, org_id=org_id, job_id=job_id, request_type=AnalyzeRequest)
    if job is None:
        return None  # finished meanwhile (or deleted): nothing to do
    if job.dataset_id is None:
        await repo.fail_job(db, org_id=org_id, job_id=job_id, error="the dataset was deleted")
        return None
    found = await repo.get_dataset_content(db, org_id=org_id, dataset_id=job.dataset_id)
    if found is None:
        await repo.fail_job(db, org_id=org_id, job_id=job_id, error="the dataset was deleted")
        return None
    dataset, content = found
    request = job.request

    loop = asyncio.get_running_loop()
    last_report = [0.0]
    lock = threading.Lock()

    def progress(stage: str, fraction: float) -> None:
        # Called from the fitting thread: hand the write to the event loop, at a bounded rate.
        now = time.monotonic()
        with lock:
            if now - last_report[0] < PROGRESS_INTERVAL_SECONDS and fraction < 1:
                return
            last_report[0] = now
        asyncio.run_coroutine_threadsafe(
            repo.report_progress(
                db, org_id=org_id, job_id=job_id, stage=stage, progress=min(fraction, 0.99)
            ),
            loop,
        )

    searcher = None
    if request.search is not None:
        from deployments.causal.tuning import RayTuneSearcher

        searcher = RayTuneSearcher(trial_num_cpus=settings.causal_trial_num_cpus)
    started = time.monotonic()
    try:
        outcome = await asyncio.to_thread(
            run_analysis,
            content,
            request,
            progress=progress,
            searcher=searcher,
            title=f"Marketing-mix model: {dataset.name}",
            # As many chains at once as the task holds CPUs (LIFTOS_CAUSAL_FIT_NUM_CPUS).
            parallel_chains=cores_for(settings.causal_fit_num_cpus),
        )
    except DataError as exc:
        await repo.fail_job(db, org_id=org_id, job_id=job_id, error=str(exc))
        return None
    except Exception as exc:
        log.exception("analysis job %s failed", job_id)
        detail = "".join(traceback.format_exception_only(exc)).strip()
        await repo.fail_job(db, org_id=org_id, job_id=job_id, error=f"internal error: {detail}")
        return None
    model_id = await repo.complete_job(
        db,
        org_id=org_id,
        job_id=job_id,
        dataset_id=job.dataset_id,
        fingerprint=job.fingerprint,
        request=job.request,
        spec=outcome.spec,
        result=outcome.result,
        artifacts=outcome.artifacts,
        # What the task held while it fitted: its CPUs for the fit's wall time.
        cpu_seconds=(time.monotonic() - started) * settings.causal_fit_num_cpus,
    )
    return str(model_id)


class RayJobRunner:
    """One Ray task per job; if Ray gives up on it (retries exhausted) the job is failed."""

    def submit(
        self, runtime: Runtime, *, org_id: uuid.UUID, job_id: uuid.UUID
    ) -> asyncio.Task[None]:
        ref = run_analysis_job.options(**task_options(runtime.settings)).remote(
            str(org_id), str(job_id), telemetry.trace_carrier()
        )

        return watch(
            runtime,
            ref,
            table=jobs.CAUSAL_JOBS,
            org_id=org_id,
            job_id=job_id,
            what=f"analysis job {job_id}",
        )

"""Audits run off the request path: one Ray task per audit, driving a Ray Data pipeline.

The replica that accepts ``POST /audits`` stores the audit (``queued``) and submits
:func:`run_audit_task`; the task marks it ``running``, reports the stage and the products done
to PostgreSQL as the pipeline goes, and stores every product's result, the summary and
``succeeded`` in one transaction. A worker that dies is retried by Ray
(``surfacing_audit_retries``): the attempt starts over and replaces any partial result. The
summary is also stored as a ``catalog_audit`` memory so other modules can recall it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
import traceback
import uuid
from typing import Any

import numpy as np
import ray

from cluster import telemetry
from cluster.repositories import jobs
from cluster.repositories import surfacing as repo
from cluster.settings import Settings, get_settings
from cluster.state import Database
from deployments.common.job_tasks import watch
from deployments.common.runtime import Runtime
from deployments.surfacing.memory import remember_audit
from deployments.surfacing.pipeline import AuditInput, run_audit
from deployments.surfacing.service import VECTORS_ARTIFACT
from engine.surfacing.intents import MerchantQuery
from engine.surfacing.results import AuditSummary

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 0.5


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def task_options(settings: Settings) -> dict[str, Any]:
    return {
        "num_cpus": settings.surfacing_audit_num_cpus,
        "max_retries": settings.surfacing_audit_retries,
    }


@ray.remote  # type: ignore[untyped-decorator]  # ray ships no stubs
def run_audit_task(org_id: str, audit_id: str, trace: dict[str, str] | None = None) -> bool:
    """Run one queued audit to its end; True when it succeeded."""
    settings = get_settings()
    attributes = {"liftos.org_id": org_id, "liftos.audit_id": audit_id}
    try:
        with telemetry.continue_trace(
            "surfacing.audit", trace, attributes=attributes, settings=settings
        ):
            return asyncio.run(execute_audit(settings, uuid.UUID(org_id), uuid.UUID(audit_id)))
    finally:
        telemetry.flush()


async def execute_audit(settings: Settings, org_id: uuid.UUID, audit_id: uuid.UUID) -> bool:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set in the audit worker")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    try:
        return await _execute(db, settings, org_id, audit_id)
    finally:
        await db.close()


async def _execute(
    db: Database, settings: Settings, org_id: uuid.UUID, audit_id: uuid.UUID
) -> bool:
    audit = await repo.get_audit(db, org_id=org_id, audit_id=audit_id, summary_type=AuditSummary)
    if audit is None or not await repo.start_audit(db, org_id=org_id, audit_id=audit_id):
        return False  # finished meanwhile, or deleted
    if audit.catalog_id is None:
        await repo.fail_audit(db, org_id=org_id, audit_id=audit_id, error="the catalog was deleted")
        return False
    products = await repo.list_products(db, org_id=org_id, catalog_id=audit.catalog_id)
    queries = await repo.list_queries(db, org_id=org_id, catalog_id=audit.catalog_id)
    if not products:
        await repo.fail_audit(db, org_id=org_id, audit_id=audit_id, error="the catalog was deleted")
        return False

    loop = asyncio.get_running_loop()
    last_report = [0.0]
    lock = threading.Lock()

    def progress(stage: str, done: int, fraction: float) -> None:
        # Called from the pipeline's thread: hand the write to the event loop, rate-bounded.
        now = time.monotonic()
        with lock:
            if now - last_report[0] < PROGRESS_INTERVAL_SECONDS and fraction < 1:
                return
            last_report[0] = now
        asyncio.run_coroutine_threadsafe(
            repo.report_audit_progress(
                db,
                org_id=org_id,
                audit_id=audit_id,
                stage=stage,
                progress=min(fraction, 0.99),
                products_done=done,
            ),
            loop,
        )

    work = AuditInput(
        products=tuple(products),
        merchant_queries=tuple(
            MerchantQuery(
                text=q.text, relevant=frozenset(q.relevant) if q.relevant is not None else None
            )
            for q in queries
        ),
        embedder=settings.memory_embedder,
        competitive_set=audit.competitive_set,  # type: ignore[arg-type]  # CHECK constraint
    )
    try:
        outcome = await asyncio.to_thread(run_audit, work, progress=progress)
    except Exception as exc:
        log.exception("audit %s failed", audit_id)
        detail = "".join(traceback.format_exception_only(exc)).strip()
        await repo.fail_audit(
            db, org_id=org_id, audit_id=audit_id, error=f"internal error: {detail}"
        )
        return False
    await repo.complete_audit(
        db,
        org_id=org_id,
        audit_id=audit_id,
        summary=outcome.summary,
        products=[
            repo.AuditProductRow(
                product_id=p.product_id,
                position=position,
                invisible=p.invisible,
                hard_fail=p.hard_fail,
                score=p.score,
                expected_gain=p.expected_gain,
                result=p,
            )
            for position, p in enumerate(outcome.products)
        ],
        artifacts={VECTORS_ARTIFACT: ("application/x-npy", _npy(outcome.vectors))},
    )
    try:
        await remember_audit(
            settings,
            db,
            org_id=org_id,
            audit_id=audit_id,
            catalog_id=audit.catalog_id,
            summary=outcome.summary,
        )
    except Exception:
        # The audit is stored and answered; the memory is a convenience for other modules.
        log.exception("audit %s: storing its catalog_audit memory failed", audit_id)
    return True


class RayAuditRunner:
    """One Ray task per audit; if Ray gives up on it (retries exhausted) the audit is failed."""

    def submit(
        self, runtime: Runtime, *, org_id: uuid.UUID, audit_id: uuid.UUID
    ) -> asyncio.Task[None]:
        ref = run_audit_task.options(**task_options(runtime.settings)).remote(
            str(org_id), str(audit_id), telemetry.trace_carrier()
        )

        return watch(
            runtime,
            ref,
            table=jobs.SURFACING_AUDITS,
            org_id=org_id,
            job_id=audit_id,
            what=f"audit {audit_id}",
        )

"""The Ray task behind a job row, watched from the replica that started it: if Ray gives up
on the task (its worker died and the retries ran out) the row is failed with the reason, so
no job stays "running" for ever. The task itself records any failure it can see."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import ray

from cluster import metrics
from cluster.repositories import jobs
from deployments.common.runtime import Runtime

log = logging.getLogger(__name__)


def watch(
    runtime: Runtime,
    ref: ray.ObjectRef,
    *,
    table: jobs.JobTable,
    org_id: uuid.UUID,
    job_id: uuid.UUID,
    what: str,
) -> asyncio.Task[None]:
    started = time.monotonic()
    metrics.jobs.started(table.name)

    async def watching() -> None:
        outcome = "lost"
        try:
            await ref
            outcome = "ended"  # succeeded or failed: the row says which
        except Exception as exc:
            log.exception("%s lost", what)
            await jobs.fail(
                runtime.db, table, org_id=org_id, job_id=job_id, error=f"worker lost: {exc}"
            )
        finally:
            metrics.jobs.finished(table.name, outcome=outcome, seconds=time.monotonic() - started)

    return runtime.spawn(watching(), what=what)

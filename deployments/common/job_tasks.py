"""The Ray task behind a job row, watched from the replica that started it: if Ray gives up
on the task (its worker died and the retries ran out) the row is failed with the reason, so
no job stays "running" for ever. The task itself records any failure it can see.

A job whose whole cluster went away (``liftos down`` while it ran, a lost head) has nobody to
watch it. Each submission records the Ray session it went to, and when a module's replica
starts in a new session it submits that module's lost jobs again (:func:`resubmit_lost`)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

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
            await jobs.record_session(
                runtime.db, table, org_id=org_id, job_id=job_id, session=current_session()
            )
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


# A job row is written just before its task is submitted and its session recorded; a job
# younger than this may still be on that way, and is left alone so it is never submitted twice.
LOST_AFTER_SECONDS = 60.0
RECOVERY_KEY = "liftos:jobs:resubmitted:{table}:{session}"


def current_session() -> str:
    """The Ray cluster session this process belongs to (new with every cluster start)."""
    session: str = ray.get_runtime_context().get_session_name()
    return session


async def resubmit_lost(
    runtime: Runtime,
    table: jobs.JobTable,
    submit: Callable[[uuid.UUID, uuid.UUID], Awaitable[None]],
) -> int:
    """Submit again, once per cluster session (the first replica of the module to start
    takes it), every job of ``table`` whose task went away with an earlier cluster; returns
    how many. ``submit(org_id, job_id)`` hands the job to the module's runner and returns
    without waiting for the job."""
    session = current_session()
    claimed = await runtime.redis.set(
        RECOVERY_KEY.format(table=table.name, session=session), "1", nx=True, ex=24 * 3600
    )
    if not claimed:
        return 0
    found = await jobs.lost(
        runtime.db, table, session=session, older_than_seconds=LOST_AFTER_SECONDS
    )
    for org_id, job_id in found:
        log.info("submitting %s %s again: its cluster session ended", table.name, job_id)
        await submit(org_id, job_id)
    return len(found)

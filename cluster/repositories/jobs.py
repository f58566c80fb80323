"""The lifecycle every long-running job row shares (an MMM fit, a catalog audit): queued ->
running (one more attempt) -> succeeded | failed, progress with a heartbeat while it runs,
and a failed job put back in the queue by a retrying backfill. Each module's repository keeps
its own typed functions and its own completion (what a job produces differs); the state
changes are written once, here.

The table name is never taken from input: :class:`JobTable` values are the module constants
below, and the name is checked against them before it reaches SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cluster.state import Database


@dataclass(frozen=True)
class JobTable:
    name: str
    # Progress counters beside ``progress`` (e.g. products done), reset on every attempt.
    counters: tuple[str, ...] = ()


CAUSAL_JOBS = JobTable("causal_jobs")
SURFACING_AUDITS = JobTable("surfacing_audits", counters=("products_done",))
EVAL_RUNS = JobTable("eval_runs")
_TABLES = {t.name: t for t in (CAUSAL_JOBS, SURFACING_AUDITS, EVAL_RUNS)}


def _checked(table: JobTable) -> JobTable:
    if _TABLES.get(table.name) != table:
        raise ValueError(f"not a job table: {table.name!r}")
    return table


def _changed(status: str) -> bool:
    return status.endswith(" 1")  # asyncpg's command tag, "UPDATE 1"


async def start(db: Database, table: JobTable, *, org_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    """Mark a job running for one more attempt; False if it is gone or already finished."""
    table = _checked(table)
    resets = "".join(f"{c} = 0, " for c in table.counters)
    async with db.tenant(org_id) as conn:
        status = await conn.execute(
            f"UPDATE {table.name} SET status = 'running', stage = 'starting', progress = 0, "
            f"{resets}attempts = attempts + 1, started_at = coalesce(started_at, now()), "
            "heartbeat_at = now(), error = NULL "
            "WHERE id = $1 AND status IN ('queued', 'running')",
            job_id,
        )
    return _changed(status)


async def report_progress(
    db: Database,
    table: JobTable,
    *,
    org_id: uuid.UUID,
    job_id: uuid.UUID,
    stage: str,
    progress: float,
    counters: Mapping[str, int] | None = None,
) -> None:
    """Stage, progress (clamped to [0, 1]) and heartbeat of a running job."""
    table = _checked(table)
    values = dict(counters or {})
    if not set(values) <= set(table.counters):
        raise ValueError(
            f"{table.name} has no counters {sorted(set(values) - set(table.counters))}"
        )
    names = list(values)
    sets = "".join(f", {name} = ${i}" for i, name in enumerate(names, start=4))
    async with db.tenant(org_id) as conn:
        await conn.execute(
            f"UPDATE {table.name} SET stage = $2, progress = greatest(0, least(1, $3)), "
            f"heartbeat_at = now(){sets} WHERE id = $1 AND status = 'running'",
            job_id,
            stage[:100],
            progress,
            *(values[name] for name in names),
        )


async def fail(
    db: Database, table: JobTable, *, org_id: uuid.UUID, job_id: uuid.UUID, error: str
) -> None:
    """Record a job's failure; a job already finished keeps its outcome (and the first
    failure's message stays when a second report comes, e.g. a lost worker after the task's
    own failure)."""
    table = _checked(table)
    async with db.tenant(org_id) as conn:
        await conn.execute(
            f"UPDATE {table.name} SET status = 'failed', stage = 'failed', error = $2, "
            "finished_at = now() WHERE id = $1 AND status IN ('queued', 'running')",
            job_id,
            error[:4000],
        )


async def requeue(db: Database, table: JobTable, *, org_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    """Put a failed job back in the queue for another attempt; its attempts count on."""
    table = _checked(table)
    async with db.tenant(org_id) as conn:
        status = await conn.execute(
            f"UPDATE {table.name} SET status = 'queued', stage = 'queued', progress = 0, "
            "error = NULL, finished_at = NULL WHERE id = $1 AND status = 'failed'",
            job_id,
        )
    return _changed(status)


async def record_session(
    db: Database, table: JobTable, *, org_id: uuid.UUID, job_id: uuid.UUID, session: str
) -> None:
    """The Ray cluster session the job's task was just submitted to."""
    table = _checked(table)
    async with db.tenant(org_id) as conn:
        await conn.execute(
            f"UPDATE {table.name} SET ray_session = $2 WHERE id = $1", job_id, session
        )


async def lost(
    db: Database, table: JobTable, *, session: str, older_than_seconds: float
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(org, job) of every unfinished job, in any org, that was submitted to another cluster
    session than ``session`` (or never recorded one) and is older than ``older_than_seconds``."""
    table = _checked(table)
    async with db.unscoped() as conn:
        rows = await conn.fetch(
            "SELECT * FROM liftos.lost_jobs($1, $2, now() - make_interval(secs => $3))",
            table.name,
            session,
            older_than_seconds,
        )
    return [(r["org_id"], r["id"]) for r in rows]

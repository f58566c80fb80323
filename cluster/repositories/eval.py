"""Storage of the eval module: versioned suites, runs (jobs), case results, sandbox episodes.

Every function takes the tenant explicitly and runs inside ``Database.tenant``; another org's
row is simply not found. A run's request and summary are stored as JSON and read back
validated into the types the caller names (``request_type``, ``summary_type``). Case results
are written as they finish (a retried run skips the cases it already has), so a run that
fails halfway keeps what it did.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import asyncpg
from pydantic import BaseModel, TypeAdapter

from cluster.repositories import jobs
from cluster.repositories.surfacing import plain
from cluster.state import Database
from engine.eval.assertions import AssertionResult

RequestT = TypeVar("RequestT", bound=BaseModel)
SummaryT = TypeVar("SummaryT")

_ASSERTIONS = TypeAdapter(tuple[AssertionResult, ...])


# --- suites -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteRow:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    version: int
    kind: str
    description: str
    spec: Mapping[str, Any]  # the suite document as parsed (engine.eval.suites.parse_suite)
    source: str  # the text as sent (YAML or JSON)
    created_by: uuid.UUID
    created_at: datetime


_SUITE_COLUMNS = (
    "id, org_id, name, version, kind, description, spec, source, created_by, created_at"
)


async def create_suite(
    db: Database,
    *,
    org_id: uuid.UUID,
    name: str,
    kind: str,
    description: str,
    spec: Mapping[str, Any],
    source: str,
    created_by: uuid.UUID,
) -> SuiteRow:
    """The next version of the suite ``name`` (1 for a new one); versions never change."""
    for _ in range(3):  # two writers racing for the same next version: the loser retries
        try:
            async with db.tenant(org_id) as conn:
                row = await conn.fetchrow(
                    "INSERT INTO eval_suites (id, org_id, name, version, kind, description, spec, "
                    "source, created_by) SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, "
                    "$5, $6, $7, $8 FROM eval_suites WHERE org_id = $2 AND name = $3 "
                    f"RETURNING {_SUITE_COLUMNS}",
                    uuid.uuid4(),
                    org_id,
                    name,
                    kind,
                    description,
                    dict(spec),
                    source,
                    created_by,
                )
            return SuiteRow(**dict(row))
        except asyncpg.UniqueViolationError:
            continue
    raise RuntimeError(f"could not store a new version of suite {name!r}")


async def get_suite(
    db: Database, *, org_id: uuid.UUID, name: str, version: int | None = None
) -> SuiteRow | None:
    """The given version of the org's suite, or its latest."""
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_SUITE_COLUMNS} FROM eval_suites WHERE name = $1 "
            "AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
            name,
            version,
        )
    return SuiteRow(**dict(row)) if row else None


async def list_suites(
    db: Database, *, org_id: uuid.UUID, name: str | None = None, limit: int = 100, offset: int = 0
) -> list[SuiteRow]:
    """Every version of one suite (newest first), or the latest version of each suite."""
    async with db.tenant(org_id) as conn:
        if name is not None:
            rows = await conn.fetch(
                f"SELECT {_SUITE_COLUMNS} FROM eval_suites WHERE name = $1 "
                "ORDER BY version DESC LIMIT $2 OFFSET $3",
                name,
                limit,
                offset,
            )
        else:
            rows = await conn.fetch(
                f"SELECT DISTINCT ON (name) {_SUITE_COLUMNS} FROM eval_suites "
                "ORDER BY name, version DESC LIMIT $1 OFFSET $2",
                limit,
                offset,
            )
    return [SuiteRow(**dict(r)) for r in rows]


# --- runs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRow(Generic[RequestT, SummaryT]):
    id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    suite_name: str | None
    suite_version: int | None
    request: RequestT
    status: str
    stage: str
    progress: float
    cases_total: int
    cases_done: int
    attempts: int
    error: str | None
    summary: SummaryT | None
    has_report: bool
    created_by: uuid.UUID
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None


_RUN_COLUMNS = (
    "id, org_id, kind, suite_name, suite_version, request, status, stage, progress, "
    "cases_total, cases_done, attempts, error, summary, report IS NOT NULL AS has_report, "
    "created_by, created_at, started_at, heartbeat_at, finished_at"
)


def _run_row(
    row: Mapping[str, Any], request_type: type[RequestT], summary_type: type[SummaryT]
) -> RunRow[RequestT, SummaryT]:
    values = dict(row)
    values["request"] = request_type.model_validate(values["request"])
    if values["summary"] is not None:
        values["summary"] = TypeAdapter(summary_type).validate_python(values["summary"])
    return RunRow(**values)


async def create_run(
    db: Database,
    *,
    org_id: uuid.UUID,
    kind: str,
    request: BaseModel,
    cases_total: int,
    created_by: uuid.UUID,
    summary_type: type[SummaryT],
    suite_name: str | None = None,
    suite_version: int | None = None,
) -> RunRow[Any, SummaryT]:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "INSERT INTO eval_runs (id, org_id, kind, suite_name, suite_version, request, "
            f"cases_total, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            f"RETURNING {_RUN_COLUMNS}",
            uuid.uuid4(),
            org_id,
            kind,
            suite_name,
            suite_version,
            json.loads(request.model_dump_json(by_alias=True)),
            cases_total,
            created_by,
        )
    return _run_row(row, type(request), summary_type)


async def get_run(
    db: Database,
    *,
    org_id: uuid.UUID,
    run_id: uuid.UUID,
    request_type: type[RequestT],
    summary_type: type[SummaryT],
) -> RunRow[RequestT, SummaryT] | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE id = $1", run_id)
    return _run_row(row, request_type, summary_type) if row else None


async def run_kind(db: Database, *, org_id: uuid.UUID, run_id: uuid.UUID) -> str | None:
    async with db.tenant(org_id) as conn:
        kind: str | None = await conn.fetchval("SELECT kind FROM eval_runs WHERE id = $1", run_id)
    return kind


@dataclass(frozen=True)
class RunListing:
    id: uuid.UUID
    kind: str
    suite_name: str | None
    suite_version: int | None
    status: str
    progress: float
    cases_total: int
    cases_done: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


async def list_runs(
    db: Database, *, org_id: uuid.UUID, kind: str | None = None, limit: int = 50, offset: int = 0
) -> list[RunListing]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT id, kind, suite_name, suite_version, status, progress, cases_total, "
            "cases_done, error, created_at, finished_at FROM eval_runs "
            "WHERE $1::text IS NULL OR kind = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
            kind,
            limit,
            offset,
        )
    return [RunListing(**dict(r)) for r in rows]


async def start_run(db: Database, *, org_id: uuid.UUID, run_id: uuid.UUID) -> bool:
    return await jobs.start(db, jobs.EVAL_RUNS, org_id=org_id, job_id=run_id)


async def report_progress(
    db: Database, *, org_id: uuid.UUID, run_id: uuid.UUID, stage: str, progress: float
) -> None:
    await jobs.report_progress(
        db, jobs.EVAL_RUNS, org_id=org_id, job_id=run_id, stage=stage, progress=progress
    )


async def fail_run(db: Database, *, org_id: uuid.UUID, run_id: uuid.UUID, error: str) -> None:
    await jobs.fail(db, jobs.EVAL_RUNS, org_id=org_id, job_id=run_id, error=error)


async def complete_run(
    db: Database,
    *,
    org_id: uuid.UUID,
    run_id: uuid.UUID,
    summary: object,
    report: str | None = None,
) -> bool:
    async with db.tenant(org_id) as conn:
        # Recounted here: each provider's worker counts the results when it writes a batch,
        # and two batches committing at once can each miss the other's rows.
        status = await conn.execute(
            "UPDATE eval_runs SET status = 'succeeded', stage = 'done', progress = 1, "
            "cases_done = (SELECT count(*) FROM eval_results WHERE run_id = $1), "
            "summary = $2, report = $3, finished_at = now() "
            "WHERE id = $1 AND status = 'running'",
            run_id,
            plain(summary),
            report,
        )
    return str(status).endswith(" 1")


async def get_report(db: Database, *, org_id: uuid.UUID, run_id: uuid.UUID) -> str | None:
    async with db.tenant(org_id) as conn:
        report: str | None = await conn.fetchval(
            "SELECT report FROM eval_runs WHERE id = $1", run_id
        )
    return report


# --- case results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    model: str
    case_index: int
    description: str
    cluster: str
    prompt_template: str
    prompt_version: int | None
    seed: int | None
    variables: Mapping[str, Any]
    output: str
    error: str | None
    checks: Mapping[str, bool]
    scores: Mapping[str, float]
    assertions: tuple[AssertionResult, ...]
    generation_id: uuid.UUID | None
    provider_model: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latency_ms: float | None


_RESULT_COLUMNS = (
    "model, case_index, description, cluster, prompt_template, prompt_version, seed, variables, "
    "output, error, checks, scores, assertions, generation_id, provider_model, input_tokens, "
    "output_tokens, cost_usd, latency_ms"
)


def _result_row(row: Mapping[str, Any]) -> ResultRow:
    values = dict(row)
    values["assertions"] = _ASSERTIONS.validate_python(values["assertions"])
    return ResultRow(**values)


async def add_results(
    db: Database, *, org_id: uuid.UUID, run_id: uuid.UUID, results: Sequence[ResultRow]
) -> int:
    """Store finished cases (a case stored before is replaced) and move the run's progress;
    returns how many cases the run now has."""
    async with db.tenant(org_id) as conn:
        for r in results:
            await conn.execute(
                f"INSERT INTO eval_results (run_id, org_id, {_RESULT_COLUMNS}) VALUES ($1, $2, "
                "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "
                "$20, $21) ON CONFLICT (run_id, model, case_index) DO UPDATE SET "
                "output = EXCLUDED.output, error = EXCLUDED.error, checks = EXCLUDED.checks, "
                "scores = EXCLUDED.scores, assertions = EXCLUDED.assertions, "
                "generation_id = EXCLUDED.generation_id, latency_ms = EXCLUDED.latency_ms, "
                "cost_usd = EXCLUDED.cost_usd, input_tokens = EXCLUDED.input_tokens, "
                "output_tokens = EXCLUDED.output_tokens, created_at = now()",
                run_id,
                org_id,
                r.model,
                r.case_index,
                r.description,
                r.cluster,
                r.prompt_template,
                r.prompt_version,
                r.seed,
                plain(r.variables),
                r.output,
                r.error,
                dict(r.checks),
                plain(r.scores),
                plain(r.assertions),
                r.generation_id,
                r.provider_model,
                r.input_tokens,
                r.output_tokens,
                r.cost_usd,
                r.latency_ms,
            )
        done: int = await conn.fetchval(
            "UPDATE eval_runs SET cases_done = (SELECT count(*) FROM eval_results "
            "WHERE run_id = $1), heartbeat_at = now(), progress = least(0.99, "
            "(SELECT count(*) FROM eval_results WHERE run_id = $1)::float8 "
            "/ greatest(cases_total, 1)) WHERE id = $1 RETURNING cases_done",
            run_id,
        )
    return done


async def done_cases(db: Database, *, org_id: uuid.UUID, run_id: uuid.UUID) -> set[tuple[str, int]]:
    """(model, case) pairs the run already has a successful result for."""
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT model, case_index FROM eval_results WHERE run_id = $1 AND error IS NULL",
            run_id,
        )
    return {(r["model"], r["case_index"]) for r in rows}


async def list_results(
    db: Database,
    *,
    org_id: uuid.UUID,
    run_id: uuid.UUID,
    model: str | None = None,
    failed_only: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[ResultRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            f"SELECT {_RESULT_COLUMNS} FROM eval_results WHERE run_id = $1 "
            "AND ($2::text IS NULL OR model = $2) "
            "AND (NOT $3 OR error IS NOT NULL "
            "OR EXISTS (SELECT 1 FROM jsonb_each(checks) c WHERE c.value = 'false'::jsonb)) "
            "ORDER BY model, case_index LIMIT $4 OFFSET $5",
            run_id,
            model,
            failed_only,
            limit,
            offset,
        )
    return [_result_row(r) for r in rows]


# --- sandbox episodes -------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodesRow:
    agent: str
    draws: tuple[int, ...]
    profit: tuple[float, ...]
    incremental_kpi: tuple[float, ...]
    spend: tuple[float, ...]
    attempted_over_budget: tuple[float, ...]
    violations: Mapping[str, tuple[int, ...]]


async def complete_sandbox_run(
    db: Database,
    *,
    org_id: uuid.UUID,
    run_id: uuid.UUID,
    episodes: Sequence[EpisodesRow],
    summary: object,
    report: str,
) -> bool:
    """Every agent's episodes, the summary and the report, with ``succeeded``, at once."""
    async with db.tenant(org_id) as conn:
        await conn.execute("DELETE FROM eval_sandbox_episodes WHERE run_id = $1", run_id)
        for e in episodes:
            await conn.execute(
                "INSERT INTO eval_sandbox_episodes (run_id, org_id, agent, draws, profit, "
                "incremental_kpi, spend, attempted_over_budget, violations) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                run_id,
                org_id,
                e.agent,
                list(e.draws),
                list(e.profit),
                list(e.incremental_kpi),
                list(e.spend),
                list(e.attempted_over_budget),
                {k: list(v) for k, v in e.violations.items()},
            )
        status = await conn.execute(
            "UPDATE eval_runs SET status = 'succeeded', stage = 'done', progress = 1, "
            "cases_done = cases_total, summary = $2, report = $3, finished_at = now() "
            "WHERE id = $1 AND status = 'running'",
            run_id,
            plain(summary),
            report,
        )
    return str(status).endswith(" 1")


async def get_episodes(
    db: Database, *, org_id: uuid.UUID, run_id: uuid.UUID
) -> dict[str, EpisodesRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT agent, draws, profit, incremental_kpi, spend, attempted_over_budget, "
            "violations FROM eval_sandbox_episodes WHERE run_id = $1",
            run_id,
        )
    return {
        r["agent"]: EpisodesRow(
            agent=r["agent"],
            draws=tuple(r["draws"]),
            profit=tuple(r["profit"]),
            incremental_kpi=tuple(r["incremental_kpi"]),
            spend=tuple(r["spend"]),
            attempted_over_budget=tuple(r["attempted_over_budget"]),
            violations={k: tuple(v) for k, v in r["violations"].items()},
        )
        for r in rows
    }


async def latest_sandbox_run_with(
    db: Database, *, org_id: uuid.UUID, agent: str
) -> uuid.UUID | None:
    """The newest succeeded sandbox run that played ``agent``."""
    async with db.tenant(org_id) as conn:
        found: uuid.UUID | None = await conn.fetchval(
            "SELECT r.id FROM eval_runs r JOIN eval_sandbox_episodes e ON e.run_id = r.id "
            "WHERE r.kind = 'sandbox' AND r.status = 'succeeded' AND e.agent = $1 "
            "ORDER BY r.created_at DESC LIMIT 1",
            agent,
        )
    return found

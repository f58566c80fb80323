"""Audit many catalogs on the cluster: a Ray Job.

    ray job submit --working-dir . -- python -m jobs.catalog_audit \\
        --org 6f1c... --org 0a9e... [--catalog ID ...] [--force] [--concurrency 4] [--retries 2]

For each org (tenant) given, every catalog (or the ones named) is audited. Catalogs are
immutable, so a catalog that already has a succeeded audit is skipped unless ``--force``: a
rerun picks up where a failed run stopped. Each audit is the API's own: visible at
``/api/v1/surfacing/audits`` with its stage and products done, and its results are stored like
any other. Failed audits are retried up to ``--retries`` times; the run ends with a table and
exits non-zero if any catalog still failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid

os.environ.setdefault("RAY_AUTH_MODE", "token")

import ray  # after the auth mode: Ray reads it at import

from cluster import telemetry
from cluster.repositories import surfacing as repo
from cluster.settings import Settings, get_settings
from cluster.state import Database
from deployments.surfacing.tasks import run_audit_task, task_options
from engine.surfacing.results import AuditSummary
from jobs.runner import Lifecycle, Work, drive, exit_code, print_table

PAGE = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--org", action="append", required=True, type=uuid.UUID, dest="orgs")
    parser.add_argument("--catalog", action="append", type=uuid.UUID, dest="catalogs")
    parser.add_argument("--force", action="store_true", help="audit even if audited before")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--retries", type=int, default=2)
    return parser.parse_args(argv)


async def plan(db: Database, args: argparse.Namespace) -> tuple[list[Work], list[Work]]:
    """Catalogs to audit, and catalogs already audited (skipped)."""
    wanted = set(args.catalogs or ())
    todo: list[Work] = []
    done: list[Work] = []
    for org_id in args.orgs:
        offset = 0
        while True:
            page = await repo.list_catalogs(db, org_id=org_id, limit=PAGE, offset=offset)
            for row in page:
                if wanted and row.id not in wanted:
                    continue
                item = Work(org_id, row.id, f"{row.name}, {row.product_count} products")
                audits = await repo.list_audits(
                    db, org_id=org_id, summary_type=AuditSummary, catalog_id=row.id
                )
                succeeded = next((a for a in audits if a.status == "succeeded"), None)
                if succeeded is not None and not args.force:
                    item.status, item.result = "skipped", str(succeeded.id)
                    done.append(item)
                    continue
                audit = await repo.create_audit(
                    db,
                    org_id=org_id,
                    catalog_id=row.id,
                    products_total=row.product_count,
                    created_by=uuid.UUID(int=0),
                    summary_type=AuditSummary,
                )
                item.job_id = audit.id
                todo.append(item)
            if len(page) < PAGE:
                break
            offset += PAGE
    return todo, done


async def run(args: argparse.Namespace, settings: Settings) -> list[Work]:
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (the cluster's environment provides it)")
    db = await Database.connect(settings.database_url, min_size=1, max_size=4)
    try:
        todo, done = await plan(db, args)
        print(f"{len(todo)} catalogs to audit, {len(done)} already audited", flush=True)
        await drive(
            todo, _lifecycle(db, settings), concurrency=args.concurrency, retries=args.retries
        )
        return done + todo
    finally:
        await db.close()


def _lifecycle(db: Database, settings: Settings) -> Lifecycle:
    options = task_options(settings)

    def ids(item: Work) -> dict[str, uuid.UUID]:
        assert item.job_id is not None
        return {"org_id": item.org_id, "audit_id": item.job_id}

    async def error(item: Work) -> str | None:
        audit = await repo.get_audit(db, **ids(item), summary_type=AuditSummary)
        return audit.error if audit else None

    return Lifecycle(
        submit=lambda item: run_audit_task.options(**options).remote(
            str(item.org_id), str(item.job_id), telemetry.trace_carrier()
        ),
        succeeded=lambda item, value: str(item.job_id) if value else None,
        fail=lambda item, message: repo.fail_audit(db, **ids(item), error=message),
        error=error,
        requeue=lambda item: repo.requeue_audit(db, **ids(item)),
        done_status="audited",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    ray.init(address=os.environ.get("RAY_ADDRESS") or settings.ray_address or "auto")
    # One trace for the whole job: every task it submits continues it.
    with telemetry.continue_trace("jobs.catalog_audit", None, settings=settings):
        items = asyncio.run(run(args, settings))
    telemetry.flush()
    print_table(items, target="catalog", result="audit")
    return exit_code(items)


if __name__ == "__main__":
    sys.exit(main())

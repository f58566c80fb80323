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
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "token")

import ray  # after the auth mode: Ray reads it at import

from cluster.repositories import surfacing as repo
from cluster.settings import Settings, get_settings
from cluster.state import Database
from deployments.surfacing.tasks import run_audit_task, task_options
from engine.surfacing.results import AuditSummary

PAGE = 500


@dataclass
class Item:
    org_id: uuid.UUID
    catalog_id: uuid.UUID
    name: str
    products: int
    audit_id: uuid.UUID | None = None
    status: str = "pending"
    attempts: int = 0
    error: str | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--org", action="append", required=True, type=uuid.UUID, dest="orgs")
    parser.add_argument("--catalog", action="append", type=uuid.UUID, dest="catalogs")
    parser.add_argument("--force", action="store_true", help="audit even if audited before")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--retries", type=int, default=2)
    return parser.parse_args(argv)


async def plan(db: Database, args: argparse.Namespace) -> tuple[list[Item], list[Item]]:
    """Catalogs to audit, and catalogs already audited (skipped)."""
    wanted = set(args.catalogs or ())
    todo: list[Item] = []
    done: list[Item] = []
    for org_id in args.orgs:
        offset = 0
        while True:
            page = await repo.list_catalogs(db, org_id=org_id, limit=PAGE, offset=offset)
            for row in page:
                if wanted and row.id not in wanted:
                    continue
                item = Item(org_id, row.id, row.name, row.product_count)
                audits = await repo.list_audits(
                    db, org_id=org_id, summary_type=AuditSummary, catalog_id=row.id
                )
                succeeded = next((a for a in audits if a.status == "succeeded"), None)
                if succeeded is not None and not args.force:
                    item.status, item.audit_id = "skipped", succeeded.id
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
                item.audit_id = audit.id
                todo.append(item)
            if len(page) < PAGE:
                break
            offset += PAGE
    return todo, done


async def run(args: argparse.Namespace, settings: Settings) -> list[Item]:
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (the cluster's environment provides it)")
    db = await Database.connect(settings.database_url, min_size=1, max_size=4)
    try:
        todo, done = await plan(db, args)
        print(f"{len(todo)} catalogs to audit, {len(done)} already audited", flush=True)
        options = task_options(settings)
        queue = list(todo)
        running: dict[Any, Item] = {}
        finished = 0
        while queue or running:
            while queue and len(running) < args.concurrency:
                item = queue.pop(0)
                item.attempts += 1
                item.status = "running"
                ref = run_audit_task.options(**options).remote(str(item.org_id), str(item.audit_id))
                running[ref] = item
            ready, _ = await asyncio.to_thread(ray.wait, list(running), num_returns=1, timeout=5.0)
            for ref in ready:
                item = running.pop(ref)
                assert item.audit_id is not None
                try:
                    succeeded = bool(ray.get(ref))
                except Exception as exc:  # the worker died and Ray's own retries ran out
                    succeeded, item.error = False, f"worker lost: {exc}"
                    await repo.fail_audit(
                        db, org_id=item.org_id, audit_id=item.audit_id, error=item.error
                    )
                if not succeeded:
                    audit = await repo.get_audit(
                        db, org_id=item.org_id, audit_id=item.audit_id, summary_type=AuditSummary
                    )
                    item.error = (audit.error if audit else None) or item.error or "failed"
                    if item.attempts <= args.retries and await repo.requeue_audit(
                        db, org_id=item.org_id, audit_id=item.audit_id
                    ):
                        item.status = "retrying"
                        queue.append(item)
                        continue
                    item.status = "failed"
                else:
                    item.status, item.error = "audited", None
                finished += 1
                print(
                    f"[{finished}/{len(todo)}] {item.status:7} {item.name} ({item.catalog_id}, "
                    f"{item.products} products)" + (f": {item.error}" if item.error else ""),
                    flush=True,
                )
        return done + todo
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    ray.init(address=os.environ.get("RAY_ADDRESS") or settings.ray_address or "auto")
    items = asyncio.run(run(args, settings))
    print(f"\n{'org':36}  {'catalog':36}  {'status':8}  {'tries':>5}  audit")
    for item in items:
        print(
            f"{item.org_id!s:36}  {item.catalog_id!s:36}  {item.status:8}  "
            f"{item.attempts:>5}  {item.audit_id or ''} {item.error or ''}"
        )
    return 1 if any(i.status == "failed" for i in items) else 0


if __name__ == "__main__":
    sys.exit(main())
